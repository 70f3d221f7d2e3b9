//! A process-wide pool of large compute buffers.
//!
//! Freeing a large `Vec` hands its pages back to the kernel, and the next
//! allocation of the same size faults them in again, one 4 KiB page at a time
//! (on this class of machine that costs PyTorch a large share of its
//! convolution time). Tensors therefore keep their storage in [`PooledVec`],
//! which returns its buffer here on drop, and the next request of a similar
//! size reuses it with its pages already mapped.
//!
//! Buffers under [`MIN_POOLED_BYTES`] bypass the pool (the allocator keeps
//! those mapped anyway). The pool holds at most [`pool_limit_bytes`] bytes;
//! beyond that, returned buffers are freed.
//!
//! A large buffer that cannot be allocated does not abort the process (as
//! Rust's global allocator does): the pool asks with `try_reserve_exact` and,
//! when refused, unwinds with an [`OutOfMemory`] payload, which the program's
//! entry point turns into a one-line error (`fresco` does).

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Buffers smaller than this are not pooled.
pub const MIN_POOLED_BYTES: usize = 256 * 1024;

static LIMIT_BYTES: AtomicUsize = AtomicUsize::new(1 << 30);
static HITS: AtomicUsize = AtomicUsize::new(0);
static MISSES: AtomicUsize = AtomicUsize::new(0);

/// Element types the pool can hold: plain numbers for which any initialised
/// bit pattern is a valid value.
pub trait Poolable: Copy + Default + Send + Sync + 'static {
    #[doc(hidden)]
    fn free_list() -> &'static Mutex<FreeList<Self>>;
}

/// The free buffers of one element type.
#[doc(hidden)]
pub struct FreeList<T> {
    buffers: Vec<Vec<T>>,
    bytes: usize,
}

macro_rules! poolable {
    ($($t:ty => $name:ident),*) => {$(
        static $name: Mutex<FreeList<$t>> = Mutex::new(FreeList { buffers: Vec::new(), bytes: 0 });
        impl Poolable for $t {
            fn free_list() -> &'static Mutex<FreeList<Self>> {
                &$name
            }
        }
    )*};
}

poolable!(f32 => F32_FREE, f64 => F64_FREE, u32 => U32_FREE);

/// The panic payload raised when a pooled buffer cannot be allocated: a
/// program catches it (`std::panic::catch_unwind`, then
/// `payload.downcast_ref::<OutOfMemory>()`) to report the failure as an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfMemory {
    /// The size of the refused allocation.
    pub bytes: usize,
}

impl std::fmt::Display for OutOfMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "out of memory: an allocation of {:.2} GiB was refused", self.bytes as f64 / (1u64 << 30) as f64)
    }
}

/// `len` zeros, or an unwind with [`OutOfMemory`] when the system refuses
/// the memory.
///
/// The memory comes zeroed from the allocator (`calloc`: a large block is a
/// fresh mapping whose pages the kernel zeroes as they are first touched, so
/// nothing is written here), and on Linux a block of at least
/// [`HUGE_PAGE_BYTES`] is marked for transparent huge pages (`madvise`), so
/// the first pass over it faults 2 MiB at a time instead of 4 KiB and later
/// passes miss the TLB less.
fn allocate<T: Poolable>(len: usize) -> Vec<T> {
    if len == 0 || size_of::<T>() == 0 {
        return Vec::new();
    }
    let refused = || -> ! { std::panic::panic_any(OutOfMemory { bytes: len.saturating_mul(size_of::<T>()) }) };
    let layout = std::alloc::Layout::array::<T>(len).unwrap_or_else(|_| refused());
    // SAFETY: the layout has a non-zero size (len > 0, T not zero-sized).
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
    if ptr.is_null() {
        refused();
    }
    advise_huge_pages(ptr, layout.size());
    // SAFETY: `ptr` was allocated by the global allocator with the layout of
    // `len` values of T (what `Vec` frees with), and every byte is zero,
    // which is a valid value of every `Poolable` type (0.0 or 0).
    unsafe { Vec::from_raw_parts(ptr.cast::<T>(), len, len) }
}

/// Blocks at least this large are marked for transparent huge pages.
pub const HUGE_PAGE_BYTES: usize = 2 << 20;

/// Asks Linux to back the whole 4 KiB pages of `ptr..ptr + bytes` with
/// transparent huge pages where it can (`MADV_HUGEPAGE`; a hint: the kernel
/// may decline, and then nothing changes).
fn advise_huge_pages(ptr: *mut u8, bytes: usize) {
    #[cfg(target_os = "linux")]
    if bytes >= HUGE_PAGE_BYTES {
        const PAGE: usize = 4096;
        let start = (ptr as usize).next_multiple_of(PAGE);
        let end = (ptr as usize + bytes) / PAGE * PAGE;
        if end > start {
            // SAFETY: the range lies inside one live allocation of ours and
            // is page-aligned; MADV_HUGEPAGE changes no contents.
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (ptr, bytes);
}

/// A `Vec` whose buffer goes back to the pool when dropped.
#[derive(Debug)]
pub struct PooledVec<T: Poolable> {
    vec: Vec<T>,
}

impl<T: Poolable> PooledVec<T> {
    /// A buffer of `len` elements with unspecified (but initialised) contents:
    /// leftovers of an earlier use, or zeros.
    pub fn uninit_contents(len: usize) -> Self {
        let bytes =
            len.checked_mul(size_of::<T>()).unwrap_or_else(|| std::panic::panic_any(OutOfMemory { bytes: usize::MAX }));
        if bytes < MIN_POOLED_BYTES {
            return PooledVec { vec: vec![T::default(); len] };
        }
        let reused = {
            let mut list = T::free_list().lock().unwrap_or_else(|e| e.into_inner());
            // Best fit among buffers no more than twice as large as needed.
            let pick = list
                .buffers
                .iter()
                .enumerate()
                .filter(|(_, b)| b.capacity() >= len && b.capacity() <= 2 * len)
                .min_by_key(|(_, b)| b.capacity())
                .map(|(i, _)| i);
            pick.map(|i| {
                let buffer = list.buffers.swap_remove(i);
                list.bytes -= buffer.capacity() * size_of::<T>();
                buffer
            })
        };
        match reused {
            Some(mut vec) => {
                HITS.fetch_add(1, Ordering::Relaxed);
                if vec.len() >= len {
                    vec.truncate(len);
                } else {
                    vec.resize(len, T::default());
                }
                PooledVec { vec }
            }
            None => {
                MISSES.fetch_add(1, Ordering::Relaxed);
                PooledVec { vec: allocate(len) }
            }
        }
    }

    /// A buffer of `len` copies of `value`.
    pub fn filled(len: usize, value: T) -> Self {
        let mut buffer = Self::uninit_contents(len);
        buffer.vec.fill(value);
        buffer
    }

    /// Adopts an existing vector (it joins the pool when dropped).
    pub fn from_vec(vec: Vec<T>) -> Self {
        PooledVec { vec }
    }

    /// Takes the vector out, leaving the pool out of it.
    pub fn into_vec(mut self) -> Vec<T> {
        std::mem::take(&mut self.vec)
    }
}

impl<T: Poolable> Clone for PooledVec<T> {
    fn clone(&self) -> Self {
        let mut copy = Self::uninit_contents(self.vec.len());
        copy.vec.copy_from_slice(&self.vec);
        copy
    }
}

impl<T: Poolable> Deref for PooledVec<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.vec
    }
}

impl<T: Poolable> DerefMut for PooledVec<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.vec
    }
}

impl<T: Poolable> Drop for PooledVec<T> {
    fn drop(&mut self) {
        let bytes = self.vec.capacity() * size_of::<T>();
        if bytes < MIN_POOLED_BYTES {
            return;
        }
        let mut list = T::free_list().lock().unwrap_or_else(|e| e.into_inner());
        if list.bytes + bytes <= LIMIT_BYTES.load(Ordering::Relaxed) {
            list.bytes += bytes;
            list.buffers.push(std::mem::take(&mut self.vec));
        }
    }
}

/// Pool activity since the process started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStats {
    /// Requests served from the pool.
    pub hits: usize,
    /// Requests that allocated.
    pub misses: usize,
    /// Bytes currently held for reuse (f32 + f64 + u32 buffers).
    pub held_bytes: usize,
}

/// Current statistics.
pub fn pool_stats() -> PoolStats {
    fn held<T: Poolable>() -> usize {
        T::free_list().lock().unwrap_or_else(|e| e.into_inner()).bytes
    }
    PoolStats {
        hits: HITS.load(Ordering::Relaxed),
        misses: MISSES.load(Ordering::Relaxed),
        held_bytes: held::<f32>() + held::<f64>() + held::<u32>(),
    }
}

/// The most bytes the pool keeps per element type.
pub fn pool_limit_bytes() -> usize {
    LIMIT_BYTES.load(Ordering::Relaxed)
}

/// Sets the most bytes the pool keeps per element type (0 disables pooling).
pub fn set_pool_limit_bytes(limit: usize) {
    LIMIT_BYTES.store(limit, Ordering::Relaxed);
    if limit == 0 {
        release_pooled_buffers();
    }
}

/// Frees every buffer the pool holds.
pub fn release_pooled_buffers() {
    fn clear<T: Poolable>() {
        let mut list = T::free_list().lock().unwrap_or_else(|e| e.into_inner());
        list.buffers.clear();
        list.bytes = 0;
    }
    clear::<f32>();
    clear::<f64>();
    clear::<u32>();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_blocks_are_zeros_of_the_asked_length() {
        // Below the huge-page size and above it (the second is advised).
        for len in [MIN_POOLED_BYTES / 4 + 3, HUGE_PAGE_BYTES / 4 * 3 + 5] {
            let block = allocate::<f32>(len);
            assert_eq!((block.len(), block.capacity()), (len, len));
            assert!(block.iter().all(|&v| v == 0.0));
        }
        assert!(allocate::<u32>(0).is_empty());
    }

    #[test]
    fn a_refused_allocation_unwinds_with_out_of_memory() {
        // More than any address space holds: `try_reserve_exact` refuses it.
        let len = usize::MAX / 16;
        let caught = std::panic::catch_unwind(|| PooledVec::<f32>::uninit_contents(len)).unwrap_err();
        let oom = caught.downcast_ref::<OutOfMemory>().expect("an OutOfMemory payload");
        assert_eq!(oom.bytes, len * 4);
        assert!(oom.to_string().starts_with("out of memory"));
    }
}
