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
use tracing::{info, warn};

use crate::{
    config::{EngineConfig, ExecutionProvider, OptimizationLevel},
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
    ort_version: String,
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
        let ort_version = ort_version_of(&library);
        Ok(Self {
            env,
            cfg: cfg.clone(),
            library,
            ort_version,
        })
    }

    /// Builds a session for a model file with the pinned options (blocking: call off the
    /// reactor). Returns the session and the execution provider it actually runs on.
    pub fn session(&self, path: &Path) -> std::result::Result<(Session, &'static str), String> {
        let level = match self.cfg.optimization_level {
            OptimizationLevel::Disable => GraphOptimizationLevel::Disable,
            OptimizationLevel::Basic => GraphOptimizationLevel::Level1,
            OptimizationLevel::Extended => GraphOptimizationLevel::Level2,
            OptimizationLevel::All => GraphOptimizationLevel::All,
        };
        let e = |e: ort::Error<_>| e.to_string();
        let builder = Session::builder(&self.env)
            .map_err(|e| e.to_string())?
            .with_optimization_level(level)
            .map_err(e)?
            .with_intra_threads(self.cfg.intra_threads)
            .map_err(e)?
            .with_inter_threads(1)
            .map_err(e)?
            .with_deterministic_compute(true)
            .map_err(e)?;
        if self.cfg.execution_provider == ExecutionProvider::Cuda {
            match cuda(builder.clone()) {
                Ok(b) => {
                    let mut b = b;
                    return b
                        .commit_from_file(path)
                        .map(|s| (s, "cuda"))
                        .map_err(|e| e.to_string());
                }
                Err(why) => {
                    warn!(model = %path.display(), reason = %why, "CUDA execution provider unavailable; falling back to CPU")
                }
            }
        }
        let mut builder = builder;
        builder
            .commit_from_file(path)
            .map(|s| (s, "cpu"))
            .map_err(|e| e.to_string())
    }

    /// The execution fingerprint: everything that decides whether outputs are bit-reproducible
    /// (ONNX Runtime version, execution provider, optimisation level, threads, CPU ISA).
    pub fn fingerprint(&self, execution_provider: &str) -> String {
        format!(
            "ort={};ep={};opt={:?};intra={};isa={}",
            self.ort_version,
            execution_provider,
            self.cfg.optimization_level,
            self.cfg.intra_threads,
            cpu_isa()
        )
        .to_lowercase()
    }

    /// Loads the model in ONNX Runtime and reads its signature: the validation every upload
    /// passes before it is registered (blocking).
    pub fn inspect(&self, path: &Path) -> Result<ModelSignature> {
        let (session, _) = self
            .session(path)
            .map_err(|e| OracleError::InvalidModel(format!("ONNX Runtime cannot load it: {e}")))?;
        self.signature(&session)
    }

    /// The inputs and outputs of a loaded session, with protocol datatypes.
    pub fn signature(&self, session: &Session) -> Result<ModelSignature> {
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

#[cfg(feature = "cuda")]
fn cuda(
    builder: ort::session::builder::SessionBuilder,
) -> std::result::Result<ort::session::builder::SessionBuilder, String> {
    builder
        .with_execution_providers([ort::ep::CUDA::default().build().error_on_failure()])
        .map_err(|e| e.to_string())
}

#[cfg(not(feature = "cuda"))]
fn cuda(
    _: ort::session::builder::SessionBuilder,
) -> std::result::Result<ort::session::builder::SessionBuilder, String> {
    Err("this build has no CUDA support (rebuild with `--features cuda`)".into())
}

/// ONNX Runtime's version: from the library's resolved file name (`libonnxruntime.so.1.31.1`,
/// as the pinned wheel ships it), plus the git commit from the runtime's build info.
fn ort_version_of(library: &Path) -> String {
    let resolved = std::fs::canonicalize(library).unwrap_or_else(|_| library.to_owned());
    let name = resolved
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let version = name
        .split_once(".so.")
        .map(|(_, v)| v.to_owned())
        .unwrap_or_else(|| "unknown".into());
    let commit = ort::info()
        .split(|c: char| c == ',' || c.is_whitespace())
        .find_map(|part| part.strip_prefix("git-commit-id="))
        .map(|c| format!("+{c}"))
        .unwrap_or_default();
    format!("{version}{commit}")
}

/// The CPU instruction-set extensions that change ONNX Runtime's float kernels.
pub fn cpu_isa() -> String {
    #[cfg(target_arch = "x86_64")]
    {
        let mut f = vec!["x86_64"];
        macro_rules! has {
            ($($feat:tt),*) => { $( if std::arch::is_x86_feature_detected!($feat) { f.push($feat); } )* };
        }
        has!(
            "sse4.1",
            "avx",
            "avx2",
            "fma",
            "f16c",
            "avx512f",
            "avx512bw",
            "avx512vnni",
            "avxvnni"
        );
        f.join("+")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        std::env::consts::ARCH.to_owned()
    }
}
