//! Winograd-domain kernels kept for convolution weights that come back.
//!
//! A 3×3 convolution by Winograd's algorithm first transforms every kernel
//! (`G g Gᵀ`, and for the input gradient the same of the flipped kernel):
//! 36·O·C values written per call whatever the image. For a pretrained
//! network evaluated again and again (Gatys's L-BFGS, the perceptual loss of
//! GAN training) the weights never change, and on small images that
//! transform is a large share of a layer's time (see
//! [`WinogradKernels::worth_keeping`]). This table keeps the transforms of a
//! weight that has been through the forward pass more than once.
//!
//! Tensors are immutable (the one write into a buffer,
//! `Tensor::try_binary_consuming`, happens only when `Arc::get_mut` finds no
//! other holder, weak references included, so never to a buffer this table
//! knows), so a weight's storage (with its layout) names its values for as
//! long as it lives. Entries hold only a weak reference to it:
//! an entry whose weight was dropped is removed at the next lookup, or by
//! [`release_kept_kernels`]. A weight that goes through the forward pass
//! once in its life (a generator's under training, made afresh by every
//! optimiser step) is never kept. A lookup whose geometry does not pay
//! removes the weight's entry, so a network moved from a small image to a
//! large one gives back the memory (Gatys's second scale).

use std::any::Any;
use std::sync::{Arc, Mutex, Weak};

use kernels::conv::{Conv2dGeometry, ConvPass, WinogradKernels};

use crate::layout::Layout;
use crate::storage::{FloatElement, Storage};
use crate::Tensor;

/// One weight's kept transforms.
struct Entry {
    storage: Weak<Storage>,
    layout: Layout,
    /// Forward passes seen with a geometry that pays.
    sightings: u32,
    forward: Option<Arc<dyn Any + Send + Sync>>,
    input_gradient: Option<Arc<dyn Any + Send + Sync>>,
}

impl Entry {
    fn is(&self, weight: &Tensor) -> bool {
        std::ptr::eq(self.storage.as_ptr(), Arc::as_ptr(&weight.storage)) && self.layout == weight.layout
    }

    fn slot(&mut self, pass: ConvPass) -> &mut Option<Arc<dyn Any + Send + Sync>> {
        match pass {
            ConvPass::Forward => &mut self.forward,
            ConvPass::InputGradient => &mut self.input_gradient,
        }
    }
}

static TABLE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// The kept transform of `weight` for `pass` under `geo`, made now if the
/// weight has been through the forward pass at least twice with a geometry
/// that pays; `None` when the caller should transform it itself.
pub(crate) fn kept_kernels<T: FloatElement>(
    weight: &Tensor,
    contiguous_weight: &[T],
    geo: &Conv2dGeometry,
    pass: ConvPass,
) -> Option<Arc<WinogradKernels<T>>> {
    {
        let mut table = TABLE.lock().unwrap_or_else(|e| e.into_inner());
        table.retain(|entry| entry.storage.strong_count() > 0);
        let position = table.iter().position(|entry| entry.is(weight));
        if !WinogradKernels::<T>::worth_keeping(geo) {
            if let Some(position) = position {
                table.swap_remove(position);
            }
            return None;
        }
        let entry = match position {
            Some(position) => &mut table[position],
            None => {
                table.push(Entry {
                    storage: Arc::downgrade(&weight.storage),
                    layout: weight.layout.clone(),
                    sightings: 0,
                    forward: None,
                    input_gradient: None,
                });
                table.last_mut().expect("just pushed")
            }
        };
        if pass == ConvPass::Forward {
            entry.sightings = entry.sightings.saturating_add(1);
        }
        if entry.sightings < 2 {
            return None;
        }
        if let Some(kept) = entry.slot(pass).clone().and_then(|any| any.downcast::<WinogradKernels<T>>().ok()) {
            return Some(kept);
        }
    }
    // Transformed outside the lock: the transform runs on the thread pool,
    // whose workers may themselves reach a convolution.
    let kept = Arc::new(WinogradKernels::new(geo, contiguous_weight, pass)?);
    let mut table = TABLE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(entry) = table.iter_mut().find(|entry| entry.is(weight)) {
        *entry.slot(pass) = Some(kept.clone() as Arc<dyn Any + Send + Sync>);
    }
    Some(kept)
}

/// Bytes of Winograd-domain kernels kept for convolution weights still
/// alive (the kernels of a dropped weight are freed here or at the next
/// convolution, whichever comes first).
pub fn kept_kernel_bytes() -> usize {
    let mut table = TABLE.lock().unwrap_or_else(|e| e.into_inner());
    table.retain(|entry| entry.storage.strong_count() > 0);
    let bytes = |slot: &Option<Arc<dyn Any + Send + Sync>>| {
        slot.as_ref().map_or(0, |any| {
            if let Some(k) = any.downcast_ref::<WinogradKernels<f32>>() {
                k.bytes()
            } else if let Some(k) = any.downcast_ref::<WinogradKernels<f64>>() {
                k.bytes()
            } else {
                0
            }
        })
    };
    table.iter().map(|entry| bytes(&entry.forward) + bytes(&entry.input_gradient)).sum()
}

/// Frees every kept transform (they are made again from a weight's second
/// forward pass after this). For a program done with a network it still
/// holds, such as Gatys at the end of a run.
pub fn release_kept_kernels() {
    TABLE.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DType;

    /// The same kept transform is handed out from the second forward pass
    /// on, not made again; the input gradient's is another one.
    #[test]
    fn a_kept_transform_is_reused() {
        let weight = Tensor::randn(&[16, 16, 3, 3], 0.0, 0.1, 11, DType::F32);
        let values = weight.contiguous_data::<f32>().to_vec();
        let geo = Conv2dGeometry {
            batch: 1,
            in_channels: 16,
            in_height: 8,
            in_width: 8,
            out_channels: 16,
            kernel_height: 3,
            kernel_width: 3,
            stride: (1, 1),
            padding: (1, 1),
            dilation: (1, 1),
        };
        let lookup = |pass| kept_kernels::<f32>(&weight, &values, &geo, pass);
        assert!(lookup(ConvPass::Forward).is_none(), "kept at the first sighting");
        let second = lookup(ConvPass::Forward).expect("kept from the second");
        let third = lookup(ConvPass::Forward).expect("still kept");
        assert!(Arc::ptr_eq(&second, &third), "made again instead of reused");
        let gradient = lookup(ConvPass::InputGradient).expect("kept for the input gradient");
        assert!(Arc::ptr_eq(&gradient, &lookup(ConvPass::InputGradient).expect("still kept")));
    }
}
