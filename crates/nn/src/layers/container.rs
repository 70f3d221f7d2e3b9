//! Composition: a sequence of layers, and a residual block around one.

use autograd::Var;

use super::Module;

/// Layers applied in order.
#[derive(Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Module>>,
}

impl Sequential {
    /// An empty sequence.
    pub fn new() -> Sequential {
        Sequential::default()
    }

    /// Appends a layer.
    pub fn push(&mut self, layer: impl Module + 'static) -> &mut Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Appends a layer (builder style).
    pub fn with(mut self, layer: impl Module + 'static) -> Self {
        self.push(layer);
        self
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// True when there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl Module for Sequential {
    fn forward(&self, x: &Var) -> crate::Result<Var> {
        self.layers.iter().try_fold(x.clone(), |h, layer| layer.forward(&h))
    }

    fn set_training(&self, training: bool) {
        self.layers.iter().for_each(|l| l.set_training(training));
    }
}

/// `x + body(x)`: the body must keep the shape.
pub struct Residual {
    body: Sequential,
}

impl Residual {
    /// A residual connection around `body`.
    pub fn new(body: Sequential) -> Residual {
        Residual { body }
    }
}

impl Module for Residual {
    fn forward(&self, x: &Var) -> crate::Result<Var> {
        Ok(x.try_add(&self.body.forward(x)?)?)
    }

    fn set_training(&self, training: bool) {
        self.body.set_training(training);
    }
}
