//! Reading the convolution weights of a VGG out of an ONNX model.
//!
//! ONNX files are protocol buffers. We decode the wire format ourselves:
//! the few fields we need (the graph's nodes and initialisers) take a
//! hundred lines, where a protobuf crate would bring code generation and a
//! `protoc` build dependency. Convolutions are taken in graph order, with
//! their weight (input 1) and bias (input 2) initialisers; their position
//! among the Conv, Relu and MaxPool nodes gives the torchvision index.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use half::{bf16, f16};
use tensor::{DType, Tensor};

use crate::error::{NnError, Result};
use crate::vgg::{InputConvention, VggKind, CAFFE_MEAN_BGR};

/// One field of a protobuf message.
enum Field<'a> {
    Varint(u64),
    Fixed(u64),
    Bytes(&'a [u8]),
}

/// Iterates over the (field number, value) pairs of a message.
struct Fields<'a> {
    bytes: &'a [u8],
}

fn read_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

impl<'a> Iterator for Fields<'a> {
    type Item = std::result::Result<(u64, Field<'a>), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.bytes.is_empty() {
            return None;
        }
        let parsed = (|| {
            let key = read_varint(&mut self.bytes).ok_or("truncated field key")?;
            let field = match key & 7 {
                0 => Field::Varint(read_varint(&mut self.bytes).ok_or("truncated varint")?),
                1 | 5 => {
                    let width = if key & 7 == 1 { 8 } else { 4 };
                    let (raw, rest) = self.bytes.split_at_checked(width).ok_or("truncated fixed-width field")?;
                    self.bytes = rest;
                    let mut buffer = [0u8; 8];
                    buffer[..width].copy_from_slice(raw);
                    Field::Fixed(u64::from_le_bytes(buffer))
                }
                2 => {
                    let len = read_varint(&mut self.bytes).ok_or("truncated length")? as usize;
                    let (raw, rest) = self.bytes.split_at_checked(len).ok_or("length past the end of the message")?;
                    self.bytes = rest;
                    Field::Bytes(raw)
                }
                other => return Err(format!("unsupported wire type {other}")),
            };
            Ok((key >> 3, field))
        })();
        if parsed.is_err() {
            self.bytes = &[];
        }
        Some(parsed)
    }
}

fn fields(bytes: &[u8]) -> Fields<'_> {
    Fields { bytes }
}

/// An ONNX `TensorProto`, as much of it as weights need.
#[derive(Default)]
struct TensorProto<'a> {
    name: String,
    dims: Vec<usize>,
    data_type: u64,
    raw_data: Option<&'a [u8]>,
    float_data: Vec<f32>,
    double_data: Vec<f64>,
    int32_data: Vec<u64>,
    external: HashMap<String, String>,
}

/// Values of a repeated numeric field, packed or not.
fn push_repeated(field: Field<'_>, out: &mut Vec<u64>, width: usize) {
    match field {
        Field::Varint(v) | Field::Fixed(v) => out.push(v),
        Field::Bytes(mut packed) => {
            if width == 0 {
                while let Some(v) = read_varint(&mut packed) {
                    out.push(v);
                }
            } else {
                for chunk in packed.chunks_exact(width) {
                    let mut buffer = [0u8; 8];
                    buffer[..width].copy_from_slice(chunk);
                    out.push(u64::from_le_bytes(buffer));
                }
            }
        }
    }
}

fn string(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn parse_tensor(bytes: &[u8]) -> std::result::Result<TensorProto<'_>, String> {
    let mut t = TensorProto::default();
    let (mut dims, mut floats, mut doubles) = (Vec::new(), Vec::new(), Vec::new());
    for field in fields(bytes) {
        match field? {
            (1, f) => push_repeated(f, &mut dims, 0),
            (2, Field::Varint(v)) => t.data_type = v,
            (4, f) => push_repeated(f, &mut floats, 4),
            (5, f) => push_repeated(f, &mut t.int32_data, 0),
            (8, Field::Bytes(b)) => t.name = string(b),
            (9, Field::Bytes(b)) => t.raw_data = Some(b),
            (10, f) => push_repeated(f, &mut doubles, 8),
            (13, Field::Bytes(entry)) => {
                let (mut key, mut value) = (String::new(), String::new());
                for f in fields(entry) {
                    match f? {
                        (1, Field::Bytes(b)) => key = string(b),
                        (2, Field::Bytes(b)) => value = string(b),
                        _ => {}
                    }
                }
                t.external.insert(key, value);
            }
            _ => {}
        }
    }
    t.dims = dims.into_iter().map(|d| d as usize).collect();
    t.float_data = floats.into_iter().map(|v| f32::from_bits(v as u32)).collect();
    t.double_data = doubles.into_iter().map(f64::from_bits).collect();
    Ok(t)
}

/// ONNX data types we read: FLOAT, FLOAT16, DOUBLE, BFLOAT16.
const FLOAT: u64 = 1;
const FLOAT16: u64 = 10;
const DOUBLE: u64 = 11;
const BFLOAT16: u64 = 16;

impl TensorProto<'_> {
    /// The values as an f32 tensor; external data is read relative to `dir`.
    fn to_tensor(&self, dir: &Path, model: &Path) -> Result<Tensor> {
        let bad = |detail: String| NnError::Architecture { path: model.to_path_buf(), detail };
        let external;
        let raw = if let Some(location) = self.external.get("location") {
            let file = dir.join(location);
            let all = std::fs::read(&file).map_err(|e| NnError::io(&file, e))?;
            let offset: usize = self.external.get("offset").and_then(|v| v.parse().ok()).unwrap_or(0);
            let length: usize =
                self.external.get("length").and_then(|v| v.parse().ok()).unwrap_or(all.len() - offset.min(all.len()));
            external = all
                .get(offset..offset + length)
                .ok_or_else(|| bad(format!("{}: external data out of range", self.name)))?
                .to_vec();
            Some(external.as_slice())
        } else {
            self.raw_data
        };
        let n: usize = self.dims.iter().product();
        let values: Vec<f32> = match (self.data_type, raw) {
            (FLOAT, Some(raw)) => {
                raw.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))).collect()
            }
            (FLOAT, None) => self.float_data.clone(),
            (DOUBLE, Some(raw)) => {
                raw.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32).collect()
            }
            (DOUBLE, None) => self.double_data.iter().map(|&v| v as f32).collect(),
            (FLOAT16, Some(raw)) => raw.chunks_exact(2).map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            (FLOAT16, None) => self.int32_data.iter().map(|&v| f16::from_bits(v as u16).to_f32()).collect(),
            (BFLOAT16, Some(raw)) => raw.chunks_exact(2).map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            (BFLOAT16, None) => self.int32_data.iter().map(|&v| bf16::from_bits(v as u16).to_f32()).collect(),
            (other, _) => {
                return Err(bad(format!(
                    "initialiser `{}` has ONNX data type {other}; expected float, double, float16 or bfloat16",
                    self.name
                )))
            }
        };
        if values.len() != n {
            return Err(bad(format!(
                "initialiser `{}` holds {} values for shape {:?}",
                self.name,
                values.len(),
                self.dims
            )));
        }
        Ok(Tensor::from_vec(values, &self.dims))
    }
}

/// A graph node: op type and input names.
struct Node {
    op_type: String,
    inputs: Vec<String>,
}

/// The convolution weights of a VGG read from an ONNX model.
pub struct OnnxVgg {
    /// VGG-16 or VGG-19.
    pub kind: VggKind,
    /// (weight OIHW, bias) per convolution, in order.
    pub convs: Vec<(Tensor, Tensor)>,
    /// The input convention guessed from the names (Keras exports use
    /// `block{b}_conv{i}` and Caffe's BGR convention).
    pub convention: InputConvention,
}

/// Reads the VGG convolutions of the ONNX model at `path`.
pub fn read_vgg(path: &Path) -> Result<OnnxVgg> {
    let bytes = std::fs::read(path).map_err(|e| NnError::io(path, e))?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let bad = |detail: String| NnError::Architecture { path: path.to_path_buf(), detail };
    let malformed = |e: String| bad(format!("not a valid ONNX model: {e}"));
    let graph = fields(&bytes)
        .find_map(|f| match f {
            Ok((7, Field::Bytes(g))) => Some(Ok(g)),
            Err(e) => Some(Err(e)),
            _ => None,
        })
        .ok_or_else(|| bad("not an ONNX model: no graph".into()))?
        .map_err(malformed)?;
    let mut nodes = Vec::new();
    let mut initialisers = HashMap::new();
    for field in fields(graph) {
        match field.map_err(malformed)? {
            (1, Field::Bytes(node)) => {
                let mut parsed = Node { op_type: String::new(), inputs: Vec::new() };
                for f in fields(node) {
                    match f.map_err(malformed)? {
                        (1, Field::Bytes(b)) => parsed.inputs.push(string(b)),
                        (4, Field::Bytes(b)) => parsed.op_type = string(b),
                        _ => {}
                    }
                }
                nodes.push(parsed);
            }
            (5, Field::Bytes(t)) => {
                let t = parse_tensor(t).map_err(malformed)?;
                initialisers.insert(t.name.clone(), t);
            }
            _ => {}
        }
    }
    let mut convs = Vec::new();
    let mut indices = Vec::new();
    let mut index = 0;
    let mut keras_names = false;
    for node in &nodes {
        match node.op_type.as_str() {
            "Conv" => {
                let weight_name = node.inputs.get(1).ok_or_else(|| bad("a Conv node has no weight input".into()))?;
                keras_names |= weight_name.contains("block1_conv1");
                let lookup = |name: &String| {
                    initialisers.get(name).ok_or_else(|| bad(format!("Conv input `{name}` is not an initialiser (weights computed at run time are not supported)")))
                };
                let weight = lookup(weight_name)?.to_tensor(&dir, path)?;
                let bias = match node.inputs.get(2).filter(|n| !n.is_empty()) {
                    Some(name) => lookup(name)?.to_tensor(&dir, path)?,
                    None => Tensor::zeros(&[weight.shape()[0]], DType::F32),
                };
                convs.push((weight, bias));
                indices.push(index);
                index += 1;
            }
            "Relu" | "MaxPool" | "AveragePool" => index += 1,
            _ => {}
        }
    }
    let kind = [VggKind::Vgg16, VggKind::Vgg19].into_iter().find(|k| k.conv_indices() == indices).ok_or_else(|| {
        bad(format!(
            "its {} convolutions (at feature positions {indices:?}) are not a VGG-16 or VGG-19 stack",
            convs.len()
        ))
    })?;
    let convention =
        if keras_names { InputConvention::Caffe { mean_bgr: CAFFE_MEAN_BGR } } else { InputConvention::Torchvision };
    Ok(OnnxVgg { kind, convs, convention })
}
