//! Running a program: every slot's value, its tensor commitment, and the state root after
//! every node (`S_0` … `S_N`), which is what the players of the dispute game bisect over.

use std::sync::Arc;

use alloy::primitives::B256;

use super::{
    JudgeError,
    commit::{MerkleTree, data_root, shape_word, tensor_commitment},
    ops,
    program::Program,
    value::Value,
};
use crate::tensor::{Tensor, canonical_hash};

/// A deliberate error for tests and for simulating a dishonest party; the later nodes compute
/// on the corrupted value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// After node `node` runs, byte `byte` (modulo the length) of its output is XORed with `xor`.
    Byte { node: usize, byte: usize, xor: u8 },
    /// Node `node`'s output gets another shape with the same number of elements.
    Shape { node: usize, shape: Vec<usize> },
    /// Node `node` is skipped: its output is its first operand, unchanged (a layer left out;
    /// the operand must have the output's type and shape, e.g. a Relu).
    Skip { node: usize },
    /// Weight `weight` has byte `byte` (modulo its length) XORed with `xor` before the run:
    /// tampered weights, or another model with the same graph served instead.
    Weight { weight: usize, byte: usize, xor: u8 },
}

impl Fault {
    pub fn node(&self) -> usize {
        match self {
            Self::Byte { node, .. } | Self::Shape { node, .. } | Self::Skip { node } => *node,
            Self::Weight { .. } => 0,
        }
    }
}

/// The reference interpreter's run of a program on one call's inputs.
#[derive(Debug, Clone)]
pub struct Trace {
    program: Arc<Program>,
    values: Vec<Arc<Value>>,
    commitments: Vec<B256>,
    roots: Vec<B256>,
}

/// The tensor commitment of a value.
pub fn commit_value(v: &Value) -> B256 {
    let word = shape_word(v.dtype, &v.shape).expect("op outputs are checked to fit a shape word");
    tensor_commitment(&word, &data_root(&v.data))
}

impl Trace {
    /// Runs `program` on the call's `inputs` (exactly the program's inputs, by name).
    pub fn run(program: Arc<Program>, inputs: &[Tensor]) -> Result<Self, JudgeError> {
        Self::run_with_fault(program, inputs, None)
    }

    /// [`Trace::run`] with an optional [`Fault`].
    pub fn run_with_fault(
        program: Arc<Program>,
        inputs: &[Tensor],
        fault: Option<Fault>,
    ) -> Result<Self, JudgeError> {
        let mut values: Vec<Arc<Value>> = Vec::with_capacity(program.slot_count());
        if inputs.len() != program.inputs.len() {
            return Err(JudgeError::BadInput(format!(
                "the model takes {} input(s) ({}), got {}",
                program.inputs.len(),
                program
                    .inputs
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                inputs.len()
            )));
        }
        for spec in &program.inputs {
            let t = inputs
                .iter()
                .find(|t| t.name() == spec.name)
                .ok_or_else(|| JudgeError::BadInput(format!("input `{}` is missing", spec.name)))?;
            let v = Value::from_tensor(t).map_err(JudgeError::BadInput)?;
            if v.dtype != spec.dtype {
                return Err(JudgeError::BadInput(format!(
                    "input `{}` must be {}, got {}",
                    spec.name,
                    spec.dtype.protocol_name(),
                    v.dtype.protocol_name()
                )));
            }
            let fits = v.shape.len() == spec.dims.len()
                && v.shape
                    .iter()
                    .zip(&spec.dims)
                    .all(|(d, s)| s.is_none_or(|s| s == *d));
            if !fits || shape_word(v.dtype, &v.shape).is_none() {
                return Err(JudgeError::BadInput(format!(
                    "input `{}` has shape {:?}, the model declares {:?}",
                    spec.name, v.shape, spec.dims
                )));
            }
            values.push(Arc::new(v));
        }
        values.extend(program.weights.iter().map(|w| w.value.clone()));
        if let Some(Fault::Weight { weight, byte, xor }) = &fault
            && let Some(v) = values.get_mut(program.inputs.len() + weight)
        {
            let mut tampered = (**v).clone();
            let i = byte % tampered.data.len().max(1);
            if let Some(b) = tampered.data.get_mut(i) {
                *b ^= xor;
            }
            *v = Arc::new(tampered);
        }
        let base = values.len();
        let mut commitments: Vec<B256> = values.iter().map(|v| commit_value(v)).collect();
        let mut leaves = commitments.clone();
        leaves.resize(program.slot_count(), B256::ZERO);
        let mut tree = MerkleTree::new(leaves, B256::ZERO);
        let mut roots = Vec::with_capacity(program.node_count() + 1);
        roots.push(tree.root());
        for (k, node) in program.nodes.iter().enumerate() {
            let operands: Vec<Option<&Value>> = node
                .inputs
                .iter()
                .map(|s| s.map(|s| values[s as usize].as_ref()))
                .collect();
            let mut out = ops::eval(&node.op, &operands).map_err(|reason| JudgeError::Eval {
                node: node.name.clone(),
                op: node.op.name().into(),
                reason,
            })?;
            match &fault {
                Some(Fault::Byte { node, byte, xor }) if *node == k => {
                    let i = byte % out.data.len().max(1);
                    if let Some(b) = out.data.get_mut(i) {
                        *b ^= xor;
                    }
                }
                Some(Fault::Skip { node }) if *node == k => {
                    if let Some(first) = operands.first().copied().flatten()
                        && first.dtype == out.dtype
                        && first.shape == out.shape
                    {
                        out = first.clone();
                    }
                }
                Some(Fault::Shape { node, shape }) if *node == k => {
                    out = Value::new(out.dtype, shape.clone(), out.data)
                        .map_err(JudgeError::BadInput)?;
                }
                _ => {}
            }
            let t = commit_value(&out);
            tree.set(base + k, t);
            roots.push(tree.root());
            commitments.push(t);
            values.push(Arc::new(out));
        }
        Ok(Self {
            program,
            values,
            commitments,
            roots,
        })
    }

    pub fn program(&self) -> &Program {
        &self.program
    }

    pub fn program_arc(&self) -> Arc<Program> {
        self.program.clone()
    }

    /// The value in `slot` after the whole run.
    pub fn value(&self, slot: usize) -> &Value {
        &self.values[slot]
    }

    /// The output of node `k`.
    pub fn node_output(&self, k: usize) -> &Value {
        &self.values[self.program.node_slot(k)]
    }

    /// The tensor commitment `T` of `slot`.
    pub fn commitment(&self, slot: usize) -> B256 {
        self.commitments[slot]
    }

    /// The state root after `k` nodes (`0 ≤ k ≤ N`).
    pub fn state_root(&self, k: usize) -> B256 {
        self.roots[k]
    }

    /// Every state root, `S_0` … `S_N`.
    pub fn state_roots(&self) -> &[B256] {
        &self.roots
    }

    /// The state tree after `k` nodes.
    pub fn state_tree(&self, k: usize) -> MerkleTree {
        let filled = self.program.node_slot(0) + k;
        let mut leaves = self.commitments[..filled].to_vec();
        leaves.resize(self.program.slot_count(), B256::ZERO);
        MerkleTree::new(leaves, B256::ZERO)
    }

    /// The graph's outputs, named, sorted by name.
    pub fn outputs(&self) -> Vec<Tensor> {
        self.program
            .outputs
            .iter()
            .map(|o| self.values[o.slot as usize].to_tensor(&o.name))
            .collect()
    }

    /// The inputs, named, sorted by name.
    pub fn inputs(&self) -> Vec<Tensor> {
        self.program
            .inputs
            .iter()
            .map(|o| self.values[o.slot as usize].to_tensor(&o.name))
            .collect()
    }

    /// The receipt's `outputHash` of the outputs named in `wanted` (all when empty).
    pub fn output_hash(&self, wanted: &[String]) -> [u8; 32] {
        let outs: Vec<Tensor> = self
            .outputs()
            .into_iter()
            .filter(|t| wanted.is_empty() || wanted.iter().any(|w| w == t.name()))
            .collect();
        canonical_hash(&outs)
    }

    /// The receipt's `inputHash`.
    pub fn input_hash(&self) -> [u8; 32] {
        canonical_hash(&self.inputs())
    }
}
