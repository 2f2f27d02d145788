//! ONNX Runtime integration. The runtime library is loaded dynamically from the path in
//! config (the pinned PyPI wheel's `libonnxruntime.so`); ONNX Runtime allows one environment
//! per process, so it is created once and shared.

use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
};

use ort::{
    session::{Session, builder::GraphOptimizationLevel},
    value::{TensorElementType, ValueType},
};
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::{
    config::{EngineConfig, OptimizationLevel},
    error::{OracleError, Result},
};

/// Name, Open Inference Protocol datatype and shape (-1 = dynamic) of a model input or output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorSpec {
    pub name: String,
    pub datatype: String,
    pub shape: Vec<i64>,
}

/// Inputs and outputs as ONNX Runtime sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSignature {
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
}

/// The Open Inference Protocol (KServe v2) name of an ONNX element type.
pub fn oip_datatype(t: TensorElementType) -> &'static str {
    match t {
        TensorElementType::Bool => "BOOL",
        TensorElementType::Int8 => "INT8",
        TensorElementType::Int16 => "INT16",
        TensorElementType::Int32 => "INT32",
        TensorElementType::Int64 => "INT64",
        TensorElementType::Uint8 => "UINT8",
        TensorElementType::Uint16 => "UINT16",
        TensorElementType::Uint32 => "UINT32",
        TensorElementType::Uint64 => "UINT64",
        TensorElementType::Float16 => "FP16",
        TensorElementType::Float32 => "FP32",
        TensorElementType::Float64 => "FP64",
        TensorElementType::Bfloat16 => "BF16",
        TensorElementType::String => "BYTES",
        _ => "UNSUPPORTED",
    }
}

fn spec(name: &str, ty: &ValueType) -> std::result::Result<TensorSpec, String> {
    match ty {
        ValueType::Tensor { ty, shape, .. } => {
            let datatype = oip_datatype(*ty);
            if datatype == "UNSUPPORTED" {
                return Err(format!(
                    "`{name}` has element type {ty}, which the inference protocol cannot carry"
                ));
            }
            Ok(TensorSpec {
                name: name.to_owned(),
                datatype: datatype.to_owned(),
                shape: shape.iter().copied().collect(),
            })
        }
        other => Err(format!(
            "`{name}` is a {other:?}; only tensor inputs and outputs are supported"
        )),
    }
}

static ENVIRONMENT: OnceLock<std::result::Result<ort::environment::Environment, String>> =
    OnceLock::new();

/// The inference engine: one ONNX Runtime environment and the pinned session options.
#[derive(Clone)]
pub struct Engine {
    env: ort::environment::Environment,
    cfg: EngineConfig,
    library: PathBuf,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("library", &self.library)
            .field("cfg", &self.cfg)
            .finish()
    }
}

impl Engine {
    /// Loads ONNX Runtime (once per process) and returns the engine.
    pub fn init(cfg: &EngineConfig) -> Result<Self> {
        let library = cfg.ort_library.clone();
        let env = ENVIRONMENT
            .get_or_init(|| {
                if !library.exists() {
                    return Err(format!(
                        "ONNX Runtime library not found at {} (run `scripts/install-tools.sh ort`, or set IMO_ENGINE_ORT_LIBRARY)",
                        library.display()
                    ));
                }
                let env = ort::init_from(&library)
                    .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", library.display()))?
                    .with_name("imo-oracle")
                    .build()
                    .map_err(|e| format!("cannot create the ONNX Runtime environment: {e}"))?;
                info!(library = %library.display(), "ONNX Runtime loaded");
                Ok(env)
            })
            .clone()
            .map_err(OracleError::Engine)?;
        Ok(Self {
            env,
            cfg: cfg.clone(),
            library,
        })
    }

    /// Builds a session for a model file with the pinned options (blocking: call off the reactor).
    pub fn session(&self, path: &Path) -> std::result::Result<Session, String> {
        let level = match self.cfg.optimization_level {
            OptimizationLevel::Disable => GraphOptimizationLevel::Disable,
            OptimizationLevel::Basic => GraphOptimizationLevel::Level1,
            OptimizationLevel::Extended => GraphOptimizationLevel::Level2,
            OptimizationLevel::All => GraphOptimizationLevel::All,
        };
        let e = |e: ort::Error<_>| e.to_string();
        Session::builder(&self.env)
            .map_err(|e| e.to_string())?
            .with_optimization_level(level)
            .map_err(e)?
            .with_intra_threads(self.cfg.intra_threads)
            .map_err(e)?
            .with_inter_threads(1)
            .map_err(e)?
            .with_deterministic_compute(true)
            .map_err(e)?
            .commit_from_file(path)
            .map_err(|e| e.to_string())
    }

    /// Loads the model in ONNX Runtime and reads its signature: the validation every upload
    /// passes before it is registered (blocking).
    pub fn inspect(&self, path: &Path) -> Result<ModelSignature> {
        let session = self
            .session(path)
            .map_err(|e| OracleError::InvalidModel(format!("ONNX Runtime cannot load it: {e}")))?;
        let collect = |outlets: &[ort::value::Outlet]| -> Result<Vec<TensorSpec>> {
            outlets
                .iter()
                .map(|o| spec(o.name(), o.dtype()).map_err(OracleError::InvalidModel))
                .collect()
        };
        Ok(ModelSignature {
            inputs: collect(session.inputs())?,
            outputs: collect(session.outputs())?,
        })
    }
}
