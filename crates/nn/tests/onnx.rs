//! Importing VGG convolutions from ONNX models that the test writes itself
//! (the minimal protobuf encoder is in `support/onnx_writer.rs`).

use nn::onnx::read_vgg;
use nn::{InputConvention, Vgg, VggKind};
use tensor::DType;

#[path = "support/onnx_writer.rs"]
mod onnx_writer;
use onnx_writer::keras_style_vgg16;

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("fresco-onnx-{}-{name}", std::process::id()))
}

#[test]
fn keras_export_imports_as_vgg16_with_caffe_convention() {
    let (model, convs) = keras_style_vgg16([4, 5, 6, 6, 6]);
    let path = temp("keras.onnx");
    std::fs::write(&path, model).unwrap();
    let imported = read_vgg(&path).unwrap();
    assert_eq!(imported.kind, VggKind::Vgg16);
    assert!(matches!(imported.convention, InputConvention::Caffe { .. }));
    assert_eq!(imported.convs.len(), 13);
    for ((w, b), (ew, eb)) in imported.convs.iter().zip(&convs) {
        assert_eq!(w.to_vec::<f32>(), ew.to_vec::<f32>());
        assert_eq!(b.to_vec::<f32>(), eb.to_vec::<f32>());
    }
    // And the canonical file written from it loads as a VGG.
    let out = temp("keras.safetensors");
    Vgg::write_weights(&out, imported.kind, &imported.convs, imported.convention, DType::F16, "test").unwrap();
    let info = Vgg::inspect(&out).unwrap();
    assert_eq!((info.kind, info.dtype, info.widths), (VggKind::Vgg16, DType::F16, vec![4, 5, 6, 6, 6]));
}

#[test]
fn truncated_and_foreign_files_are_rejected_with_the_path() {
    let (model, _) = keras_style_vgg16([2, 2, 2, 2, 2]);
    let path = temp("truncated.onnx");
    std::fs::write(&path, &model[..model.len() / 2]).unwrap();
    let message = read_vgg(&path).err().unwrap().to_string();
    assert!(message.contains("truncated.onnx"), "{message}");

    let path = temp("text.onnx");
    std::fs::write(&path, b"hello, this is text").unwrap();
    let message = read_vgg(&path).err().unwrap().to_string();
    assert!(message.contains("text.onnx"), "{message}");
}
