//! Compiling an ONNX model into the judge's program: the runtime inputs, the weights, the
//! nodes in topological (file) order, each an operator of the op set over numbered value
//! slots, and the commitment the operator posts on-chain (`InferenceDispute.commitProgram`).
//!
//! Slots: `0..I` the runtime inputs sorted by name, `I..I+W` the weights (initializers of the
//! main graph and `Constant` values, the ones the nodes use, sorted by canonical name as in
//! docs/WEIGHTS.md), `I+W+k` the output of node `k`.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use alloy::{
    primitives::{B256, U256, keccak256},
    sol_types::SolValue,
};
use prost::Message;

use super::{
    JudgeError,
    commit::{MerkleTree, data_root, shape_word, tensor_commitment},
    ops::{ConvAttrs, Op, PoolAttrs},
    proto::{self, attr_type},
    value::{JType, Value, numel},
};

/// Version of the judge semantics, hashed into every program id.
pub const JUDGE_VERSION: u64 = 1;

/// Lowest and highest default-domain opset whose semantics of the op set the judge implements.
pub const OPSETS: std::ops::RangeInclusive<i64> = 13..=22;

/// The node encoding's marker for an absent optional operand.
pub const ABSENT: u32 = u32::MAX;

alloy::sol! {
    /// A runtime input or a graph output of a program, as committed (`ioHash`).
    #[derive(Debug, PartialEq, Eq)]
    struct IoTensorAbi {
        string name;
        uint8 dtype;
        uint32 slot;
    }

    /// A program's commitment, as `InferenceDispute.commitProgram` takes it.
    #[derive(Debug, PartialEq, Eq)]
    struct ProgramAbi {
        bytes32 nodesRoot;
        bytes32 initRoot;
        bytes32 inputsHash;
        bytes32 outputsHash;
        uint32 nodeCount;
        uint32 slotCount;
        uint32 inputCount;
    }
}

/// A runtime input or a graph output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoTensor {
    pub name: String,
    pub dtype: JType,
    pub slot: u32,
    /// Declared dimensions (`None` = symbolic); inputs only.
    pub dims: Vec<Option<usize>>,
}

impl IoTensor {
    pub fn abi(&self) -> IoTensorAbi {
        IoTensorAbi {
            name: self.name.clone(),
            dtype: self.dtype.code(),
            slot: self.slot,
        }
    }
}

/// A weight: canonical name (docs/WEIGHTS.md) and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Weight {
    pub name: String,
    pub value: Arc<Value>,
}

/// One node of the program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The ONNX node's name, or `#<index>` when it has none.
    pub name: String,
    pub op: Op,
    /// Operand slots (`None` = absent optional operand).
    pub inputs: Vec<Option<u32>>,
    pub output: u32,
    /// The ONNX value name of the output.
    pub output_name: String,
}

impl Node {
    /// The node encoding (docs/PROTOCOL.md §9.3): `u8 opcode ‖ u8 nIn ‖ nIn × u32 slot ‖ u32 out
    /// ‖ attributes`, big-endian, absent operands as `0xFFFFFFFF`.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![self.op.opcode(), self.inputs.len() as u8];
        for s in &self.inputs {
            b.extend_from_slice(&s.unwrap_or(ABSENT).to_be_bytes());
        }
        b.extend_from_slice(&self.output.to_be_bytes());
        b.extend_from_slice(&self.op.attr_bytes());
        b
    }
}

/// What the operator commits on-chain for a model, and what anyone holding the model file
/// can recompute ([`Program::commitment`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramCommitment {
    pub nodes_root: B256,
    pub init_root: B256,
    pub inputs_hash: B256,
    pub outputs_hash: B256,
    pub node_count: u32,
    pub slot_count: u32,
    pub input_count: u32,
    /// `keccak256(abi.encode(JUDGE_VERSION, program))`, for display and look-ups.
    pub id: B256,
    /// The weights' tensor commitments `T`, by slot (`I..I+W`), with their canonical names:
    /// the chunk-level extension of the weights commitment (docs/WEIGHTS.md §7).
    pub weights: Vec<(String, B256)>,
}

impl ProgramCommitment {
    pub fn abi(&self) -> ProgramAbi {
        ProgramAbi {
            nodesRoot: self.nodes_root,
            initRoot: self.init_root,
            inputsHash: self.inputs_hash,
            outputsHash: self.outputs_hash,
            nodeCount: self.node_count,
            slotCount: self.slot_count,
            inputCount: self.input_count,
        }
    }
}

/// A model compiled for the judge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// Runtime inputs, sorted by name; input `i` is slot `i`.
    pub inputs: Vec<IoTensor>,
    /// Graph outputs, sorted by name, with the slot holding each.
    pub outputs: Vec<IoTensor>,
    /// Weights; weight `j` is slot `I + j`.
    pub weights: Vec<Weight>,
    pub nodes: Vec<Node>,
    /// Element type of every slot.
    pub slot_types: Vec<JType>,
}

fn unsupported(node: Option<&str>, op: Option<&str>, reason: impl Into<String>) -> JudgeError {
    JudgeError::Unsupported {
        node: node.map(str::to_owned),
        op: op.map(str::to_owned),
        reason: reason.into(),
    }
}

/// A `TensorProto` of an op-set type as a value.
fn tensor_value(t: &proto::TensorProto, what: &str) -> Result<Value, String> {
    let dtype = JType::from_onnx(t.data_type).ok_or_else(|| {
        format!(
            "{what} is {}, outside the judge's types (FLOAT, UINT8, INT8, INT32, INT64)",
            crate::onnx::data_type_name(t.data_type)
        )
    })?;
    if t.data_location == 1 || !t.external_data.is_empty() {
        return Err(format!("{what} keeps its data in an external file"));
    }
    let shape = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("{what} has a negative dimension")))
        .collect::<Result<Vec<_>, _>>()?;
    let n = numel(&shape).ok_or_else(|| format!("{what} is too large"))?;
    if shape_word(dtype, &shape).is_none() {
        return Err(format!(
            "{what} has rank {} or a dimension over 2^32 - 1 (the judge commits rank <= 6)",
            shape.len()
        ));
    }
    let data = if let Some(raw) = &t.raw_data {
        raw.clone()
    } else {
        match dtype {
            JType::F32 => t.float_data.iter().flat_map(|f| f.to_le_bytes()).collect(),
            JType::U8 | JType::I8 => t.int32_data.iter().map(|&v| v as u8).collect(),
            JType::I32 => t.int32_data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            JType::I64 => t.int64_data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    };
    if data.len() != n * dtype.size() {
        return Err(format!(
            "{what} holds {} bytes for shape {shape:?} of {}",
            data.len(),
            dtype.onnx_name()
        ));
    }
    Value::new(dtype, shape, data)
}

fn ints(a: &proto::AttributeProto, len: usize, what: &str) -> Result<Vec<u32>, String> {
    if a.ints.len() != len {
        return Err(format!(
            "attribute {} must have {len} values (2-D only), got {}",
            a.name,
            a.ints.len()
        ));
    }
    a.ints
        .iter()
        .map(|&v| u32::try_from(v).map_err(|_| format!("{what} {v} is out of range")))
        .collect()
}

fn auto_pad_ok(a: &proto::AttributeProto) -> Result<bool, String> {
    match a.s.as_slice() {
        b"NOTSET" | b"" => Ok(false),
        b"VALID" => Ok(true),
        other => Err(format!(
            "auto_pad {} is not supported (NOTSET or VALID only)",
            String::from_utf8_lossy(other)
        )),
    }
}

/// The operator and its attributes, or why the node is outside the op set.
fn parse_op(
    node: &proto::NodeProto,
    weight_dims: &dyn Fn(&str) -> Option<Vec<usize>>,
) -> Result<Op, String> {
    if !(node.domain.is_empty() || node.domain == "ai.onnx") {
        return Err(format!(
            "operator domain `{}` is outside the judge's op set",
            node.domain
        ));
    }
    let attr_err = |a: &proto::AttributeProto| {
        format!(
            "attribute `{}` of {} is not supported",
            a.name, node.op_type
        )
    };
    for a in &node.attribute {
        if !a.ref_attr_name.is_empty()
            || matches!(
                a.r#type,
                attr_type::GRAPH
                    | attr_type::GRAPHS
                    | attr_type::SPARSE_TENSOR
                    | attr_type::SPARSE_TENSORS
            )
            || a.g.is_some()
            || !a.graphs.is_empty()
        {
            return Err(format!(
                "attribute `{}` holds a subgraph or a reference",
                a.name
            ));
        }
    }
    let op = match node.op_type.as_str() {
        "QuantizeLinear" | "DequantizeLinear" => {
            for a in &node.attribute {
                match a.name.as_str() {
                    "axis" | "saturate" => {}
                    "block_size" if a.i == 0 => {}
                    _ => return Err(attr_err(a)),
                }
            }
            if node.op_type == "QuantizeLinear" {
                Op::QuantizeLinear
            } else {
                Op::DequantizeLinear
            }
        }
        "QLinearMatMul" => {
            if let Some(a) = node.attribute.first() {
                return Err(attr_err(a));
            }
            Op::QLinearMatMul
        }
        "QLinearConv" => {
            let mut c = ConvAttrs {
                strides: [1, 1],
                pads: [0; 4],
                dilations: [1, 1],
                group: 1,
            };
            let mut kernel = None;
            for a in &node.attribute {
                match a.name.as_str() {
                    "auto_pad" => {
                        auto_pad_ok(a)?;
                    }
                    "strides" => c.strides = ints(a, 2, "stride")?.try_into().expect("2"),
                    "pads" => c.pads = ints(a, 4, "pad")?.try_into().expect("4"),
                    "dilations" => c.dilations = ints(a, 2, "dilation")?.try_into().expect("2"),
                    "group" => {
                        c.group = u32::try_from(a.i)
                            .ok()
                            .filter(|&g| g >= 1)
                            .ok_or("group must be at least 1")?
                    }
                    "kernel_shape" => kernel = Some(ints(a, 2, "kernel size")?),
                    _ => return Err(attr_err(a)),
                }
            }
            if node
                .attribute
                .iter()
                .any(|a| a.name == "auto_pad" && a.s == b"VALID")
            {
                c.pads = [0; 4];
            }
            if let (Some(k), Some(w)) = (kernel, node.input.get(3).and_then(|n| weight_dims(n)))
                && (w.len() != 4 || w[2] != k[0] as usize || w[3] != k[1] as usize)
            {
                return Err(format!(
                    "kernel_shape {k:?} does not match the weight's shape {w:?}"
                ));
            }
            Op::QLinearConv(c)
        }
        "MaxPool" => {
            let mut p = PoolAttrs {
                kernel: [0, 0],
                strides: [1, 1],
                pads: [0; 4],
            };
            let mut have_kernel = false;
            for a in &node.attribute {
                match a.name.as_str() {
                    "auto_pad" => {
                        auto_pad_ok(a)?;
                    }
                    "kernel_shape" => {
                        p.kernel = ints(a, 2, "kernel size")?.try_into().expect("2");
                        have_kernel = true;
                    }
                    "strides" => p.strides = ints(a, 2, "stride")?.try_into().expect("2"),
                    "pads" => p.pads = ints(a, 4, "pad")?.try_into().expect("4"),
                    "ceil_mode" if a.i == 0 => {}
                    "storage_order" if a.i == 0 => {}
                    "dilations" if a.ints.iter().all(|&d| d == 1) => {}
                    _ => return Err(attr_err(a)),
                }
            }
            if !have_kernel {
                return Err("MaxPool needs kernel_shape".into());
            }
            if node
                .attribute
                .iter()
                .any(|a| a.name == "auto_pad" && a.s == b"VALID")
            {
                p.pads = [0; 4];
            }
            if p.pads[0] >= p.kernel[0]
                || p.pads[2] >= p.kernel[0]
                || p.pads[1] >= p.kernel[1]
                || p.pads[3] >= p.kernel[1]
            {
                return Err("MaxPool pads must be smaller than the kernel".into());
            }
            if node.output.len() > 1 && node.output[1..].iter().any(|o| !o.is_empty()) {
                return Err("MaxPool's Indices output is not supported".into());
            }
            Op::MaxPool(p)
        }
        "Flatten" => {
            let mut axis = 1i32;
            for a in &node.attribute {
                match a.name.as_str() {
                    "axis" => axis = i32::try_from(a.i).map_err(|_| "axis out of range")?,
                    _ => return Err(attr_err(a)),
                }
            }
            Op::Flatten { axis }
        }
        "Add" | "Relu" => {
            if let Some(a) = node.attribute.first() {
                return Err(attr_err(a));
            }
            if node.op_type == "Add" {
                Op::Add
            } else {
                Op::Relu
            }
        }
        other => return Err(format!("{other} is not in the judge's op set")),
    };
    Ok(op)
}

/// Element type of a node's output from its operands' types (the shape rules come at run time).
fn output_type(op: &Op, ins: &[Option<JType>]) -> Option<JType> {
    Some(match op {
        Op::QuantizeLinear => ins.get(2).copied().flatten().unwrap_or(JType::U8),
        Op::DequantizeLinear | Op::Add | Op::Relu => JType::F32,
        Op::QLinearMatMul | Op::QLinearConv(_) => ins.get(7).copied().flatten()?,
        Op::MaxPool(_) | Op::Flatten { .. } => ins.first().copied().flatten()?,
    })
}

impl Program {
    /// Compiles an ONNX model (the bytes of the file). A node outside the op set is
    /// [`JudgeError::Unsupported`] naming the node, its operator and why; a file that is not a
    /// well-formed ONNX model is [`JudgeError::Malformed`].
    pub fn from_onnx(bytes: &[u8]) -> Result<Self, JudgeError> {
        let model = proto::ModelProto::decode(bytes)
            .map_err(|e| JudgeError::Malformed(format!("not an ONNX model: {e}")))?;
        if !model.functions.is_empty() {
            return Err(unsupported(None, None, "the model defines local functions"));
        }
        let graph = model
            .graph
            .as_ref()
            .ok_or_else(|| JudgeError::Malformed("the model has no graph".into()))?;
        let opset = model
            .opset_import
            .iter()
            .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
            .map(|o| o.version)
            .ok_or_else(|| unsupported(None, None, "the model imports no default-domain opset"))?;
        if !OPSETS.contains(&opset) {
            return Err(unsupported(
                None,
                None,
                format!(
                    "default-domain opset {opset} is outside the judge's range {}..={}",
                    OPSETS.start(),
                    OPSETS.end()
                ),
            ));
        }
        if !graph.sparse_initializer.is_empty() {
            return Err(unsupported(None, None, "the model has sparse initializers"));
        }

        // Constant sources: initializers, then Constant nodes' values.
        let mut consts: HashMap<String, (String, &proto::TensorProto)> = HashMap::new();
        for t in &graph.initializer {
            if consts.insert(t.name.clone(), (t.name.clone(), t)).is_some() {
                return Err(JudgeError::Malformed(format!(
                    "initializer `{}` is defined twice",
                    t.name
                )));
            }
        }
        for (i, n) in graph.node.iter().enumerate() {
            if n.op_type == "Constant" && (n.domain.is_empty() || n.domain == "ai.onnx") {
                let name = if n.name.is_empty() {
                    format!("#{i}")
                } else {
                    n.name.clone()
                };
                let [value] = n.attribute.as_slice() else {
                    return Err(unsupported(
                        Some(&name),
                        Some("Constant"),
                        "only a `value` tensor attribute is supported",
                    ));
                };
                let (Some(t), "value") = (&value.t, value.name.as_str()) else {
                    return Err(unsupported(
                        Some(&name),
                        Some("Constant"),
                        "only a `value` tensor attribute is supported",
                    ));
                };
                let out = n.output.first().filter(|o| !o.is_empty()).ok_or_else(|| {
                    JudgeError::Malformed(format!("Constant node {name} has no output"))
                })?;
                let canonical = format!("@/{i}.value/{}", t.name);
                if consts.insert(out.clone(), (canonical, t)).is_some() {
                    return Err(JudgeError::Malformed(format!("`{out}` is defined twice")));
                }
            }
        }

        // Runtime inputs: graph inputs that are not initializers.
        let mut inputs = Vec::new();
        for vi in &graph.input {
            if consts.contains_key(&vi.name) {
                continue;
            }
            let tt = vi
                .r#type
                .as_ref()
                .and_then(|t| t.tensor_type.as_ref())
                .ok_or_else(|| {
                    unsupported(None, None, format!("input `{}` is not a tensor", vi.name))
                })?;
            let dtype = JType::from_onnx(tt.elem_type).ok_or_else(|| {
                unsupported(
                    None,
                    None,
                    format!(
                        "input `{}` is {}, outside the judge's types",
                        vi.name,
                        crate::onnx::data_type_name(tt.elem_type)
                    ),
                )
            })?;
            let dims = tt
                .shape
                .as_ref()
                .ok_or_else(|| {
                    unsupported(
                        None,
                        None,
                        format!("input `{}` has no declared rank", vi.name),
                    )
                })?
                .dim
                .iter()
                .map(|d| d.dim_value.and_then(|v| usize::try_from(v).ok()))
                .collect();
            inputs.push(IoTensor {
                name: vi.name.clone(),
                dtype,
                slot: 0,
                dims,
            });
        }
        inputs.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        if inputs.windows(2).any(|w| w[0].name == w[1].name) {
            return Err(JudgeError::Malformed(
                "two graph inputs share a name".into(),
            ));
        }
        for (i, t) in inputs.iter_mut().enumerate() {
            t.slot = i as u32;
        }

        // Nodes: parse ops and collect the constants they use.
        let compute: Vec<(usize, &proto::NodeProto)> = graph
            .node
            .iter()
            .enumerate()
            .filter(|(_, n)| {
                !(n.op_type == "Constant" && (n.domain.is_empty() || n.domain == "ai.onnx"))
            })
            .collect();
        if compute.is_empty() {
            return Err(unsupported(None, None, "the graph has no operator nodes"));
        }
        let weight_dims = |name: &str| -> Option<Vec<usize>> {
            consts
                .get(name)
                .map(|(_, t)| t.dims.iter().map(|&d| d.max(0) as usize).collect())
        };
        let mut ops = Vec::with_capacity(compute.len());
        let mut used: BTreeMap<String, String> = BTreeMap::new(); // canonical name -> value name
        for &(i, n) in &compute {
            let name = if n.name.is_empty() {
                format!("#{i}")
            } else {
                n.name.clone()
            };
            let op = parse_op(n, &weight_dims)
                .map_err(|r| unsupported(Some(&name), Some(&n.op_type), r))?;
            if n.input.len() > op.arity() {
                return Err(unsupported(
                    Some(&name),
                    Some(&n.op_type),
                    format!(
                        "{} operands given, the judge's {} takes {}",
                        n.input.len(),
                        n.op_type,
                        op.arity()
                    ),
                ));
            }
            let outs: Vec<&String> = n.output.iter().filter(|o| !o.is_empty()).collect();
            if outs.len() != 1 || n.output[0].is_empty() {
                return Err(unsupported(
                    Some(&name),
                    Some(&n.op_type),
                    "the judge needs exactly one output",
                ));
            }
            for inp in &n.input {
                if let Some((canonical, _)) = consts.get(inp) {
                    used.insert(canonical.clone(), inp.clone());
                }
            }
            ops.push((name, op, n));
        }

        let mut weights = Vec::with_capacity(used.len());
        let mut slot_of: HashMap<String, u32> = HashMap::new();
        let mut slot_types: Vec<JType> = inputs.iter().map(|t| t.dtype).collect();
        for t in &inputs {
            slot_of.insert(t.name.clone(), t.slot);
        }
        for (canonical, value_name) in &used {
            let (_, t) = &consts[value_name];
            let value = tensor_value(t, &format!("weight `{canonical}`")).map_err(|r| {
                let user = ops
                    .iter()
                    .find(|(_, _, n)| n.input.iter().any(|x| x == value_name))
                    .expect("a user");
                unsupported(Some(&user.0), Some(&user.2.op_type), r)
            })?;
            slot_of.insert(value_name.clone(), slot_types.len() as u32);
            slot_types.push(value.dtype);
            weights.push(Weight {
                name: canonical.clone(),
                value: Arc::new(value),
            });
        }

        let mut nodes = Vec::with_capacity(ops.len());
        for (name, op, n) in ops {
            let mut ins = Vec::with_capacity(op.arity());
            for k in 0..op.arity() {
                match n.input.get(k).filter(|s| !s.is_empty()) {
                    None => {
                        if !op.optional(k) {
                            return Err(JudgeError::Malformed(format!(
                                "node {name} ({}) lacks its operand {k}",
                                n.op_type
                            )));
                        }
                        ins.push(None);
                    }
                    Some(v) => {
                        let s = slot_of.get(v).ok_or_else(|| {
                            JudgeError::Malformed(format!(
                                "node {name} reads `{v}` before any node produces it (the graph must be topologically sorted)"
                            ))
                        })?;
                        ins.push(Some(*s));
                    }
                }
            }
            let in_types: Vec<Option<JType>> = ins
                .iter()
                .map(|s| s.map(|s| slot_types[s as usize]))
                .collect();
            let out_type = output_type(&op, &in_types).ok_or_else(|| {
                JudgeError::Malformed(format!("node {name} lacks an operand its type depends on"))
            })?;
            // Per-axis scales are outside the op set; decide statically where the scale is a weight.
            let scale_positions: &[usize] = match op {
                Op::QuantizeLinear | Op::DequantizeLinear => &[1, 2],
                Op::QLinearMatMul => &[1, 2, 4, 5, 6, 7],
                Op::QLinearConv(_) => &[1, 2, 6, 7],
                _ => &[],
            };
            for &k in scale_positions {
                if let Some(s) = ins[k] {
                    let s = s as usize;
                    if s >= inputs.len() {
                        let w = &weights[s - inputs.len()].value;
                        if w.numel() != 1 {
                            return Err(unsupported(
                                Some(&name),
                                Some(&n.op_type),
                                format!(
                                    "operand {k} has {} elements: per-axis quantization is not in the op set",
                                    w.numel()
                                ),
                            ));
                        }
                    }
                }
            }
            let out_name = n.output[0].clone();
            let slot = slot_types.len() as u32;
            if slot_of.insert(out_name.clone(), slot).is_some() {
                return Err(JudgeError::Malformed(format!(
                    "`{out_name}` is defined twice"
                )));
            }
            slot_types.push(out_type);
            nodes.push(Node {
                name,
                op,
                inputs: ins,
                output: slot,
                output_name: out_name,
            });
        }

        let mut outputs = Vec::with_capacity(graph.output.len());
        for vi in &graph.output {
            let slot = *slot_of.get(&vi.name).ok_or_else(|| {
                JudgeError::Malformed(format!("output `{}` is never produced", vi.name))
            })?;
            outputs.push(IoTensor {
                name: vi.name.clone(),
                dtype: slot_types[slot as usize],
                slot,
                dims: vec![],
            });
        }
        if outputs.is_empty() {
            return Err(JudgeError::Malformed("the graph has no outputs".into()));
        }
        outputs.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        if outputs.windows(2).any(|w| w[0].name == w[1].name) {
            return Err(JudgeError::Malformed(
                "two graph outputs share a name".into(),
            ));
        }
        if slot_types.len() > u32::MAX as usize - 1 {
            return Err(unsupported(None, None, "too many values"));
        }
        Ok(Self {
            inputs,
            outputs,
            weights,
            nodes,
            slot_types,
        })
    }

    /// Compiles the model file at `path`.
    pub fn from_file(path: &std::path::Path) -> Result<Self, JudgeError> {
        let bytes = std::fs::read(path)
            .map_err(|e| JudgeError::Malformed(format!("cannot read {}: {e}", path.display())))?;
        Self::from_onnx(&bytes)
    }

    pub fn input_count(&self) -> usize {
        self.inputs.len()
    }

    pub fn weight_count(&self) -> usize {
        self.weights.len()
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn slot_count(&self) -> usize {
        self.slot_types.len()
    }

    /// The slot node `k` writes.
    pub fn node_slot(&self, k: usize) -> usize {
        self.inputs.len() + self.weights.len() + k
    }

    /// The tree of node leaves (`keccak256(encoding)`).
    pub fn nodes_tree(&self) -> MerkleTree {
        MerkleTree::new(
            self.nodes.iter().map(|n| keccak256(n.encode())).collect(),
            B256::ZERO,
        )
    }

    /// Tensor commitments of the weights, in slot order.
    pub fn weight_commitments(&self) -> Vec<B256> {
        self.weights
            .iter()
            .map(|w| {
                let word = shape_word(w.value.dtype, &w.value.shape).expect("checked at compile");
                tensor_commitment(&word, &data_root(&w.value.data))
            })
            .collect()
    }

    /// The program's commitment (see [`ProgramCommitment`]).
    pub fn commitment(&self) -> ProgramCommitment {
        let weights = self.weight_commitments();
        let mut leaves = vec![B256::ZERO; self.slot_count()];
        for (j, t) in weights.iter().enumerate() {
            leaves[self.inputs.len() + j] = *t;
        }
        let init_root = MerkleTree::new(leaves, B256::ZERO).root();
        let io = |v: &[IoTensor]| {
            keccak256(v.iter().map(IoTensor::abi).collect::<Vec<_>>().abi_encode())
        };
        let mut c = ProgramCommitment {
            nodes_root: self.nodes_tree().root(),
            init_root,
            inputs_hash: io(&self.inputs),
            outputs_hash: io(&self.outputs),
            node_count: self.nodes.len() as u32,
            slot_count: self.slot_count() as u32,
            input_count: self.inputs.len() as u32,
            id: B256::ZERO,
            weights: self
                .weights
                .iter()
                .zip(&weights)
                .map(|(w, t)| (w.name.clone(), *t))
                .collect(),
        };
        c.id = keccak256((U256::from(JUDGE_VERSION), c.abi()).abi_encode());
        c
    }
}
