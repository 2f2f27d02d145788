//! The judge: what a correct inference output is, and the data of the on-chain dispute game
//! that settles it (docs/PROTOCOL.md §9).
//!
//! * [`Program`] — an ONNX model compiled for the judge (op set: `QuantizeLinear`,
//!   `DequantizeLinear`, `QLinearMatMul`, `QLinearConv`, `MaxPool`, `Flatten`, `Add`, `Relu`;
//!   types FLOAT, UINT8, INT8, INT32, INT64), with its on-chain [`ProgramCommitment`].
//! * [`Trace`] — the reference interpreter's run on one call's inputs: every value, its tensor
//!   commitment, and the state root after every node.
//! * [`game`] — what each move of the dispute game posts, built from a trace, and how an honest
//!   player decides; [`game::play`] simulates a whole game between two traces.
//! * [`assess`] — whether ONNX Runtime agrees with the reference bit for bit on a model
//!   (`disputable`), and if not which node blocks it.
//!
//! Integer arithmetic is exact; floats are single IEEE-754 binary32 operations with fixed NaN
//! results ([`float`]). Float reductions (float MatMul, Gemm, Conv, pooling averages, Softmax)
//! are not in the op set: a model using them is not disputable.

mod assess;
pub mod commit;
pub mod float;
#[cfg(feature = "fault-injection")]
pub mod fraud;
pub mod game;
pub mod ops;
mod program;
mod proto;
mod trace;
pub mod value;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod vectors;

pub use assess::{Blocker, DEFAULT_SAMPLES, Disputability, assess, sample_inputs};
pub use program::{
    ABSENT, IoTensor, IoTensorAbi, JUDGE_VERSION, Node, OPSETS, Program, ProgramAbi,
    ProgramCommitment, Weight,
};
pub use trace::{Fault, Trace, commit_value};

use crate::error::OracleError;

/// Why the judge cannot compile a model or run a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JudgeError {
    /// A node (or the model) is outside the op set: the model is not disputable.
    #[error("{}{reason}", describe(node, op))]
    Unsupported {
        node: Option<String>,
        op: Option<String>,
        reason: String,
    },
    /// The bytes are not a well-formed ONNX model.
    #[error("{0}")]
    Malformed(String),
    /// The call's inputs do not fit the model.
    #[error("{0}")]
    BadInput(String),
    /// A node's operands do not fit its operator (shapes or types).
    #[error("node {node} ({op}): {reason}")]
    Eval {
        node: String,
        op: String,
        reason: String,
    },
}

fn describe(node: &Option<String>, op: &Option<String>) -> String {
    match (node, op) {
        (Some(n), Some(o)) => format!("node {n} ({o}): "),
        (Some(n), None) => format!("node {n}: "),
        (None, Some(o)) => format!("{o}: "),
        (None, None) => String::new(),
    }
}

impl JudgeError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unsupported { .. } => "not_disputable",
            Self::Malformed(_) => "invalid_model",
            Self::BadInput(_) => "invalid_input",
            Self::Eval { .. } => "invalid_input",
        }
    }
}

impl From<JudgeError> for OracleError {
    fn from(e: JudgeError) -> Self {
        match e {
            JudgeError::Unsupported { .. } | JudgeError::Malformed(_) => {
                Self::InvalidModel(e.to_string())
            }
            JudgeError::BadInput(_) | JudgeError::Eval { .. } => Self::InvalidInput(e.to_string()),
        }
    }
}
