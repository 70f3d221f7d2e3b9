//! Parity with PyTorch: a reduced-width VGG-19 (every layer of the real one,
//! 4-16 channels) and the gradient of a Gram loss to the input image, against
//! the values `tests/fixtures/make_vgg_parity.py` computed with PyTorch.

use std::path::Path;

use autograd::Var;
use nn::io::TensorFile;
use nn::{Vgg, VggKind};
use tensor::{DType, Tensor};

const LAYERS: [&str; 6] = ["relu1_1", "relu2_1", "relu3_1", "conv4_2", "relu4_1", "relu5_1"];
const STYLE: [&str; 5] = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"];

fn fixture() -> TensorFile {
    TensorFile::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vgg_parity.safetensors")).unwrap()
}

/// `max |ours − theirs| / max |theirs|`.
fn relative_error(ours: &Tensor, theirs: &Tensor) -> f64 {
    assert_eq!(ours.shape(), theirs.shape());
    let (a, b) = (ours.to_f64_vec(), theirs.to_dtype(DType::F64).to_f64_vec());
    let scale = b.iter().map(|v| v.abs()).fold(0.0, f64::max).max(1e-30);
    a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max) / scale
}

#[test]
fn activations_match_pytorch() {
    let file = fixture();
    let vgg = Vgg::from_file(&file).unwrap();
    assert_eq!(vgg.kind(), VggKind::Vgg19);
    let image = Var::constant(file.tensors["input"].clone());
    let features = vgg.forward_features(&image, &LAYERS).unwrap();
    for (name, f) in LAYERS.iter().zip(&features) {
        let error = relative_error(f.value(), &file.tensors[&format!("expected.{name}")]);
        println!("{name}: relative error {error:.2e}");
        assert!(error < 1e-4, "{name}: relative error {error:e}");
    }
}

#[test]
fn gram_loss_gradient_to_the_input_matches_pytorch() {
    let file = fixture();
    let vgg = Vgg::from_file(&file).unwrap();
    let image = Var::parameter(file.tensors["input"].clone());
    let features = vgg.forward_features(&image, &STYLE).unwrap();
    let mut loss = Var::constant(Tensor::scalar(0.0, DType::F32));
    for (name, f) in STYLE.iter().zip(&features) {
        let target = Var::constant(file.tensors[&format!("target_gram.{name}")].clone());
        loss = loss + f.gram().mse(&target);
    }
    let expected_loss = file.tensors["expected.loss"].to_f64_vec()[0];
    assert!(
        (loss.to_scalar() - expected_loss).abs() <= 1e-4 * expected_loss.abs(),
        "loss {} vs {expected_loss}",
        loss.to_scalar()
    );
    let grad = loss.backward().remove(&image).unwrap();
    let error = relative_error(&grad, &file.tensors["expected.grad_input"]);
    println!("input gradient: relative error {error:.2e}");
    assert!(error < 1e-4, "input gradient: relative error {error:e}");
}
