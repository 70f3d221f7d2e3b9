//! Layers: shapes, padding modes, batch-norm statistics, named parameters
//! that survive a save and a load.

use std::collections::HashMap;

use autograd::Var;
use nn::io::TensorFile;
use nn::layers::{
    Activation, AvgPool2d, BatchNorm2d, Conv2d, Conv2dConfig, ConvTranspose2d, InstanceNorm2d, Linear, MaxPool2d,
    Module, Residual, Sequential, Upsample,
};
use nn::{Init, ParamStore};
use tensor::{DType, PadMode, Tensor, UpsampleMode};

fn input(shape: &[usize]) -> Var {
    Var::constant(Tensor::rand_uniform(shape, -1.0, 1.0, 3, DType::F32))
}

#[test]
fn conv_padding_modes_keep_the_size_and_differ_at_the_border() {
    let mut outputs = Vec::new();
    for mode in [PadMode::Zero, PadMode::Reflect, PadMode::Replicate] {
        let mut store = ParamStore::new(1, DType::F32);
        let conv = Conv2d::new(&mut store, "c", 2, 3, Conv2dConfig::new(3).padding(1, mode)).unwrap();
        let y = conv.forward(&input(&[1, 2, 6, 6])).unwrap();
        assert_eq!(y.shape(), [1, 3, 6, 6]);
        outputs.push(y.value().to_f64_vec());
    }
    // Same weights (same seed and names): interiors agree, borders differ.
    let interior = |v: &[f64]| v[7];
    assert_eq!(interior(&outputs[0]), interior(&outputs[1]));
    assert_ne!(outputs[0][0], outputs[1][0]);
    assert_ne!(outputs[1][0], outputs[2][0]);
}

#[test]
fn strided_and_transposed_convolutions_halve_and_double() {
    let mut store = ParamStore::new(1, DType::F32);
    let down = Conv2d::new(&mut store, "down", 3, 4, Conv2dConfig::new(3).stride(2)).unwrap();
    let up = ConvTranspose2d::new(&mut store, "up", 4, 3, 3, 2, 1, 1).unwrap();
    let h = down.forward(&input(&[2, 3, 8, 8])).unwrap();
    assert_eq!(h.shape(), [2, 4, 4, 4]);
    assert_eq!(up.forward(&h).unwrap().shape(), [2, 3, 8, 8]);
}

#[test]
fn sequential_with_residual_pool_and_upsample() {
    let mut store = ParamStore::new(2, DType::F32);
    let mut body = Sequential::new();
    body.push(Conv2d::new(&mut store, "res.0", 4, 4, Conv2dConfig::new(3).padding(1, PadMode::Reflect)).unwrap());
    body.push(InstanceNorm2d::new(&mut store, "res.1", 4, true).unwrap());
    body.push(Activation::LeakyRelu(0.2));
    let net = Sequential::new()
        .with(Residual::new(body))
        .with(MaxPool2d::new(2, 2))
        .with(Upsample { factor: 2, mode: UpsampleMode::Nearest })
        .with(AvgPool2d::new(2, 2))
        .with(Activation::Tanh);
    let y = net.forward(&input(&[1, 4, 8, 8])).unwrap();
    assert_eq!(y.shape(), [1, 4, 4, 4]);
    assert!(y.value().to_f64_vec().iter().all(|v| v.abs() <= 1.0));
    assert_eq!(store.trainable().len(), 4); // conv weight and bias, norm scale and shift
}

#[test]
fn linear_maps_the_last_dimension() {
    let mut store = ParamStore::new(3, DType::F32);
    let layer = Linear::new(&mut store, "fc", 5, 2, true).unwrap();
    assert_eq!(layer.forward(&input(&[3, 5])).unwrap().shape(), [3, 2]);
}

#[test]
fn batch_norm_tracks_running_statistics_and_uses_them_in_eval() {
    let mut store = ParamStore::new(4, DType::F32);
    let bn = BatchNorm2d::new(&mut store, "bn", 2).unwrap();
    let x =
        Var::constant(Tensor::from_fn(&[2, 2, 2, 2], DType::F32, |i| if i % 8 < 4 { 1.0 + i as f64 } else { 10.0 }));
    let y = bn.forward(&x).unwrap();
    // Training output: zero mean per channel.
    let channel_means = y.value().mean(&[0, 2, 3], false).to_f64_vec();
    assert!(channel_means.iter().all(|m| m.abs() < 1e-5), "{channel_means:?}");
    let (mean, var) = bn.running_stats();
    // Channel 1 is constant 10: running mean 0.9·0 + 0.1·10, variance 0.9·1 + 0.1·0.
    assert!((mean.to_f64_vec()[1] - 1.0).abs() < 1e-5 && (var.to_f64_vec()[1] - 0.9).abs() < 1e-5);
    bn.set_training(false);
    let eval = bn.forward(&x).unwrap().value().to_f64_vec();
    let expected = (10.0 - 1.0) / (0.9f64 + 1e-5).sqrt();
    assert!((eval[4] - expected).abs() < 1e-3, "{} vs {expected}", eval[4]);
}

#[test]
fn parameters_are_seeded_by_name_and_survive_save_and_load() {
    let build = |seed| {
        let mut store = ParamStore::new(seed, DType::F32);
        let conv = Conv2d::new(&mut store, "block.conv", 3, 4, Conv2dConfig::new(3)).unwrap();
        let bn = BatchNorm2d::new(&mut store, "block.bn", 4).unwrap();
        (store, conv, bn)
    };
    let (a, conv_a, bn_a) = build(9);
    let (b, _, _) = build(9);
    assert_eq!(a.values()["block.conv.weight"].to_vec::<f32>(), b.values()["block.conv.weight"].to_vec::<f32>());
    // Train a little so buffers and weights move, then save.
    bn_a.forward(&conv_a.forward(&input(&[2, 3, 4, 4])).unwrap()).unwrap();
    let path = std::env::temp_dir().join(format!("fresco-layers-{}.safetensors", std::process::id()));
    a.save(&path, &HashMap::from([("model".to_string(), "test".to_string())])).unwrap();
    let (c, conv_c, _) = build(10);
    assert_ne!(c.values()["block.conv.weight"].to_vec::<f32>(), a.values()["block.conv.weight"].to_vec::<f32>());
    let file = TensorFile::read(&path).unwrap();
    assert_eq!(file.metadata["model"], "test");
    c.load_from(&file).unwrap();
    for (name, value) in a.values() {
        assert_eq!(c.values()[&name].to_vec::<f32>(), value.to_vec::<f32>(), "{name}");
    }
    let x = input(&[1, 3, 4, 4]);
    assert_eq!(
        conv_a.forward(&x).unwrap().value().to_vec::<f32>(),
        conv_c.forward(&x).unwrap().value().to_vec::<f32>()
    );
}

#[test]
fn loading_a_file_with_other_shapes_names_the_key() {
    let mut small = ParamStore::new(1, DType::F32);
    Conv2d::new(&mut small, "conv", 3, 4, Conv2dConfig::new(3)).unwrap();
    let path = std::env::temp_dir().join(format!("fresco-shapes-{}.safetensors", std::process::id()));
    small.save(&path, &HashMap::new()).unwrap();
    let mut big = ParamStore::new(1, DType::F32);
    Conv2d::new(&mut big, "conv", 3, 8, Conv2dConfig::new(3)).unwrap();
    let message = big.load_from(&TensorFile::read(&path).unwrap()).unwrap_err().to_string();
    assert!(message.contains("conv.bias") || message.contains("conv.weight"), "{message}");
    assert!(message.contains("expected"), "{message}");
}

#[test]
fn initialisers_have_their_scales() {
    let t = Init::KaimingNormal { slope: 0.0 }.tensor(&[64, 32, 3, 3], 1, DType::F64);
    let std = t.square().mean_all().to_scalar().sqrt();
    let expected = (2.0 / (32.0 * 9.0f64)).sqrt();
    assert!((std / expected - 1.0).abs() < 0.05, "{std} vs {expected}");
    let x = Init::XavierUniform.tensor(&[100, 50], 2, DType::F64).abs().max(&[0, 1], false).to_scalar();
    assert!(x <= (6.0f64 / 150.0).sqrt());
}
