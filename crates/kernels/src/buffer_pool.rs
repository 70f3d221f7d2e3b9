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
//! those mapped anyway). A request takes the smallest held buffer of at least
//! its size and at most 5/4 of it.
//!
//! How much the pool holds is bounded twice:
//! * by a budget: when a request finds no buffer, held buffers are freed,
//!   largest first, until the bytes in use, the bytes held and the new
//!   buffer together fit within 112% of the most bytes ever in use at once
//!   (the working set; [`set_pool_budget_slack_percent`] changes the 12%).
//!   A program whose passes repeat (an optimiser's evaluations, training
//!   steps) then peaks about 12% above the most it has had in use at once,
//!   instead of holding buffers no request fits beside the ones it uses.
//!   The price is buffers freed and mapped again each pass: Gatys at 512²
//!   peaks at 0.90 GiB instead of 1.14 and took about 10% longer. Two
//!   things make the price smaller: when a request would take the pool over
//!   its budget and the largest held buffer is larger than the request,
//!   that buffer is shrunk to the request (its head stays mapped) instead
//!   of being freed beside a fresh allocation; and the kernels'
//!   per-call working buffers stay out of the pool ([`crate::scratch`]). The
//!   bytes in use count all element types, those held only the requesting
//!   type's; the check is made under that type's lock, so misses on several
//!   threads at once may overshoot it by what they allocate. The most in use
//!   at once is never forgotten: one early spike loosens the budget for the
//!   rest of the process;
//! * by [`pool_limit_bytes`] held per element type (1 GiB unless set);
//!   beyond that, returned buffers are freed.
//!
//! Side effects on the process: on Linux with glibc the pool's first
//! allocation fixes the C allocator's mmap threshold at
//! [`OWN_MAPPING_BYTES`] (see [`fix_mmap_threshold`]), and blocks of that size
//! and more are advised for transparent huge pages.
//!
//! A large buffer that cannot be allocated does not abort the process (as
//! Rust's global allocator does): the pool asks the allocator and, when
//! refused, unwinds with an [`OutOfMemory`] payload, which the program's
//! entry point turns into a one-line error (`fresco` does).

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Buffers smaller than this are not pooled.
pub const MIN_POOLED_BYTES: usize = 256 * 1024;

static LIMIT_BYTES: AtomicUsize = AtomicUsize::new(1 << 30);
static HITS: AtomicUsize = AtomicUsize::new(0);
static MISSES: AtomicUsize = AtomicUsize::new(0);
/// Bytes in use (not held by the pool), all types: pooled-size buffers, and
/// the kernels' kept scratch buffers whatever their size ([`crate::scratch`]).
static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
/// The most [`LIVE_BYTES`] has been.
static LIVE_HIGH_WATER: AtomicUsize = AtomicUsize::new(0);
/// Buffers the pool freed to stay within its budget.
static EVICTIONS: AtomicUsize = AtomicUsize::new(0);
/// Held buffers shrunk to serve a smaller request instead of being freed.
static SHRINKS: AtomicUsize = AtomicUsize::new(0);

/// The budget's slack over the working set, in percent: `live + held` is
/// kept within `(1 + slack/100)` of the most bytes ever live at once.
static BUDGET_SLACK_PERCENT: AtomicUsize = AtomicUsize::new(DEFAULT_BUDGET_SLACK_PERCENT);

/// The default slack of the pool's budget, in percent of the working set.
pub const DEFAULT_BUDGET_SLACK_PERCENT: usize = 12;

/// Element types the pool can hold: plain numbers for which any initialised
/// bit pattern is a valid value.
///
/// # Safety
/// All-zero bytes must be a valid value of the type, equal to its
/// `Default`: fresh buffers come zeroed from the allocator unwritten.
pub unsafe trait Poolable: Copy + Default + Send + Sync + 'static {
    #[doc(hidden)]
    fn free_list() -> &'static Mutex<FreeList<Self>>;
    #[doc(hidden)]
    fn scratch_slots() -> &'static [Mutex<Option<Vec<Self>>>; crate::scratch::SLOTS];
}

/// The free buffers of one element type.
#[doc(hidden)]
pub struct FreeList<T> {
    buffers: Vec<Vec<T>>,
    bytes: usize,
}

macro_rules! poolable {
    ($($t:ty => $name:ident, $scratch:ident);*) => {$(
        static $name: Mutex<FreeList<$t>> = Mutex::new(FreeList { buffers: Vec::new(), bytes: 0 });
        static $scratch: [Mutex<Option<Vec<$t>>>; crate::scratch::SLOTS] = [const { Mutex::new(None) }; crate::scratch::SLOTS];
        // SAFETY: all-zero bytes are 0 for every type this macro is given.
        unsafe impl Poolable for $t {
            fn free_list() -> &'static Mutex<FreeList<Self>> {
                &$name
            }
            fn scratch_slots() -> &'static [Mutex<Option<Vec<Self>>>; crate::scratch::SLOTS] {
                &$scratch
            }
        }
    )*};
}

poolable!(f32 => F32_FREE, F32_SCRATCH; f64 => F64_FREE, F64_SCRATCH; u32 => U32_FREE, U32_SCRATCH);

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
/// [`OWN_MAPPING_BYTES`] (one with a mapping of its own) is marked for
/// transparent huge pages (`madvise`), so the first pass over it faults 2 MiB
/// at a time instead of 4 KiB and later passes miss the TLB less.
pub(crate) fn allocate<T: Poolable>(len: usize) -> Vec<T> {
    fix_mmap_threshold();
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
    // which `Poolable`'s contract makes a valid value of T.
    unsafe { Vec::from_raw_parts(ptr.cast::<T>(), len, len) }
}

/// Blocks at least this large get a mapping of their own from the C
/// allocator (see [`fix_mmap_threshold`]).
pub const OWN_MAPPING_BYTES: usize = 4 << 20;

/// glibc serves a block from a mapping of its own when it is larger than a
/// threshold that starts at 128 KiB but rises, up to 32 MiB, each time such a
/// block is freed; blocks below it come from the heap, which keeps freed
/// memory resident. Buffers the pool frees to stay within its budget would
/// then free nothing. Once per process, before the pool's first
/// allocation, the threshold is fixed at [`OWN_MAPPING_BYTES`]: larger blocks
/// go back to the system when freed; smaller ones (GEMM panels, row buffers,
/// most buffers below the pool's size) stay in the heap, where reusing them
/// costs no page faults. Elsewhere than glibc this does nothing.
fn fix_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt changes glibc's policy for later allocations
            // only, under its own lock; the value fits a c_int.
            unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, OWN_MAPPING_BYTES as libc::c_int) };
        });
    }
}

/// Asks Linux to back the whole pages of `ptr..ptr + bytes` with
/// transparent huge pages where it can (`MADV_HUGEPAGE`; a hint: the kernel
/// may decline, and then nothing changes).
fn advise_huge_pages(ptr: *mut u8, bytes: usize) {
    #[cfg(target_os = "linux")]
    if bytes >= OWN_MAPPING_BYTES {
        // SAFETY: sysconf reads a constant of the system.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096).max(1);
        let start = (ptr as usize).next_multiple_of(page);
        let end = (ptr as usize + bytes) / page * page;
        if end > start {
            // SAFETY: the range lies inside one live allocation of ours and
            // is page-aligned; MADV_HUGEPAGE changes no contents.
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (ptr, bytes);
}

/// True for a buffer the pool accounts for (at least [`MIN_POOLED_BYTES`]).
fn pooled_size<T>(vec: &Vec<T>) -> bool {
    vec.capacity() * size_of::<T>() >= MIN_POOLED_BYTES
}

/// Counts `bytes` more in use and raises the high-water mark.
pub(crate) fn track_live_add(bytes: usize) {
    let live = LIVE_BYTES.fetch_add(bytes, Ordering::Relaxed) + bytes;
    LIVE_HIGH_WATER.fetch_max(live, Ordering::Relaxed);
}

/// The pool's budget when `bytes` more are about to be in use beside `live`:
/// `(1 + slack)` × the working set (the most bytes ever in use at once,
/// counting the new ones).
fn budget_for(live: usize, bytes: usize) -> usize {
    let working_set = LIVE_HIGH_WATER.load(Ordering::Relaxed).max(live.saturating_add(bytes));
    let slack = BUDGET_SLACK_PERCENT.load(Ordering::Relaxed);
    working_set.saturating_add((working_set / 100).saturating_mul(slack))
}

impl<T: Poolable> FreeList<T> {
    /// Takes the smallest held buffer of at least `len` elements and at most
    /// 5/4 of that. (Before the budget a buffer served requests down to half
    /// its size; with the budget that raised the working set, as requests
    /// held buffers up to twice their size: 20 Gatys evaluations at 512²
    /// peaked at 1.02 GiB against 0.89.)
    fn take_best_fit(&mut self, len: usize) -> Option<Vec<T>> {
        let (i, _) = self
            .buffers
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= len && b.capacity() <= len + len / 4)
            .min_by_key(|(_, b)| b.capacity())?;
        let buffer = self.buffers.swap_remove(i);
        self.bytes -= buffer.capacity() * size_of::<T>();
        Some(buffer)
    }

    /// When a new buffer of `len` elements would take the pool over its
    /// budget (so that held buffers must be freed, largest first): the
    /// largest held buffer, if it is larger than `len`, shrunk to `len`
    /// (`realloc`). It is the buffer [`Self::evict_for`] would free first;
    /// this way its head serves the request without faulting pages in again
    /// (glibc shrinks a block with a mapping of its own in place, the tail's
    /// pages going back to the system; a smaller block's tail returns to
    /// the heap).
    fn take_shrunk_if_over_budget(&mut self, len: usize) -> Option<Vec<T>> {
        let bytes = len * size_of::<T>();
        let live = LIVE_BYTES.load(Ordering::Relaxed);
        if live.saturating_add(self.bytes).saturating_add(bytes) <= budget_for(live, bytes) {
            return None;
        }
        let (i, _) =
            self.buffers.iter().enumerate().max_by_key(|(_, b)| b.capacity()).filter(|(_, b)| b.capacity() > len)?;
        let mut buffer = self.buffers.swap_remove(i);
        self.bytes -= buffer.capacity() * size_of::<T>();
        buffer.truncate(len);
        buffer.shrink_to(len);
        SHRINKS.fetch_add(1, Ordering::Relaxed);
        Some(buffer)
    }

    /// Before a new allocation of `bytes`: frees held buffers, largest
    /// first, until the bytes in use plus those held plus the new ones fit
    /// the budget, `(1 + slack)` × the most bytes ever in use at once (or
    /// nothing is held). Held buffers that no request fits would otherwise
    /// sit beside the new allocation and raise the peak. Largest first
    /// frees the room with the fewest buffers lost.
    fn evict_for(&mut self, bytes: usize) {
        let live = LIVE_BYTES.load(Ordering::Relaxed);
        let budget = budget_for(live, bytes);
        while live.saturating_add(self.bytes).saturating_add(bytes) > budget {
            let Some((i, _)) = self.buffers.iter().enumerate().max_by_key(|(_, b)| b.capacity()) else { break };
            let buffer = self.buffers.swap_remove(i);
            self.bytes -= buffer.capacity() * size_of::<T>();
            EVICTIONS.fetch_add(1, Ordering::Relaxed);
        }
    }
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
            return Self::from_vec(vec![T::default(); len]);
        }
        let reused = {
            let mut list = T::free_list().lock().unwrap_or_else(|e| e.into_inner());
            match list.take_best_fit(len) {
                Some(buffer) => Some(buffer),
                None => {
                    let shrunk = list.take_shrunk_if_over_budget(len);
                    list.evict_for(len * size_of::<T>());
                    shrunk
                }
            }
        };
        match reused {
            Some(mut vec) => {
                HITS.fetch_add(1, Ordering::Relaxed);
                track_live_add(vec.capacity() * size_of::<T>());
                if vec.len() >= len {
                    vec.truncate(len);
                } else {
                    vec.resize(len, T::default());
                }
                PooledVec { vec }
            }
            None => {
                MISSES.fetch_add(1, Ordering::Relaxed);
                let vec = allocate(len);
                track_live_add(vec.capacity() * size_of::<T>());
                PooledVec { vec }
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
        if pooled_size::<T>(&vec) {
            track_live_add(vec.capacity() * size_of::<T>());
        }
        PooledVec { vec }
    }

    /// Takes the vector out, leaving the pool out of it.
    pub fn into_vec(mut self) -> Vec<T> {
        if pooled_size::<T>(&self.vec) {
            LIVE_BYTES.fetch_sub(self.vec.capacity() * size_of::<T>(), Ordering::Relaxed);
        }
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
        LIVE_BYTES.fetch_sub(bytes, Ordering::Relaxed);
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
    /// Bytes in use now: pooled-size buffers and kept scratch buffers.
    pub live_bytes: usize,
    /// The most bytes ever in use at once (as `live_bytes` counts them).
    pub live_high_water_bytes: usize,
    /// Held buffers freed to keep within the budget.
    pub evictions: usize,
    /// Held buffers shrunk to serve a smaller request instead of being
    /// freed (counted in `hits` too).
    pub shrinks: usize,
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
        live_bytes: LIVE_BYTES.load(Ordering::Relaxed),
        live_high_water_bytes: LIVE_HIGH_WATER.load(Ordering::Relaxed),
        evictions: EVICTIONS.load(Ordering::Relaxed),
        shrinks: SHRINKS.load(Ordering::Relaxed),
    }
}

/// The most bytes the pool keeps per element type.
pub fn pool_limit_bytes() -> usize {
    LIMIT_BYTES.load(Ordering::Relaxed)
}

/// Sets the most bytes the pool keeps per element type (0 disables pooling;
/// the kernels' scratch slots still keep one buffer each).
pub fn set_pool_limit_bytes(limit: usize) {
    LIMIT_BYTES.store(limit, Ordering::Relaxed);
    if limit == 0 {
        release_pooled_buffers();
    }
}

/// The budget's slack in percent of the working set (see the module docs).
pub fn pool_budget_slack_percent() -> usize {
    BUDGET_SLACK_PERCENT.load(Ordering::Relaxed)
}

/// Sets the budget's slack in percent of the working set: 0 keeps the pool
/// within the working set itself; `usize::MAX` turns the budget off, leaving
/// only [`pool_limit_bytes`] (buffers are still served from at most 5/4 of
/// their size: the main Gatys job then peaks at 1.22 GiB, against 1.14 with
/// the older rule of up to twice).
pub fn set_pool_budget_slack_percent(percent: usize) {
    BUDGET_SLACK_PERCENT.store(percent, Ordering::Relaxed);
}

/// Counts `bytes` fewer in use.
pub(crate) fn track_live_sub(bytes: usize) {
    LIVE_BYTES.fetch_sub(bytes, Ordering::Relaxed);
}

/// Frees every buffer the pool holds, and the kernels' kept scratch buffers
/// ([`crate::scratch`]) that no call is using.
pub fn release_pooled_buffers() {
    fn clear<T: Poolable>() {
        let mut list = T::free_list().lock().unwrap_or_else(|e| e.into_inner());
        list.buffers.clear();
        list.bytes = 0;
        drop(list);
        crate::scratch::release::<T>();
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
        // Below the own-mapping size and above it (the second is advised).
        for len in [MIN_POOLED_BYTES / 4 + 3, OWN_MAPPING_BYTES / 4 * 3 + 5] {
            let block = allocate::<f32>(len);
            assert_eq!((block.len(), block.capacity()), (len, len));
            assert!(block.iter().all(|&v| v == 0.0));
        }
        assert!(allocate::<u32>(0).is_empty());
    }

    #[test]
    fn a_refused_allocation_unwinds_with_out_of_memory() {
        // More than the system will give: the allocator returns null.
        let len = usize::MAX / 16;
        let caught = std::panic::catch_unwind(|| PooledVec::<f32>::uninit_contents(len)).unwrap_err();
        let oom = caught.downcast_ref::<OutOfMemory>().expect("an OutOfMemory payload");
        assert_eq!(oom.bytes, len * 4);
        assert!(oom.to_string().starts_with("out of memory"));
    }
}
