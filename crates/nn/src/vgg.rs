//! VGG-16 and VGG-19 convolutional stacks as frozen feature extractors, in
//! torchvision's layout (`features.{i}.weight` / `.bias`), with the layer
//! names of neural-style (`conv1_1`, `relu1_1`, `pool1`, …).
//!
//! Weights come from a safetensors file (f32, f16 or bf16; the architecture
//! is read off the keys, channel widths off the shapes) or, offline, from a
//! seeded random-feature network. The file's metadata says how images must
//! be prepared: torchvision's RGB in 0–1 normalised by ImageNet mean and
//! std, or Caffe/Keras's BGR in 0–255 minus a mean.

use std::collections::HashMap;
use std::path::Path;

use autograd::Var;
use tensor::{Conv2dParams, DType, Pool2dParams, Tensor};

use crate::error::{NnError, Result};
use crate::io::{write_safetensors, TensorFile};
use crate::params::Init;

/// Which VGG.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VggKind {
    /// 13 convolutions in blocks of 2, 2, 3, 3, 3.
    Vgg16,
    /// 16 convolutions in blocks of 2, 2, 4, 4, 4.
    Vgg19,
}

impl VggKind {
    /// Convolutions per block.
    pub fn blocks(self) -> [usize; 5] {
        match self {
            VggKind::Vgg16 => [2, 2, 3, 3, 3],
            VggKind::Vgg19 => [2, 2, 4, 4, 4],
        }
    }

    /// torchvision's indices of the convolutions in `features`.
    pub fn conv_indices(self) -> Vec<usize> {
        let mut indices = Vec::new();
        let mut i = 0;
        for convs in self.blocks() {
            for _ in 0..convs {
                indices.push(i);
                i += 2; // conv, relu
            }
            i += 1; // pool
        }
        indices
    }

    /// `"vgg16"` or `"vgg19"`.
    pub fn name(self) -> &'static str {
        match self {
            VggKind::Vgg16 => "vgg16",
            VggKind::Vgg19 => "vgg19",
        }
    }
}

/// The standard channel widths of the five blocks.
pub const VGG_WIDTHS: [usize; 5] = [64, 128, 256, 512, 512];

/// How the network expects its input image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum InputConvention {
    /// RGB in 0–1, minus ImageNet mean (0.485, 0.456, 0.406), divided by std
    /// (0.229, 0.224, 0.225).
    Torchvision,
    /// BGR in 0–255 minus a per-channel mean (given B, G, R).
    Caffe {
        /// Mean of the B, G and R channels on the 0–255 scale.
        mean_bgr: [f64; 3],
    },
}

/// The Caffe/Keras ImageNet mean, B, G, R.
pub const CAFFE_MEAN_BGR: [f64; 3] = [103.939, 116.779, 123.68];
const TORCHVISION_MEAN: [f64; 3] = [0.485, 0.456, 0.406];
const TORCHVISION_STD: [f64; 3] = [0.229, 0.224, 0.225];

impl InputConvention {
    /// Reads the convention from safetensors metadata: our own
    /// `input_convention` key, or a free-text `input` mentioning BGR (with
    /// `mean_bgr`), else torchvision's.
    pub fn from_metadata(metadata: &HashMap<String, String>) -> InputConvention {
        let caffe = match metadata.get("input_convention").map(String::as_str) {
            Some(c) => c.eq_ignore_ascii_case("caffe"),
            None => metadata.get("input").is_some_and(|s| s.to_ascii_uppercase().contains("BGR")),
        };
        if !caffe {
            return InputConvention::Torchvision;
        }
        let mean = metadata.get("mean_bgr").and_then(|s| {
            let values: Vec<f64> = s.split(',').filter_map(|v| v.trim().parse().ok()).collect();
            <[f64; 3]>::try_from(values).ok()
        });
        InputConvention::Caffe { mean_bgr: mean.unwrap_or(CAFFE_MEAN_BGR) }
    }

    /// Metadata entries that [`InputConvention::from_metadata`] reads back.
    pub fn to_metadata(self) -> Vec<(String, String)> {
        match self {
            InputConvention::Torchvision => vec![("input_convention".into(), "torchvision".into())],
            InputConvention::Caffe { mean_bgr } => vec![
                ("input_convention".into(), "caffe".into()),
                ("input".into(), "BGR, 0-255 scale, minus mean".into()),
                ("mean_bgr".into(), format!("{},{},{}", mean_bgr[0], mean_bgr[1], mean_bgr[2])),
            ],
        }
    }

    /// A one-line description.
    pub fn describe(self) -> String {
        match self {
            InputConvention::Torchvision => "torchvision (RGB 0-1, ImageNet mean/std)".into(),
            InputConvention::Caffe { mean_bgr: [b, g, r] } => {
                format!("Caffe/Keras (BGR 0-255 minus mean {b}, {g}, {r})")
            }
        }
    }
}

/// Max or average pooling between blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pooling {
    /// 2×2 max pooling (the trained networks').
    Max,
    /// 2×2 average pooling (Gatys et al. found it gives smoother results).
    Average,
}

#[derive(Clone)]
enum Layer {
    Conv { weight: Var, bias: Var },
    Relu,
    Pool,
}

/// A VGG feature extractor with frozen weights. A clone shares them.
#[derive(Clone)]
pub struct Vgg {
    kind: VggKind,
    names: Vec<String>,
    layers: Vec<Layer>,
    convention: InputConvention,
    pooling: Pooling,
    description: String,
}

/// Summary of a weights file, for `fresco weights info`.
#[derive(Clone, Debug)]
pub struct VggInfo {
    /// VGG-16 or VGG-19.
    pub kind: VggKind,
    /// Channel width of each block.
    pub widths: Vec<usize>,
    /// Element type on disk.
    pub dtype: DType,
    /// Expected input preparation.
    pub convention: InputConvention,
    /// Number of weights and biases.
    pub parameters: usize,
    /// The file's metadata.
    pub metadata: HashMap<String, String>,
}

impl Vgg {
    fn build(kind: VggKind, convs: Vec<(Tensor, Tensor)>, convention: InputConvention, description: String) -> Vgg {
        let mut names = Vec::new();
        let mut layers = Vec::new();
        let mut convs = convs.into_iter();
        for (b, count) in kind.blocks().into_iter().enumerate() {
            for i in 1..=count {
                let (weight, bias) = convs.next().expect("one (weight, bias) per convolution");
                names.push(format!("conv{}_{i}", b + 1));
                layers.push(Layer::Conv { weight: Var::constant(weight), bias: Var::constant(bias) });
                names.push(format!("relu{}_{i}", b + 1));
                layers.push(Layer::Relu);
            }
            names.push(format!("pool{}", b + 1));
            layers.push(Layer::Pool);
        }
        Vgg { kind, names, layers, convention, pooling: Pooling::Max, description }
    }

    /// A deterministic random-feature VGG (standard widths): Kaiming-normal
    /// weights keep the activations' magnitude steady through the ReLUs, so
    /// Gram matrices of every layer stay usable. Torchvision input convention.
    pub fn random(kind: VggKind, seed: u64) -> Vgg {
        Self::random_with_widths(kind, VGG_WIDTHS, seed)
    }

    /// A random-feature VGG with the given block widths (small ones for tests).
    pub fn random_with_widths(kind: VggKind, widths: [usize; 5], seed: u64) -> Vgg {
        let mut convs = Vec::new();
        let mut inputs = 3;
        for (b, count) in kind.blocks().into_iter().enumerate() {
            for i in 0..count {
                let shape = [widths[b], inputs, 3, 3];
                let seed = seed.wrapping_mul(0x9E37_79B9).wrapping_add((b * 8 + i) as u64);
                let weight = Init::KaimingNormal { slope: 0.0 }.tensor(&shape, seed, DType::F32);
                convs.push((weight, Tensor::zeros(&[widths[b]], DType::F32)));
                inputs = widths[b];
            }
        }
        let description = format!("random-feature {} (seed {seed})", kind.name());
        Self::build(kind, convs, InputConvention::Torchvision, description)
    }

    /// Reads the architecture, widths and convention of a weights file and
    /// checks every shape, returning the convolutions in order.
    fn parse(file: &TensorFile) -> Result<(VggInfo, Vec<(Tensor, Tensor)>)> {
        let path = &file.path;
        let mut indices: Vec<usize> = file
            .tensors
            .keys()
            .filter_map(|k| k.strip_prefix("features.")?.strip_suffix(".weight")?.parse().ok())
            .collect();
        indices.sort_unstable();
        let kind =
            [VggKind::Vgg16, VggKind::Vgg19].into_iter().find(|k| k.conv_indices() == indices).ok_or_else(|| {
                let hint = if indices.is_empty() {
                    format!(
                        "no `features.{{i}}.weight` keys (found {})",
                        file.tensors.keys().take(4).cloned().collect::<Vec<_>>().join(", ")
                    )
                } else {
                    format!("convolutions at features {indices:?}")
                };
                NnError::Architecture {
                    path: path.clone(),
                    detail: format!(
                    "not a VGG-16 or VGG-19 feature stack: {hint}; expected features {:?} (VGG-16) or {:?} (VGG-19)",
                    VggKind::Vgg16.conv_indices(),
                    VggKind::Vgg19.conv_indices()
                ),
                }
            })?;
        let mut convs = Vec::new();
        let mut widths = Vec::new();
        let mut inputs = 3;
        let mut dtype = DType::F32;
        let mut parameters = 0;
        let blocks = kind.blocks();
        let mut block_of = blocks.iter().enumerate().flat_map(|(b, &n)| std::iter::repeat_n(b, n));
        for index in kind.conv_indices() {
            let key = format!("features.{index}.weight");
            let stored = &file.tensors[&key];
            dtype = stored.dtype();
            let outputs = stored.shape().first().copied().unwrap_or(0);
            let weight = file.take(&key, &[outputs, inputs, 3, 3], DType::F32)?;
            let bias_key = format!("features.{index}.bias");
            if !file.tensors.contains_key(&bias_key) {
                let hint = format!(" (the bias of {key})");
                return Err(NnError::MissingKey { path: path.clone(), key: bias_key, hint });
            }
            let bias = file.take(&bias_key, &[outputs], DType::F32)?;
            parameters += weight.numel() + bias.numel();
            let block = block_of.next().expect("one block per convolution");
            if widths.len() == block {
                widths.push(outputs);
            }
            convs.push((weight, bias));
            inputs = outputs;
        }
        let convention = InputConvention::from_metadata(&file.metadata);
        let info = VggInfo { kind, widths, dtype, convention, parameters, metadata: file.metadata.clone() };
        Ok((info, convs))
    }

    /// Loads a VGG from a safetensors file.
    pub fn load(path: &Path) -> Result<Vgg> {
        Self::from_file(&TensorFile::read(path)?)
    }

    /// Builds a VGG from a read weights file.
    pub fn from_file(file: &TensorFile) -> Result<Vgg> {
        let (info, convs) = Self::parse(file)?;
        let description = format!("{} from {}", info.kind.name(), file.path.display());
        Ok(Self::build(info.kind, convs, info.convention, description))
    }

    /// Describes a weights file without keeping the network.
    pub fn inspect(path: &Path) -> Result<VggInfo> {
        Ok(Self::parse(&TensorFile::read(path)?)?.0)
    }

    /// Writes convolution weights as a canonical VGG safetensors file
    /// (torchvision keys, `dtype` on disk, the convention in the metadata),
    /// atomically. `convs` holds (weight OIHW, bias) in network order.
    pub fn write_weights(
        path: &Path,
        kind: VggKind,
        convs: &[(Tensor, Tensor)],
        convention: InputConvention,
        dtype: DType,
        source: &str,
    ) -> Result<()> {
        let indices = kind.conv_indices();
        if convs.len() != indices.len() {
            return Err(NnError::Architecture {
                path: path.to_path_buf(),
                detail: format!("{} needs {} convolutions, got {}", kind.name(), indices.len(), convs.len()),
            });
        }
        let mut tensors = std::collections::BTreeMap::new();
        for (&i, (w, b)) in indices.iter().zip(convs) {
            tensors.insert(format!("features.{i}.weight"), w.to_dtype(DType::F32).to_dtype(dtype));
            tensors.insert(format!("features.{i}.bias"), b.to_dtype(DType::F32).to_dtype(dtype));
        }
        let mut metadata: HashMap<String, String> = convention.to_metadata().into_iter().collect();
        metadata.insert("architecture".into(), kind.name().into());
        metadata.insert("layout".into(), "torchvision features.{i}".into());
        metadata.insert("source".into(), source.into());
        write_safetensors(path, &tensors, &metadata)
    }

    /// VGG-16 or VGG-19.
    pub fn kind(&self) -> VggKind {
        self.kind
    }

    /// Where the weights came from.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// How input images are prepared.
    pub fn convention(&self) -> InputConvention {
        self.convention
    }

    /// Chooses max or average pooling.
    pub fn set_pooling(&mut self, pooling: Pooling) {
        self.pooling = pooling;
    }

    /// The layer names in order (`conv1_1`, `relu1_1`, …, `pool5`).
    pub fn layer_names(&self) -> &[String] {
        &self.names
    }

    /// The same network computing in `dtype` (f64 for gradient checks).
    pub fn to_dtype(&self, dtype: DType) -> Vgg {
        let layers = self
            .layers
            .iter()
            .map(|l| match l {
                Layer::Conv { weight, bias } => Layer::Conv {
                    weight: Var::constant(weight.value().to_dtype(dtype)),
                    bias: Var::constant(bias.value().to_dtype(dtype)),
                },
                Layer::Relu => Layer::Relu,
                Layer::Pool => Layer::Pool,
            })
            .collect();
        Vgg { layers, names: self.names.clone(), description: self.description.clone(), ..*self }
    }

    /// The same network with its weights on `device` (fails with the
    /// device's error when it is not available).
    pub fn to_device(&self, device: tensor::Device) -> Result<Vgg> {
        let layers = self
            .layers
            .iter()
            .map(|l| {
                Ok(match l {
                    Layer::Conv { weight, bias } => Layer::Conv {
                        weight: Var::constant(weight.value().try_to_device(device)?),
                        bias: Var::constant(bias.value().try_to_device(device)?),
                    },
                    Layer::Relu => Layer::Relu,
                    Layer::Pool => Layer::Pool,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Vgg { layers, names: self.names.clone(), description: self.description.clone(), ..*self })
    }

    /// Maps an RGB image in 0–1 (`[N, 3, H, W]`) to the network's input
    /// convention, differentiably.
    pub fn preprocess(&self, image: &Var) -> Result<Var> {
        let (dtype, device) = (image.dtype(), image.value().device());
        let per_channel = |values: [f64; 3]| -> Result<Var> {
            Ok(Var::constant(Tensor::from_fn(&[1, 3, 1, 1], dtype, |c| values[c]).try_to_device(device)?))
        };
        Ok(match self.convention {
            InputConvention::Torchvision => {
                let scale = TORCHVISION_STD.map(|s| 1.0 / s);
                let shift = [0, 1, 2].map(|c| -TORCHVISION_MEAN[c] / TORCHVISION_STD[c]);
                image.try_mul(&per_channel(scale)?)?.try_add(&per_channel(shift)?)?
            }
            InputConvention::Caffe { mean_bgr } => {
                let channel = |c| image.try_narrow(1, c, 1);
                let bgr = Var::try_cat(&[&channel(2)?, &channel(1)?, &channel(0)?], 1)?;
                bgr.mul_scalar(255.0).try_sub(&per_channel(mean_bgr)?)?
            }
        })
    }

    /// The activations at `layers` (in that order) of an RGB image in 0–1;
    /// the network runs only as deep as the deepest one asked for.
    pub fn forward_features(&self, image: &Var, layers: &[&str]) -> Result<Vec<Var>> {
        let wanted: Vec<usize> = layers
            .iter()
            .map(|name| {
                self.names.iter().position(|n| n == name).ok_or_else(|| NnError::UnknownLayer {
                    name: name.to_string(),
                    available: format!(
                        "{} layers, {} … {}",
                        self.names.len(),
                        self.names[0],
                        self.names[self.names.len() - 1]
                    ),
                })
            })
            .collect::<Result<_>>()?;
        let Some(&deepest) = wanted.iter().max() else { return Ok(Vec::new()) };
        let mut outputs: Vec<Option<Var>> = vec![None; self.layers.len()];
        let mut h = self.preprocess(image)?;
        let mut index = 0;
        while index <= deepest {
            let fuse =
                matches!(self.layers.get(index + 1), Some(Layer::Relu)) && !wanted.contains(&index) && index < deepest;
            let fuse_pool = fuse
                && self.pooling == Pooling::Max
                && matches!(self.layers.get(index + 2), Some(Layer::Pool))
                && !wanted.contains(&(index + 1))
                && index + 1 < deepest;
            h = match &self.layers[index] {
                // A convolution whose ReLU only feeds a max pool runs fused
                // with both: the full-size activation is not kept for backward.
                Layer::Conv { weight, bias } if fuse_pool => {
                    index += 2;
                    h.try_conv2d_relu_max_pool2d(weight, Some(bias), Conv2dParams::new(1, 1), Pool2dParams::new(2, 2))?
                }
                // A convolution whose own output nobody asked for runs fused
                // with its ReLU: the pre-activation is never kept.
                Layer::Conv { weight, bias } if fuse => {
                    index += 1;
                    h.try_conv2d_relu(weight, Some(bias), Conv2dParams::new(1, 1))?
                }
                Layer::Conv { weight, bias } => h.try_conv2d(weight, Some(bias), Conv2dParams::new(1, 1))?,
                Layer::Relu => h.relu(),
                Layer::Pool => match self.pooling {
                    Pooling::Max => h.try_max_pool2d(Pool2dParams::new(2, 2))?,
                    Pooling::Average => h.try_avg_pool2d(Pool2dParams::new(2, 2), false)?,
                },
            };
            if wanted.contains(&index) {
                outputs[index] = Some(h.clone());
            }
            index += 1;
        }
        Ok(wanted.iter().map(|&i| outputs[i].clone().expect("computed above")).collect())
    }
}
