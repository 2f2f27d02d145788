//! Registration-time assessment: is a model disputable on-chain under this execution
//! fingerprint? Only where ONNX Runtime and the reference interpreter agree bit for bit.

use std::{path::Path, sync::Arc};

use prost::Message;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use super::{
    JudgeError,
    program::{Program, ProgramCommitment},
    proto,
    trace::Trace,
    value::JType,
};
use crate::{
    engine::Engine,
    error::{OracleError, Result},
    serving::SessionPool,
    splitmix::SplitMix64,
    tensor::{Tensor, TensorData},
};

/// Samples [`assess`] runs when the caller gives none.
pub const DEFAULT_SAMPLES: usize = 24;

/// What blocks a model from being disputable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocker {
    /// The ONNX node's name (`#<index>` when unnamed); `None` for model-level reasons.
    pub node: Option<String>,
    /// The ONNX operator type.
    pub op: Option<String>,
    pub reason: String,
}

/// The outcome of [`assess`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disputability {
    /// Calls to this model can be disputed on-chain: every node is in the op set and ONNX
    /// Runtime's outputs equalled the reference's bit for bit on every sample.
    pub disputable: bool,
    /// Why not, when not disputable.
    pub blocked_by: Option<Blocker>,
    /// Samples compared (0 when the model is outside the op set).
    pub samples: usize,
    /// The execution fingerprint ONNX Runtime ran under (docs/PROTOCOL.md §3); `None` when it
    /// was not run. The verdict holds for this fingerprint only.
    pub fingerprint: Option<String>,
    /// The program commitment to post (`InferenceDispute.commitProgram`) when disputable.
    #[serde(skip)]
    pub program: Option<ProgramCommitment>,
}

impl Disputability {
    fn blocked(blocker: Blocker, samples: usize, fingerprint: Option<String>) -> Self {
        Self {
            disputable: false,
            blocked_by: Some(blocker),
            samples,
            fingerprint,
            program: None,
        }
    }
}

/// Special float values every sample set includes: signed zeros, NaNs, infinities, subnormals,
/// the extremes, and halves (rounding ties under power-of-two scales).
const SPECIAL_F32: [u32; 18] = [
    0x0000_0000,
    0x8000_0000,
    0x7FC0_0000,
    0xFFC0_0000,
    0x7F80_0000,
    0xFF80_0000,
    0x0000_0001,
    0x8040_0000,
    0x7F7F_FFFF,
    0xFF7F_FFFF,
    0x3F00_0000,
    0xBFC0_0000,
    0x4020_0000,
    0xC0B0_0000,
    0x3FC0_0000,
    0xBF00_0000,
    0x4060_0000,
    0xC020_0000,
];

/// `count` deterministic input sets for `program`: symbolic dimensions 1 or 3, FLOAT values
/// normal at scales from 0.01 to 10⁴ with the special values of IEEE-754 mixed in, integers
/// over their whole range.
pub fn sample_inputs(program: &Program, count: usize, seed: u64) -> Vec<Vec<Tensor>> {
    let mut rng = SplitMix64(seed);
    let scales = [1.0f32, 0.01, 0.1, 10.0, 100.0, 10_000.0];
    (0..count)
        .map(|s| {
            program
                .inputs
                .iter()
                .enumerate()
                .map(|(input, spec)| {
                    let shape: Vec<u64> = spec
                        .dims
                        .iter()
                        .map(|d| {
                            d.map(|d| d as u64)
                                .unwrap_or(if s % 2 == 0 { 1 } else { 3 })
                        })
                        .collect();
                    let n = shape.iter().product::<u64>() as usize;
                    let data: Vec<u8> = match spec.dtype {
                        JType::F32 => (0..n)
                            .flat_map(|i| {
                                // Every third sample puts special values at every fifth
                                // element, shifted per input so that NaNs of different
                                // payloads and signs meet in binary operators.
                                let bits = if s % 3 == 2 && i % 5 == 0 {
                                    SPECIAL_F32[(i / 5 + s / 3 + input) % SPECIAL_F32.len()]
                                } else if s % 3 == 1 && i % 3 == 0 {
                                    // Multiples of 1/8: ties under power-of-two scales.
                                    ((rng.next() % 4801) as f32 / 8.0 - 300.0).to_bits()
                                } else {
                                    (rng.normal() * scales[s % scales.len()]).to_bits()
                                };
                                bits.to_le_bytes()
                            })
                            .collect(),
                        t => (0..n * t.size()).map(|_| rng.next() as u8).collect(),
                    };
                    Tensor::new(
                        spec.name.clone(),
                        spec.dtype.data_type(),
                        shape,
                        TensorData::Fixed(data),
                    )
                    .expect("sample fits its shape")
                })
                .collect()
        })
        .collect()
}

fn blocker_of(e: &JudgeError) -> Option<Blocker> {
    match e {
        JudgeError::Unsupported { node, op, reason } => Some(Blocker {
            node: node.clone(),
            op: op.clone(),
            reason: reason.clone(),
        }),
        JudgeError::Eval { node, op, reason } => Some(Blocker {
            node: Some(node.clone()),
            op: Some(op.clone()),
            reason: format!("the reference cannot evaluate it: {reason}"),
        }),
        _ => None,
    }
}

/// First differing element of two tensors, described.
fn difference(ort: &Tensor, judge: &Tensor) -> Option<String> {
    if ort.datatype() != judge.datatype() || ort.shape() != judge.shape() {
        return Some(format!(
            "ONNX Runtime gives {} {:?}, the reference {} {:?}",
            ort.datatype().as_str(),
            ort.shape(),
            judge.datatype().as_str(),
            judge.shape()
        ));
    }
    let (TensorData::Fixed(a), TensorData::Fixed(b)) = (ort.data(), judge.data()) else {
        return Some("non-numeric output".into());
    };
    let size = ort.datatype().size().unwrap_or(1);
    let i = a
        .chunks(size)
        .zip(b.chunks(size))
        .position(|(x, y)| x != y)?;
    Some(format!(
        "element {i}: ONNX Runtime 0x{}, reference 0x{} (little-endian bytes)",
        hex::encode(&a[i * size..(i + 1) * size]),
        hex::encode(&b[i * size..(i + 1) * size])
    ))
}

async fn load_pool(engine: &Engine, path: &Path) -> Result<SessionPool> {
    let (engine, path) = (engine.clone(), path.to_owned());
    tokio::task::spawn_blocking(move || SessionPool::load(&engine, &path, 1))
        .await
        .map_err(|e| OracleError::Engine(format!("loading task failed: {e}")))?
}

async fn run_judge(
    program: Arc<Program>,
    inputs: Vec<Tensor>,
) -> Result<Result<Trace, JudgeError>> {
    tokio::task::spawn_blocking(move || Trace::run(program, &inputs))
        .await
        .map_err(|e| OracleError::Engine(format!("reference task failed: {e}")))
}

/// The model bytes with every node output added as a graph output (protobuf merges a repeated
/// field appended after the message), so that ONNX Runtime reports the intermediate values.
fn exposing_intermediates(bytes: &[u8], program: &Program) -> Vec<u8> {
    let outputs = program
        .nodes
        .iter()
        .filter(|n| !program.outputs.iter().any(|o| o.slot == n.output))
        .map(|n| proto::ValueInfoProto {
            name: n.output_name.clone(),
            r#type: Some(proto::TypeProto {
                tensor_type: Some(proto::TypeProtoTensor {
                    elem_type: i32::from(program.slot_types[n.output as usize].code()),
                    shape: None,
                }),
            }),
        })
        .collect();
    let extra = proto::ModelProto {
        graph: Some(proto::GraphProto {
            output: outputs,
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut out = bytes.to_vec();
    out.extend_from_slice(&extra.encode_to_vec());
    out
}

/// Finds the first node whose output differs between ONNX Runtime and the reference on
/// `sample`, running a copy of the model that exposes every intermediate value.
async fn localize(
    engine: &Engine,
    bytes: &[u8],
    program: &Program,
    trace: &Trace,
    sample: Vec<Tensor>,
) -> Result<Option<Blocker>> {
    let dir = tempfile::tempdir().map_err(|e| OracleError::Storage(e.to_string()))?;
    let path = dir.path().join("exposed.onnx");
    std::fs::write(&path, exposing_intermediates(bytes, program))
        .map_err(|e| OracleError::Storage(e.to_string()))?;
    let pool = match load_pool(engine, &path).await {
        Ok(p) => p,
        Err(_) => return Ok(None),
    };
    let Ok(outs) = pool.run(sample, vec![]).await else {
        return Ok(None);
    };
    for (k, node) in program.nodes.iter().enumerate() {
        let Some(ort) = outs.iter().find(|t| t.name() == node.output_name) else {
            continue;
        };
        let mine = trace.node_output(k).to_tensor(&node.output_name);
        if let Some(d) = difference(ort, &mine) {
            return Ok(Some(Blocker {
                node: Some(node.name.clone()),
                op: Some(node.op.name().into()),
                reason: format!("ONNX Runtime's kernel and the reference semantics disagree: {d}"),
            }));
        }
    }
    Ok(None)
}

/// Decides whether calls to the model at `model` can be disputed on-chain under `engine`'s
/// execution fingerprint (docs/PROTOCOL.md §9.1).
///
/// Contract, for the registry (at registration, and again when a model is first served under a
/// new execution fingerprint):
/// * compiles the model for the judge ([`Program::from_onnx`]); a node outside the op set gives
///   `disputable: false` with `blocked_by` naming the node, its operator and the reason, without
///   running anything;
/// * otherwise runs every sample (the caller's, or [`sample_inputs`] with [`DEFAULT_SAMPLES`]
///   when `samples` is empty) through ONNX Runtime — one session with the engine's pinned
///   options — and through the reference interpreter, and compares every output bit for bit;
///   the first difference gives `disputable: false` with the first node whose value differs
///   (found by re-running that sample with every intermediate value exposed) or, if exposing
///   them makes the difference vanish (a fusion), the node producing the differing output;
/// * all equal: `disputable: true` with the program commitment to post on-chain.
///
/// Errors: the file cannot be read or is not an ONNX model (`invalid_model`), ONNX Runtime
/// cannot load it (`model_unavailable`) or fails on a sample (`inference_failed`), a
/// caller-given sample does not fit the model (`invalid_input`). Blocking work runs on tokio's
/// blocking pool.
#[instrument(skip(engine, samples), fields(model = %model.display(), samples = samples.len()))]
pub async fn assess(
    model: &Path,
    engine: &Engine,
    samples: &[Vec<Tensor>],
) -> Result<Disputability> {
    let bytes = tokio::fs::read(model)
        .await
        .map_err(|e| OracleError::Storage(format!("cannot read {}: {e}", model.display())))?;
    let program = match Program::from_onnx(&bytes) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            return match blocker_of(&e) {
                Some(b) => {
                    tracing::info!(reason = %b.reason, node = ?b.node, "model is not disputable");
                    Ok(Disputability::blocked(b, 0, None))
                }
                None => Err(e.into()),
            };
        }
    };
    let samples = if samples.is_empty() {
        sample_inputs(&program, DEFAULT_SAMPLES, 0x1D15_EA5E)
    } else {
        samples.to_vec()
    };
    let pool = load_pool(engine, model).await?;
    let fingerprint = engine.fingerprint(pool.execution_provider);
    for (s, sample) in samples.iter().enumerate() {
        let trace = match run_judge(program.clone(), sample.clone()).await? {
            Ok(t) => t,
            Err(e @ JudgeError::BadInput(_)) => return Err(e.into()),
            Err(e) => {
                let b = blocker_of(&e).expect("an evaluation error");
                return Ok(Disputability::blocked(b, s, Some(fingerprint)));
            }
        };
        let ort = pool.run(sample.clone(), vec![]).await?;
        let mine = trace.outputs();
        for o in &ort {
            let Some(j) = mine.iter().find(|t| t.name() == o.name()) else {
                continue;
            };
            if let Some(d) = difference(o, j) {
                let blocker = match localize(engine, &bytes, &program, &trace, sample.clone())
                    .await?
                {
                    Some(b) => b,
                    None => {
                        let slot = program
                            .outputs
                            .iter()
                            .find(|x| x.name == o.name())
                            .map(|x| x.slot)
                            .unwrap_or(u32::MAX);
                        let node = program.nodes.iter().find(|n| n.output == slot);
                        Blocker {
                            node: node.map(|n| n.name.clone()),
                            op: node.map(|n| n.op.name().to_owned()),
                            reason: format!(
                                "output `{}` differs ({d}) but no intermediate value does: ONNX Runtime fuses nodes into a kernel with other rounding",
                                o.name()
                            ),
                        }
                    }
                };
                tracing::info!(sample = s, reason = %blocker.reason, node = ?blocker.node, "model is not disputable");
                return Ok(Disputability::blocked(blocker, s + 1, Some(fingerprint)));
            }
        }
    }
    tracing::info!(samples = samples.len(), %fingerprint, "model is disputable");
    Ok(Disputability {
        disputable: true,
        blocked_by: None,
        samples: samples.len(),
        fingerprint: Some(fingerprint),
        program: Some(program.commitment()),
    })
}
