//! What the players of the dispute game (docs/PROTOCOL.md §9.4) post, built from a [`Trace`],
//! and how an honest player decides. Nothing here talks to a chain: `chain::dispute` turns these
//! into `InferenceDispute` calls.
//!
//! Positions: the node bisection keeps an interval `(lo, hi)` of state indices where the
//! challenger agreed to the operator's `S_lo` and disputes its `S_hi`; the operator posts
//! `S_mid` for `mid = ⌊(lo + hi) / 2⌋` and the challenger agrees or not. At `hi = lo + 1` the
//! operator reveals node `lo`'s output commitment; then the tile bisection walks down the
//! operator's chunk tree of that output (`level` counts from the leaves, `index` is the position
//! at that level): the operator reveals the two children of the current node (at level 1 the two
//! 32-byte chunks themselves), the challenger picks the one it disputes; at the leaf the
//! challenger runs the one-step on one element of the chunk.

use alloy::primitives::{B256, keccak256};

use super::{
    commit::{CHUNK, MerkleTree, chunk, chunk_tree, data_root, shape_word},
    ops::{self, Desc, Recorder},
    program::IoTensorAbi,
    trace::Trace,
    value::Value,
};
use crate::tensor::{Tensor, TensorData};

/// The canonical encoding (docs/PROTOCOL.md §2) of tensors, sorted by name: what the receipt's
/// `inputHash`/`outputHash` are the SHA-256 of, and what `open`/`defend` carry.
pub fn canonical_encoding(tensors: &[Tensor]) -> Vec<u8> {
    let mut sorted: Vec<&Tensor> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.name().as_bytes().cmp(b.name().as_bytes()));
    let mut out = Vec::new();
    out.extend_from_slice(&(sorted.len() as u32).to_be_bytes());
    for t in sorted {
        out.extend_from_slice(&(t.name().len() as u32).to_be_bytes());
        out.extend_from_slice(t.name().as_bytes());
        let dt = t.datatype().as_str();
        out.extend_from_slice(&(dt.len() as u32).to_be_bytes());
        out.extend_from_slice(dt.as_bytes());
        out.extend_from_slice(&(t.shape().len() as u32).to_be_bytes());
        for d in t.shape() {
            out.extend_from_slice(&d.to_be_bytes());
        }
        match t.data() {
            TensorData::Fixed(b) => {
                out.extend_from_slice(&(b.len() as u64).to_be_bytes());
                out.extend_from_slice(b);
            }
            TensorData::Bytes(items) => {
                let total: u64 = items.iter().map(|i| 8 + i.len() as u64).sum();
                out.extend_from_slice(&total.to_be_bytes());
                for i in items {
                    out.extend_from_slice(&(i.len() as u64).to_le_bytes());
                    out.extend_from_slice(i);
                }
            }
        }
    }
    out
}

/// The tensors of a canonical encoding (the inverse of [`canonical_encoding`]; fixed-size
/// types only, as the judge takes): how a player gets a call's inputs back from an `open`.
/// Refuses anything that is not exactly one well-formed encoding.
pub fn decode_canonical(bytes: &[u8]) -> Result<Vec<Tensor>, String> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if b.len() < n {
            return Err("the encoding ends early".into());
        }
        let (h, t) = b.split_at(n);
        *b = t;
        Ok(h)
    }
    fn u32_at(b: &mut &[u8]) -> Result<usize, String> {
        Ok(u32::from_be_bytes(take(b, 4)?.try_into().expect("4 bytes")) as usize)
    }
    fn u64_at(b: &mut &[u8]) -> Result<u64, String> {
        Ok(u64::from_be_bytes(take(b, 8)?.try_into().expect("8 bytes")))
    }
    let mut b = bytes;
    let count = u32_at(&mut b)?;
    let mut out = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let len = u32_at(&mut b)?;
        let name = std::str::from_utf8(take(&mut b, len)?)
            .map_err(|_| "a tensor name is not UTF-8".to_string())?
            .to_owned();
        let len = u32_at(&mut b)?;
        let dt = std::str::from_utf8(take(&mut b, len)?).unwrap_or("?");
        let datatype = crate::tensor::DataType::parse(dt)
            .filter(|d| d.size().is_some())
            .ok_or_else(|| format!("tensor `{name}`: datatype `{dt}` is not a fixed-size type"))?;
        let rank = u32_at(&mut b)?;
        if rank > 8 {
            return Err(format!("tensor `{name}`: rank {rank}"));
        }
        let shape = (0..rank)
            .map(|_| u64_at(&mut b))
            .collect::<Result<Vec<_>, _>>()?;
        let len = u64_at(&mut b)?;
        let data = take(
            &mut b,
            usize::try_from(len).map_err(|_| "too long".to_string())?,
        )?;
        out.push(
            Tensor::new(name, datatype, shape, TensorData::Fixed(data.to_vec()))
                .map_err(|e| e.to_string())?,
        );
    }
    if !b.is_empty() {
        return Err(format!("{} bytes after the last tensor", b.len()));
    }
    Ok(out)
}

/// `open`: the call's inputs and the proofs that put them into the program's initial state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenData {
    /// The program's inputs (hashed into `inputsHash`).
    pub inputs: Vec<IoTensorAbi>,
    /// The canonical encoding of the inputs (SHA-256 = the receipt's `inputHash`).
    pub input_encoding: Vec<u8>,
    /// For input `i`, the siblings of slot `i` in the tree with inputs `0..i` already set.
    pub input_proofs: Vec<Vec<B256>>,
    /// `S_0`, what the contract computes.
    pub initial_root: B256,
}

/// `defend`: the outputs the receipt hashed and the operator's final state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefendData {
    /// All of the program's outputs (hashed into `outputsHash`).
    pub outputs: Vec<IoTensorAbi>,
    /// The canonical encoding of the returned outputs (SHA-256 = the receipt's `outputHash`).
    pub output_encoding: Vec<u8>,
    /// `S_N`.
    pub final_root: B256,
    /// For each tensor of the encoding, in order, its slot's siblings in `S_N`.
    pub output_proofs: Vec<Vec<B256>>,
}

/// `reveal`: the output commitment of the disputed node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevealData {
    pub out_shape: B256,
    pub out_root: B256,
    /// The node's slot's siblings (the same in `S_lo` and `S_hi`).
    pub slot_proof: Vec<B256>,
    /// The single chunk when the output fits one chunk (its tree has depth 0), else zero.
    pub leaf_chunk: B256,
}

/// One operand of a one-step: its commitment, where it sits in `S_lo`, and the chunks the
/// element reads with their multiproof.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OperandProof {
    pub shape: B256,
    pub data_root: B256,
    pub slot_proof: Vec<B256>,
    pub chunk_idx: Vec<u32>,
    /// `32 × chunk_idx.len()` bytes.
    pub chunks: Vec<u8>,
    pub data_proof: Vec<B256>,
}

/// `step`: the disputed node, its operands, and which element of the leaf chunk to recompute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepData {
    pub node: Vec<u8>,
    pub node_proof: Vec<B256>,
    pub operands: Vec<OperandProof>,
    pub elem: u8,
}

/// For output element `e` of `op` on `values`: per operand, its shape word and data root and
/// the chunks the element reads with their multiproof (no state proof). `JudgeVM.evaluate`
/// takes exactly these.
pub fn element_reads(op: &ops::Op, values: &[Option<&Value>], e: usize) -> Vec<OperandProof> {
    let descs: Vec<Option<Desc>> = values.iter().map(|v| v.map(Desc::of)).collect();
    let out = ops::infer(op, &descs).expect("operands fit the operator");
    let mut rec = Recorder::new(values);
    let _ = ops::element(op, &descs, &out, e, &mut rec);
    values
        .iter()
        .zip(&rec.chunks)
        .map(|(v, set)| {
            let Some(v) = v else {
                return OperandProof::default();
            };
            let tree = chunk_tree(&v.data);
            let idx: Vec<usize> = set.iter().copied().collect();
            OperandProof {
                shape: shape_word(v.dtype, &v.shape).expect("fits"),
                data_root: tree.root(),
                slot_proof: vec![],
                chunk_idx: idx.iter().map(|&c| c as u32).collect(),
                chunks: idx.iter().flat_map(|&c| chunk(&v.data, c)).collect(),
                data_proof: if idx.is_empty() {
                    vec![]
                } else {
                    tree.multiproof(&idx)
                },
            }
        })
        .collect()
}

/// The operator's chunk tree of node `k`'s output.
pub fn output_tree(trace: &Trace, k: usize) -> MerkleTree {
    chunk_tree(&trace.node_output(k).data)
}

impl Trace {
    /// `open`'s data for this call.
    pub fn open_data(&self) -> OpenData {
        let p = self.program();
        let c = p.commitment();
        let mut leaves = vec![B256::ZERO; p.slot_count()];
        for (j, (_, t)) in c.weights.iter().enumerate() {
            leaves[p.input_count() + j] = *t;
        }
        let mut tree = MerkleTree::new(leaves, B256::ZERO);
        let mut proofs = Vec::with_capacity(p.input_count());
        for i in 0..p.input_count() {
            proofs.push(tree.proof(i));
            tree.set(i, self.commitment(i));
        }
        debug_assert_eq!(tree.root(), self.state_root(0));
        OpenData {
            inputs: p.inputs.iter().map(|t| t.abi()).collect(),
            input_encoding: canonical_encoding(&self.inputs()),
            input_proofs: proofs,
            initial_root: tree.root(),
        }
    }

    /// `defend`'s data: the outputs named in `wanted` (all when empty), as the receipt hashed them.
    pub fn defend_data(&self, wanted: &[String]) -> DefendData {
        let p = self.program();
        let n = p.node_count();
        let tree = self.state_tree(n);
        let returned: Vec<_> = p
            .outputs
            .iter()
            .filter(|o| wanted.is_empty() || wanted.contains(&o.name))
            .collect();
        let tensors: Vec<Tensor> = returned
            .iter()
            .map(|o| self.value(o.slot as usize).to_tensor(&o.name))
            .collect();
        DefendData {
            outputs: p.outputs.iter().map(|t| t.abi()).collect(),
            output_encoding: canonical_encoding(&tensors),
            final_root: tree.root(),
            output_proofs: returned
                .iter()
                .map(|o| tree.proof(o.slot as usize))
                .collect(),
        }
    }

    /// `reveal`'s data for node `k` (the game narrowed to `S_k` → `S_{k+1}`).
    pub fn reveal_data(&self, k: usize) -> RevealData {
        let v = self.node_output(k);
        let tree = chunk_tree(&v.data);
        RevealData {
            out_shape: shape_word(v.dtype, &v.shape).expect("fits"),
            out_root: tree.root(),
            slot_proof: self.state_tree(k).proof(self.program().node_slot(k)),
            leaf_chunk: if tree.depth() == 0 {
                B256::from(chunk(&v.data, 0))
            } else {
                B256::ZERO
            },
        }
    }

    /// The operator's reveal at tile position (`level` ≥ 1, `index`) of node `k`'s output: the
    /// two children hashes, or at level 1 the two chunks.
    pub fn tile_children(&self, k: usize, level: usize, index: usize) -> (B256, B256) {
        let data = &self.node_output(k).data;
        if level == 1 {
            (
                B256::from(chunk(data, 2 * index)),
                B256::from(chunk(data, 2 * index + 1)),
            )
        } else {
            let t = chunk_tree(data);
            (
                t.node(level - 1, 2 * index),
                t.node(level - 1, 2 * index + 1),
            )
        }
    }

    /// The honest challenger's pick after the operator revealed `(left, right)` at (`level`,
    /// `index`) of node `k`'s output: `true` for the right child. `None` when both agree with
    /// this trace (the parent cannot then differ: the reveal was checked against it).
    pub fn pick(
        &self,
        k: usize,
        level: usize,
        index: usize,
        left: B256,
        right: B256,
    ) -> Option<bool> {
        let (l, r) = self.tile_children(k, level, index);
        if l != left {
            Some(false)
        } else if r != right {
            Some(true)
        } else {
            None
        }
    }

    /// The node, its proof and every operand's commitment and state proof in `S_k`, without data.
    fn step_frame(&self, k: usize) -> StepData {
        let p = self.program();
        let node = &p.nodes[k];
        let state = self.state_tree(k);
        let operands = node
            .inputs
            .iter()
            .map(|s| match s {
                None => OperandProof::default(),
                Some(s) => {
                    let v = self.value(*s as usize);
                    OperandProof {
                        shape: shape_word(v.dtype, &v.shape).expect("fits"),
                        data_root: data_root(&v.data),
                        slot_proof: state.proof(*s as usize),
                        ..Default::default()
                    }
                }
            })
            .collect();
        StepData {
            node: node.encode(),
            node_proof: p.nodes_tree().proof(k),
            operands,
            elem: 0,
        }
    }

    /// A one-step showing that the operator's claimed output shape for node `k` is wrong, or
    /// `None` when it is this trace's shape.
    pub fn shape_step(&self, k: usize, claimed_shape: B256) -> Option<StepData> {
        let v = self.node_output(k);
        (shape_word(v.dtype, &v.shape) != Some(claimed_shape)).then(|| self.step_frame(k))
    }

    /// The one-step data recomputing output element `e` of node `k` (the chunks each operand
    /// reads, with multiproofs); `elem` is `e`'s position in its chunk.
    pub fn element_step(&self, k: usize, e: usize) -> StepData {
        let node = &self.program().nodes[k];
        let mut step = self.step_frame(k);
        let out = self.node_output(k);
        let size = out.dtype.size();
        step.elem = ((e * size % CHUNK) / size) as u8;
        if e >= out.numel() {
            return step; // padding: the expected bytes are zero, no operand is read
        }
        let values: Vec<Option<&Value>> = node
            .inputs
            .iter()
            .map(|s| s.map(|s| self.value(s as usize)))
            .collect();
        for (o, data) in step
            .operands
            .iter_mut()
            .zip(element_reads(&node.op, &values, e))
        {
            o.chunk_idx = data.chunk_idx;
            o.chunks = data.chunks;
            o.data_proof = data.data_proof;
        }
        step
    }

    /// The honest challenger's one-step at leaf `chunk_index` of node `k`'s output, whose
    /// operator chunk is `operator_chunk`: the first element that differs from this trace.
    /// `None` when the chunk agrees with this trace (no step can win).
    pub fn step_data(
        &self,
        k: usize,
        chunk_index: usize,
        operator_chunk: &B256,
    ) -> Option<StepData> {
        let out = self.node_output(k);
        let mine = chunk(&out.data, chunk_index);
        let size = out.dtype.size();
        let j = (0..CHUNK / size).find(|&j| {
            mine[j * size..(j + 1) * size] != operator_chunk[j * size..(j + 1) * size]
        })?;
        Some(self.element_step(k, chunk_index * CHUNK / size + j))
    }

    /// Leaf `i` (the chunk hash) of node `k`'s output tree.
    pub fn output_leaf(&self, k: usize, i: usize) -> B256 {
        keccak256(chunk(&self.node_output(k).data, i))
    }
}

/// One move of a game, as the simulation plays it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Move {
    Defend(DefendData),
    Bisect(B256),
    Choose(bool),
    Reveal(RevealData),
    Tiles(B256, B256),
    Pick(bool),
    /// The challenger's one-step: wins when the operator's element is wrong.
    Step(StepData),
}

/// Who wins a game.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Winner {
    Operator,
    Challenger,
}

/// A whole game between an operator following `operator` and a challenger following
/// `challenger` (both run on the same program and inputs), each playing the moves its own trace
/// dictates. The last move is the challenger's step when it has one; otherwise the operator wins
/// when the challenger's clock runs out.
#[derive(Debug, Clone)]
pub struct Script {
    pub moves: Vec<Move>,
    /// The node the bisection ended on.
    pub node: usize,
    /// Node rounds and tile rounds (each an operator and a challenger move).
    pub node_rounds: usize,
    pub tile_rounds: usize,
    /// Who wins when the moves are played and, if the last is a step that cannot win, the
    /// challenger's clock runs out.
    pub winner: Winner,
}

/// Plays a game between two traces of the same program and inputs (see [`Script`]).
pub fn play(operator: &Trace, challenger: &Trace, wanted: &[String]) -> Script {
    let n = operator.program().node_count();
    let mut moves = vec![Move::Defend(operator.defend_data(wanted))];
    let (mut lo, mut hi) = (0usize, n);
    let mut node_rounds = 0;
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        let claim = operator.state_root(mid);
        moves.push(Move::Bisect(claim));
        let agree = challenger.state_root(mid) == claim;
        moves.push(Move::Choose(agree));
        if agree {
            lo = mid;
        } else {
            hi = mid;
        }
        node_rounds += 1;
    }
    let k = lo;
    let reveal = operator.reveal_data(k);
    moves.push(Move::Reveal(reveal.clone()));
    if let Some(step) = challenger.shape_step(k, reveal.out_shape) {
        moves.push(Move::Step(step));
        return Script {
            moves,
            node: k,
            node_rounds,
            tile_rounds: 0,
            winner: Winner::Challenger,
        };
    }
    let tree = output_tree(operator, k);
    let (mut level, mut index) = (tree.depth(), 0usize);
    let mut tile_rounds = 0;
    while level > 0 {
        let (l, r) = operator.tile_children(k, level, index);
        moves.push(Move::Tiles(l, r));
        // A challenger that agrees with both children has nothing to dispute: it goes left.
        let right = challenger.pick(k, level, index, l, r).unwrap_or(false);
        moves.push(Move::Pick(right));
        index = 2 * index + usize::from(right);
        level -= 1;
        tile_rounds += 1;
    }
    let operator_chunk = B256::from(chunk(&operator.node_output(k).data, index));
    let step = challenger.step_data(k, index, &operator_chunk);
    // The step wins exactly when the operator's chunk is wrong, i.e. differs from the honest one.
    let honest = {
        let p = operator.program_arc();
        Trace::run(p, &operator.inputs()).expect("the inputs ran once")
    };
    let correct = B256::from(chunk(&honest.node_output(k).data, index)) == operator_chunk
        && honest.reveal_data(k).out_shape == reveal.out_shape;
    let winner = if step.is_some() && !correct {
        Winner::Challenger
    } else {
        Winner::Operator
    };
    if let Some(s) = step {
        moves.push(Move::Step(s));
    }
    Script {
        moves,
        node: k,
        node_rounds,
        tile_rounds,
        winner,
    }
}

/// The number of operator chunks of node `k`'s output in `program` for the given trace.
pub fn tile_count(trace: &Trace, k: usize) -> usize {
    super::commit::chunk_count(trace.node_output(k).data.len())
}
