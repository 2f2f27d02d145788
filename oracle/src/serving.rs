//! Loaded models: a pool of ONNX Runtime sessions per model, shared by concurrent requests.
//! Each session is used by one call at a time (ONNX Runtime's `run` takes `&mut`); a
//! semaphore hands out sessions, and every run happens on tokio's blocking pool, never on a
//! reactor thread. With one intra-op thread per session, N sessions serve N calls in parallel.

use std::{path::Path, sync::Mutex};

use ort::{
    session::{Session, SessionInputValue},
    value::{DynValue, ValueType},
};
use tokio::sync::Semaphore;

use crate::{
    engine::Engine,
    error::{OracleError, Result},
    tensor::{DataType, Tensor, TensorData},
};

pub struct SessionPool {
    sessions: Mutex<Vec<Session>>,
    permits: Semaphore,
    size: usize,
    /// The execution provider the sessions run on (`cpu` or `cuda`).
    pub execution_provider: &'static str,
}

impl SessionPool {
    /// Creates `size` sessions for the model file (blocking).
    pub fn load(engine: &Engine, path: &Path, size: usize) -> Result<Self> {
        let mut sessions = Vec::with_capacity(size);
        let mut ep = "cpu";
        for _ in 0..size.max(1) {
            let (s, used) = engine
                .session(path)
                .map_err(|e| OracleError::ModelUnavailable(format!("cannot load model: {e}")))?;
            ep = used;
            sessions.push(s);
        }
        let size = sessions.len();
        Ok(Self {
            sessions: Mutex::new(sessions),
            permits: Semaphore::new(size),
            size,
            execution_provider: ep,
        })
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Runs the model on one free session, off the reactor. Returns the requested outputs (all
    /// outputs when `wanted` is empty), in the order ONNX Runtime reports them.
    pub async fn run(&self, inputs: Vec<Tensor>, wanted: Vec<String>) -> Result<Vec<Tensor>> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| OracleError::ModelUnavailable("model is unloading".into()))?;
        let mut session = self
            .sessions
            .lock()
            .expect("pool lock")
            .pop()
            .expect("a permit guarantees a free session");
        let joined = tokio::task::spawn_blocking(move || {
            let result = run_session(&mut session, inputs, &wanted);
            (session, result)
        })
        .await;
        match joined {
            Ok((session, result)) => {
                self.sessions.lock().expect("pool lock").push(session);
                drop(permit);
                result
            }
            Err(e) => {
                // The session was lost with the panicking task: retire its permit too.
                permit.forget();
                Err(OracleError::Inference(format!(
                    "inference task failed: {e}"
                )))
            }
        }
    }
}

fn le_chunks<const N: usize>(bytes: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
    bytes
        .chunks_exact(N)
        .map(|c| c.try_into().expect("exact chunk"))
}

/// Converts a validated tensor into an ONNX Runtime value.
fn to_value(t: Tensor) -> std::result::Result<(String, DynValue), String> {
    let (name, dt, shape, data) = t.into_parts();
    let shape: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    macro_rules! prim {
        ($ty:ty, $n:literal, $bytes:expr) => {
            ort::value::Tensor::from_array((
                shape,
                le_chunks::<$n>($bytes)
                    .map(<$ty>::from_le_bytes)
                    .collect::<Vec<$ty>>(),
            ))
            .map(|v| v.into_dyn())
        };
    }
    let value = match (dt, data) {
        (DataType::Bytes, TensorData::Bytes(items)) => {
            let strings = items
                .into_iter()
                .map(String::from_utf8)
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|_| {
                    format!("input `{name}`: BYTES elements must be UTF-8 for ONNX string tensors")
                })?;
            ort::value::Tensor::from_string_array((shape, strings.as_slice())).map(|v| v.into_dyn())
        }
        (_, TensorData::Fixed(b)) => match dt {
            DataType::Bool => ort::value::Tensor::from_array((
                shape,
                b.iter().map(|&x| x != 0).collect::<Vec<bool>>(),
            ))
            .map(|v| v.into_dyn()),
            DataType::Int8 => prim!(i8, 1, &b),
            DataType::Uint8 => ort::value::Tensor::from_array((shape, b)).map(|v| v.into_dyn()),
            DataType::Int16 => prim!(i16, 2, &b),
            DataType::Uint16 => prim!(u16, 2, &b),
            DataType::Int32 => prim!(i32, 4, &b),
            DataType::Uint32 => prim!(u32, 4, &b),
            DataType::Int64 => prim!(i64, 8, &b),
            DataType::Uint64 => prim!(u64, 8, &b),
            DataType::Fp16 => ort::value::Tensor::from_array((
                shape,
                le_chunks::<2>(&b)
                    .map(|c| half::f16::from_bits(u16::from_le_bytes(c)))
                    .collect::<Vec<_>>(),
            ))
            .map(|v| v.into_dyn()),
            DataType::Fp32 => prim!(f32, 4, &b),
            DataType::Fp64 => prim!(f64, 8, &b),
            DataType::Bytes => unreachable!("BYTES tensors hold TensorData::Bytes"),
        },
        _ => return Err(format!("input `{name}`: data does not match its datatype")),
    }
    .map_err(|e| format!("input `{name}`: {e}"))?;
    Ok((name, value))
}

/// Converts an ONNX Runtime output back into a tensor.
fn from_value(name: &str, v: &DynValue) -> std::result::Result<Tensor, String> {
    use ort::value::TensorElementType as E;
    let ValueType::Tensor { ty, .. } = v.dtype() else {
        return Err(format!("output `{name}` is not a tensor"));
    };
    macro_rules! prim {
        ($ty:ty, $dt:expr) => {{
            let (shape, data) = v.try_extract_tensor::<$ty>().map_err(|e| e.to_string())?;
            let bytes: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
            (
                shape.iter().map(|&d| d as u64).collect::<Vec<_>>(),
                $dt,
                TensorData::Fixed(bytes),
            )
        }};
    }
    let (shape, dt, data) = match ty {
        E::Float32 => prim!(f32, DataType::Fp32),
        E::Float64 => prim!(f64, DataType::Fp64),
        E::Int8 => prim!(i8, DataType::Int8),
        E::Int16 => prim!(i16, DataType::Int16),
        E::Int32 => prim!(i32, DataType::Int32),
        E::Int64 => prim!(i64, DataType::Int64),
        E::Uint8 => prim!(u8, DataType::Uint8),
        E::Uint16 => prim!(u16, DataType::Uint16),
        E::Uint32 => prim!(u32, DataType::Uint32),
        E::Uint64 => prim!(u64, DataType::Uint64),
        E::Float16 => {
            let (shape, data) = v
                .try_extract_tensor::<half::f16>()
                .map_err(|e| e.to_string())?;
            let bytes = data
                .iter()
                .flat_map(|x| x.to_bits().to_le_bytes())
                .collect();
            (
                shape.iter().map(|&d| d as u64).collect(),
                DataType::Fp16,
                TensorData::Fixed(bytes),
            )
        }
        E::Bool => {
            let (shape, data) = v.try_extract_tensor::<bool>().map_err(|e| e.to_string())?;
            (
                shape.iter().map(|&d| d as u64).collect(),
                DataType::Bool,
                TensorData::Fixed(data.iter().map(|&b| u8::from(b)).collect()),
            )
        }
        E::String => {
            let (shape, data) = v.try_extract_strings().map_err(|e| e.to_string())?;
            (
                shape.iter().map(|&d| d as u64).collect(),
                DataType::Bytes,
                TensorData::Bytes(data.into_iter().map(String::into_bytes).collect()),
            )
        }
        other => {
            return Err(format!(
                "output `{name}` has element type {other}, which the protocol cannot carry"
            ));
        }
    };
    Tensor::new(name, dt, shape, data).map_err(|e| e.to_string())
}

/// Why a run failed, for the caller to classify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunErrorKind {
    /// An input could not become an ONNX Runtime value.
    Input,
    /// ONNX Runtime's run failed.
    Runtime,
    /// An output could not be converted back.
    Output,
}

#[derive(Debug, Clone)]
pub struct RunError {
    pub kind: RunErrorKind,
    /// ONNX Runtime's own message (may name source paths: sanitize before showing it).
    pub message: String,
}

impl From<RunError> for OracleError {
    fn from(e: RunError) -> Self {
        match e.kind {
            RunErrorKind::Input => OracleError::InvalidInput(e.message),
            RunErrorKind::Runtime | RunErrorKind::Output => OracleError::Inference(e.message),
        }
    }
}

fn run_session(
    session: &mut Session,
    inputs: Vec<Tensor>,
    wanted: &[String],
) -> Result<Vec<Tensor>> {
    let options =
        ort::session::RunOptions::new().map_err(|e| OracleError::Engine(e.to_string()))?;
    Ok(run_session_with(session, inputs, wanted, &options)?)
}

/// Runs one session on `inputs` with `options` (which another thread may `terminate`), and
/// returns the outputs named in `wanted` (all when empty), in ONNX Runtime's order.
pub fn run_session_with(
    session: &mut Session,
    inputs: Vec<Tensor>,
    wanted: &[String],
    options: &ort::session::RunOptions,
) -> std::result::Result<Vec<Tensor>, RunError> {
    let values = inputs
        .into_iter()
        .map(|t| to_value(t).map(|(n, v)| (n, SessionInputValue::from(v))))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|message| RunError {
            kind: RunErrorKind::Input,
            message,
        })?;
    let outputs = session
        .run_with_options(values, options)
        .map_err(|e| RunError {
            kind: RunErrorKind::Runtime,
            message: e.to_string(),
        })?;
    let mut out = Vec::new();
    for (name, value) in outputs.iter() {
        if wanted.is_empty() || wanted.iter().any(|w| w == name) {
            out.push(from_value(name, &value).map_err(|message| RunError {
                kind: RunErrorKind::Output,
                message,
            })?);
        }
    }
    Ok(out)
}
