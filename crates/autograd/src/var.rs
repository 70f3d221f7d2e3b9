//! [`Var`]: a tensor that remembers how it was computed.
//!
//! Every op on vars makes a new node holding its value and, when any input
//! needs a gradient, the op and its inputs (the recorded "tape" is this graph
//! of nodes, walked in reverse topological order by `backward`). A node is
//! freed when the last var or graph edge pointing at it is dropped, so a loop
//! that builds a graph per iteration runs in constant memory.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use tensor::{DType, Tensor};

use crate::op::Op;

static NEXT_ID: AtomicU64 = AtomicU64::new(0);
static LIVE_NODES: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static RECORDING: std::cell::Cell<bool> = const { std::cell::Cell::new(true) };
}

/// Runs `f` without recording any op, even on parameters: for inference,
/// where keeping every activation for a backward pass that never comes
/// would hold the whole forward pass in memory. (Per thread; nests.)
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            RECORDING.with(|r| r.set(self.0));
        }
    }
    let _restore = Restore(RECORDING.with(|r| r.replace(false)));
    f()
}

/// Identifies a var across value updates: an optimiser step replaces a
/// parameter's value but keeps its id, so gradients find their parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VarId(u64);

impl VarId {
    fn fresh() -> VarId {
        VarId(NEXT_ID.fetch_add(1, Ordering::Relaxed))
    }
}

pub(crate) struct Node {
    pub(crate) id: VarId,
    pub(crate) value: Tensor,
    /// How the value was computed; `None` for leaves and for results that
    /// need no gradient.
    pub(crate) op: Option<Op>,
    pub(crate) requires_grad: bool,
}

impl Node {
    fn new(id: VarId, value: Tensor, op: Option<Op>, requires_grad: bool) -> Node {
        LIVE_NODES.fetch_add(1, Ordering::Relaxed);
        Node { id, value, op, requires_grad }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        LIVE_NODES.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Graph nodes alive in this process: a leak detector for training loops
/// (it returns to the same count at the same point of every iteration).
pub fn live_nodes() -> usize {
    LIVE_NODES.load(Ordering::Relaxed)
}

/// A tensor in the autodiff graph: a parameter (a leaf that wants its
/// gradient), a constant, or the result of an op.
#[derive(Clone)]
pub struct Var {
    pub(crate) node: Arc<Node>,
}

impl Var {
    /// A leaf whose gradient `backward` computes.
    pub fn parameter(value: Tensor) -> Var {
        Var { node: Arc::new(Node::new(VarId::fresh(), value, None, true)) }
    }

    /// A leaf that needs no gradient (inputs, frozen weights, targets).
    pub fn constant(value: Tensor) -> Var {
        Var { node: Arc::new(Node::new(VarId::fresh(), value, None, false)) }
    }

    /// The result of `op`: recorded when an input needs a gradient, else a
    /// constant (so inference builds no graph and frees inputs early).
    pub(crate) fn from_op(value: Tensor, op: Op) -> Var {
        let recording = RECORDING.with(|r| r.get());
        let requires_grad = recording && op.inputs().iter().any(|v| v.requires_grad());
        let op = requires_grad.then_some(op);
        Var { node: Arc::new(Node::new(VarId::fresh(), value, op, requires_grad)) }
    }

    /// The same value, cut from the graph: no gradient flows through it.
    pub fn detach(&self) -> Var {
        Var::constant(self.value().clone())
    }

    /// Replaces a parameter's value, keeping its id (what optimisers do).
    /// Graphs built from the old value keep the old value.
    pub fn set_value(&mut self, value: Tensor) {
        self.node = Arc::new(Node::new(self.node.id, value, None, self.node.requires_grad));
    }

    /// The value.
    pub fn value(&self) -> &Tensor {
        &self.node.value
    }

    /// This var's identity (stable across [`Var::set_value`]).
    pub fn id(&self) -> VarId {
        self.node.id
    }

    /// True for parameters and for results that depend on one.
    pub fn requires_grad(&self) -> bool {
        self.node.requires_grad
    }

    /// True for leaves (parameters and constants).
    pub fn is_leaf(&self) -> bool {
        self.node.op.is_none()
    }

    /// The value's shape.
    pub fn shape(&self) -> &[usize] {
        self.value().shape()
    }

    /// The value's element type.
    pub fn dtype(&self) -> DType {
        self.value().dtype()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.value().numel()
    }

    /// The value of a one-element var, as f64.
    ///
    /// # Panics
    /// If the var does not hold exactly one element.
    pub fn to_scalar(&self) -> f64 {
        self.value().to_scalar()
    }
}

impl std::fmt::Debug for Var {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match (&self.node.op, self.node.requires_grad) {
            (Some(op), _) => op.name(),
            (None, true) => "parameter",
            (None, false) => "constant",
        };
        write!(f, "Var#{}({kind}, {:?})", self.node.id.0, self.node.value)
    }
}
