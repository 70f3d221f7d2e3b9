//! VGG feature extractors: architecture from keys, dtypes on disk, input
//! conventions, layer selection and clear errors for wrong files.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use autograd::Var;
use nn::io::{write_safetensors, TensorFile};
use nn::vgg::CAFFE_MEAN_BGR;
use nn::{InputConvention, Pooling, Vgg, VggKind};
use tensor::{DType, Tensor};

const WIDTHS: [usize; 5] = [4, 6, 8, 8, 8];

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fresco-nn-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// (weight, bias) pairs of a reduced-width VGG with seeded values.
fn convs(kind: VggKind) -> Vec<(Tensor, Tensor)> {
    let mut out = Vec::new();
    let mut inputs = 3;
    for (b, count) in kind.blocks().into_iter().enumerate() {
        for i in 0..count {
            let seed = (b * 10 + i) as u64;
            out.push((
                Tensor::randn(&[WIDTHS[b], inputs, 3, 3], 0.0, 0.3, seed, DType::F32),
                Tensor::randn(&[WIDTHS[b]], 0.0, 0.1, seed + 100, DType::F32),
            ));
            inputs = WIDTHS[b];
        }
    }
    out
}

fn image() -> Var {
    Var::constant(Tensor::rand_uniform(&[1, 3, 32, 32], 0.0, 1.0, 7, DType::F32))
}

#[test]
fn random_vgg19_names_its_layers_and_halves_at_each_pool() {
    let vgg = Vgg::random_with_widths(VggKind::Vgg19, WIDTHS, 1);
    assert_eq!(vgg.layer_names().len(), 16 * 2 + 5);
    assert_eq!(&vgg.layer_names()[..3], ["conv1_1", "relu1_1", "conv1_2"]);
    let features = vgg.forward_features(&image(), &["relu5_1", "relu1_1", "pool2", "conv4_4"]).unwrap();
    let shapes: Vec<&[usize]> = features.iter().map(|f| f.shape()).collect();
    assert_eq!(shapes, [&[1, 8, 2, 2][..], &[1, 4, 32, 32], &[1, 6, 8, 8], &[1, 8, 4, 4]]);
}

/// Asking for the style layers fuses each block's last conv, ReLU and max
/// pool (nobody asked for that ReLU); asking for those ReLUs too runs the
/// three ops apart. Both give the same features and the same gradient.
#[test]
fn fused_conv_relu_pool_blocks_change_no_feature_and_no_gradient() {
    let vgg = Vgg::random_with_widths(VggKind::Vgg16, WIDTHS, 2);
    let style = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"];
    let apart = [&style[..], &["relu1_2", "relu2_2", "relu3_3", "relu4_3"]].concat();
    let run = |layers: &[&str]| {
        let x = Var::parameter(Tensor::rand_uniform(&[1, 3, 32, 32], 0.0, 1.0, 9, DType::F32));
        let features = vgg.forward_features(&x, layers).unwrap();
        let values: Vec<Vec<f32>> = features[..style.len()].iter().map(|f| f.value().to_vec()).collect();
        let loss = features[..style.len()].iter().map(|f| f.square().sum_all()).reduce(|a, b| &a + &b).unwrap();
        (values, loss.backward().get(&x).unwrap().to_vec::<f32>())
    };
    let (fused_values, fused_gradient) = run(&style);
    let (apart_values, apart_gradient) = run(&apart);
    assert_eq!(fused_values, apart_values);
    assert!(fused_gradient.iter().any(|&g| g != 0.0));
    assert_eq!(fused_gradient, apart_gradient);
}

#[test]
fn random_features_keep_a_sane_magnitude_through_depth() {
    let vgg = Vgg::random(VggKind::Vgg19, 3);
    let names = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"];
    let x = Var::constant(Tensor::rand_uniform(&[1, 3, 64, 64], 0.0, 1.0, 4, DType::F32));
    for (name, f) in names.iter().zip(vgg.forward_features(&x, &names).unwrap()) {
        let rms = f.value().square().mean_all().to_scalar().sqrt();
        assert!((0.05..50.0).contains(&rms), "{name}: rms activation {rms}");
    }
}

#[test]
fn weights_round_trip_in_every_storage_dtype() {
    let dir = temp_dir("roundtrip");
    let reference = {
        let path = dir.join("f32.safetensors");
        Vgg::write_weights(
            &path,
            VggKind::Vgg16,
            &convs(VggKind::Vgg16),
            InputConvention::Torchvision,
            DType::F32,
            "test",
        )
        .unwrap();
        Vgg::load(&path).unwrap().forward_features(&image(), &["relu4_3"]).unwrap()[0].value().to_f64_vec()
    };
    for (dtype, tolerance) in [(DType::F32, 0.0), (DType::F16, 2e-2), (DType::BF16, 1e-1)] {
        let path = dir.join(format!("{dtype}.safetensors"));
        Vgg::write_weights(&path, VggKind::Vgg16, &convs(VggKind::Vgg16), InputConvention::Torchvision, dtype, "test")
            .unwrap();
        let info = Vgg::inspect(&path).unwrap();
        assert_eq!((info.kind, info.dtype, info.widths.clone()), (VggKind::Vgg16, dtype, WIDTHS.to_vec()));
        let vgg = Vgg::load(&path).unwrap();
        let out = vgg.forward_features(&image(), &["relu4_3"]).unwrap()[0].value().to_f64_vec();
        let scale = reference.iter().map(|v| v.abs()).fold(0.0, f64::max);
        let worst = out.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst <= tolerance * scale, "{dtype}: worst difference {worst} (scale {scale})");
    }
}

#[test]
fn caffe_convention_flips_to_bgr_and_subtracts_the_mean() {
    let dir = temp_dir("caffe");
    let path = dir.join("caffe.safetensors");
    let convention = InputConvention::Caffe { mean_bgr: CAFFE_MEAN_BGR };
    Vgg::write_weights(&path, VggKind::Vgg19, &convs(VggKind::Vgg19), convention, DType::F16, "test").unwrap();
    let vgg = Vgg::load(&path).unwrap();
    assert_eq!(vgg.convention(), convention);
    let rgb = Var::constant(Tensor::from_vec(vec![1.0f32, 0.5, 0.0], &[1, 3, 1, 1]));
    let prepared = vgg.preprocess(&rgb).unwrap().value().to_f64_vec();
    let expected = [0.0 - 103.939, 127.5 - 116.779, 255.0 - 123.68];
    for (p, e) in prepared.iter().zip(expected) {
        assert!((p - e).abs() < 1e-3, "{prepared:?} vs {expected:?}");
    }
}

#[test]
fn metadata_in_the_shared_files_style_selects_caffe() {
    let metadata: HashMap<String, String> = [
        ("input".to_string(), "BGR, 0-255 scale, minus mean".to_string()),
        ("mean_bgr".to_string(), "103.939,116.779,123.68".to_string()),
    ]
    .into();
    assert_eq!(InputConvention::from_metadata(&metadata), InputConvention::Caffe { mean_bgr: CAFFE_MEAN_BGR });
    assert_eq!(InputConvention::from_metadata(&HashMap::new()), InputConvention::Torchvision);
}

#[test]
fn average_pooling_changes_the_deeper_features() {
    let mut vgg = Vgg::random_with_widths(VggKind::Vgg16, WIDTHS, 2);
    let max = vgg.forward_features(&image(), &["conv2_1"]).unwrap()[0].value().to_f64_vec();
    vgg.set_pooling(Pooling::Average);
    let avg = vgg.forward_features(&image(), &["conv2_1"]).unwrap()[0].value().to_f64_vec();
    assert_ne!(max, avg);
}

fn write_raw(path: &Path, tensors: BTreeMap<String, Tensor>) {
    write_safetensors(path, &tensors, &HashMap::new()).unwrap();
}

fn valid_tensors() -> BTreeMap<String, Tensor> {
    let dir = temp_dir("valid");
    let path = dir.join("valid.safetensors");
    Vgg::write_weights(&path, VggKind::Vgg16, &convs(VggKind::Vgg16), InputConvention::Torchvision, DType::F32, "t")
        .unwrap();
    TensorFile::read(&path).unwrap().tensors
}

#[test]
fn wrong_files_fail_with_the_file_key_and_shapes() {
    let dir = temp_dir("errors");

    let missing = dir.join("missing.safetensors");
    let mut tensors = valid_tensors();
    tensors.remove("features.7.bias");
    write_raw(&missing, tensors);
    let message = Vgg::load(&missing).err().unwrap().to_string();
    assert!(message.contains("missing.safetensors") && message.contains("features.7.bias"), "{message}");

    let wrong = dir.join("wrong.safetensors");
    let mut tensors = valid_tensors();
    tensors.insert("features.2.weight".into(), Tensor::zeros(&[4, 5, 3, 3], DType::F32));
    write_raw(&wrong, tensors);
    let message = Vgg::load(&wrong).err().unwrap().to_string();
    assert!(
        message.contains("features.2.weight") && message.contains("[4, 5, 3, 3]") && message.contains("[4, 4, 3, 3]"),
        "{message}"
    );

    let not_vgg = dir.join("resnet.safetensors");
    write_raw(&not_vgg, [("layer1.0.conv1.weight".to_string(), Tensor::zeros(&[2, 2], DType::F32))].into());
    let message = Vgg::load(&not_vgg).err().unwrap().to_string();
    assert!(message.contains("resnet.safetensors") && message.contains("not a VGG"), "{message}");

    let garbage = dir.join("garbage.safetensors");
    std::fs::write(&garbage, b"this is not a safetensors file at all").unwrap();
    let message = Vgg::load(&garbage).err().unwrap().to_string();
    assert!(message.contains("garbage.safetensors") && message.contains("not a valid safetensors"), "{message}");

    let absent = dir.join("absent.safetensors");
    let message = Vgg::load(&absent).err().unwrap().to_string();
    assert!(message.contains("absent.safetensors"), "{message}");
}

#[test]
fn integer_tensors_are_an_unsupported_dtype() {
    let dir = temp_dir("int");
    let path = dir.join("int.safetensors");
    let data = vec![0u8; 16];
    let view = safetensors::tensor::TensorView::new(safetensors::Dtype::I32, vec![4], &data).unwrap();
    std::fs::write(&path, safetensors::serialize([("features.0.weight", view)], None).unwrap()).unwrap();
    let message = Vgg::load(&path).err().unwrap().to_string();
    assert!(message.contains("features.0.weight") && message.contains("unsupported dtype I32"), "{message}");
}

#[test]
fn unknown_layer_names_are_rejected() {
    let vgg = Vgg::random_with_widths(VggKind::Vgg16, WIDTHS, 1);
    let message = vgg.forward_features(&image(), &["relu6_1"]).err().unwrap().to_string();
    assert!(message.contains("relu6_1"), "{message}");
}

#[test]
fn shared_pretrained_vgg16_loads_with_its_caffe_convention() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/weights/vgg16-imagenet-keras-f16.safetensors");
    if !path.exists() {
        println!("skipped: {} is absent (it lives beside the checkout, not in a clone)", path.display());
        return;
    }
    let info = Vgg::inspect(&path).unwrap();
    assert_eq!((info.kind, info.dtype, info.widths), (VggKind::Vgg16, DType::F16, vec![64, 128, 256, 512, 512]));
    assert_eq!(info.convention, InputConvention::Caffe { mean_bgr: CAFFE_MEAN_BGR });
    let vgg = Vgg::load(&path).unwrap();
    let x = Var::constant(Tensor::rand_uniform(&[1, 3, 32, 32], 0.0, 1.0, 1, DType::F32));
    let relu = vgg.forward_features(&x, &["relu3_1"]).unwrap()[0].value().to_f64_vec();
    assert!(relu.iter().all(|v| v.is_finite() && *v >= 0.0));
}
