//! A minimal ONNX (protobuf wire format) encoder for tests: a Keras-style
//! VGG-16 export with random weights, shared by the importer's tests, the
//! weights-fetch tests and the parser fuzz tests (`#[path]`-included).

use nn::VggKind;
use tensor::{DType, Tensor};

fn varint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn bytes_field(number: u64, payload: &[u8], out: &mut Vec<u8>) {
    varint(number << 3 | 2, out);
    varint(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

fn varint_field(number: u64, value: u64, out: &mut Vec<u8>) {
    varint(number << 3, out);
    varint(value, out);
}

/// A FLOAT TensorProto: raw little-endian bytes, or packed `float_data`.
fn tensor_proto(name: &str, t: &Tensor, packed_floats: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for &d in t.shape() {
        varint_field(1, d as u64, &mut out);
    }
    varint_field(2, 1, &mut out);
    let bytes: Vec<u8> = t.to_vec::<f32>().iter().flat_map(|v| v.to_le_bytes()).collect();
    if packed_floats {
        bytes_field(4, &bytes, &mut out);
    }
    bytes_field(8, name.as_bytes(), &mut out);
    if !packed_floats {
        bytes_field(9, &bytes, &mut out);
    }
    out
}

fn node(op: &str, inputs: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for i in inputs {
        bytes_field(1, i.as_bytes(), &mut out);
    }
    bytes_field(4, op.as_bytes(), &mut out);
    out
}

/// A model with a layout transpose, the VGG-16 conv/relu/pool sequence with
/// Keras-style names, and a classifier head that the importer must ignore.
pub fn keras_style_vgg16(widths: [usize; 5]) -> (Vec<u8>, Vec<(Tensor, Tensor)>) {
    let mut graph = Vec::new();
    bytes_field(1, &node("Transpose", &["input"]), &mut graph);
    let mut convs = Vec::new();
    let mut inputs = 3;
    for (b, count) in VggKind::Vgg16.blocks().into_iter().enumerate() {
        for i in 1..=count {
            let w = Tensor::randn(&[widths[b], inputs, 3, 3], 0.0, 0.2, (b * 10 + i) as u64, DType::F32);
            let bias = Tensor::randn(&[widths[b]], 0.0, 0.1, (b * 10 + i + 50) as u64, DType::F32);
            let (wn, bn) = (
                format!("functional_1/block{}_conv{i}_1/ReadVariableOp:0", b + 1),
                format!("block{}_conv{i}/Squeeze:0", b + 1),
            );
            bytes_field(1, &node("Conv", &["x", &wn, &bn]), &mut graph);
            bytes_field(1, &node("Relu", &["y"]), &mut graph);
            bytes_field(5, &tensor_proto(&wn, &w, b % 2 == 0), &mut graph);
            bytes_field(5, &tensor_proto(&bn, &bias, false), &mut graph);
            convs.push((w, bias));
            inputs = widths[b];
        }
        bytes_field(1, &node("MaxPool", &["z"]), &mut graph);
    }
    bytes_field(1, &node("Flatten", &["z"]), &mut graph);
    bytes_field(1, &node("Gemm", &["z", "dense_w", "dense_b"]), &mut graph);
    let mut model = Vec::new();
    varint_field(1, 7, &mut model); // ir_version
    bytes_field(7, &graph, &mut model);
    (model, convs)
}
