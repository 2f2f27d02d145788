//! The typed states of the chain loop and the contract's own enums. Each machine's transitions
//! live in one function of its component (`epochs::EpochMachine::step`,
//! `epochs::EpochMachine::answer`, `tokens::Tokenizer::reconcile`); the tables are in
//! docs/ARCHITECTURE.md ("State machines"). What is in flight on-chain is not a state: it is an
//! intent of the transaction manager, asked for with [`super::txm::TxManager::outcome`].

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::error::OracleError;

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $v),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),*];

            /// The stored (and shown) name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $s),* }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = OracleError;
            fn from_str(s: &str) -> Result<Self, OracleError> {
                match s {
                    $($s => Ok($name::$v),)*
                    other => Err(OracleError::Database(format!(
                        concat!("unknown ", stringify!($name), " `{}` in storage"), other
                    ))),
                }
            }
        }
    };
}

string_enum! {
    /// An epoch as the service keeps it (table `epochs`).
    EpochState {
        /// Its tree is fixed (for `round`): attest it.
        Closed = "closed",
        /// Our attestation of `round` is final on-chain: wait out the window, then finalize.
        Attested = "attested",
        /// A challenge voided our attestation: unwind it, then close the next round.
        Voided = "voided",
        /// Paid out on-chain; its payouts are recorded. Terminal.
        Finalized = "finalized",
        /// The attestation transaction failed for a reason a retry cannot fix. Terminal until
        /// an operator acts.
        AttestFailed = "attest_failed",
    }
}

string_enum! {
    /// How an epoch looks from outside: its state, refined by the action in flight (an
    /// attestation, finalize batch or unwind the transaction manager has not finished).
    EpochPhase {
        Closed = "closed",
        Attesting = "attesting",
        Attested = "attested",
        Finalizing = "finalizing",
        Finalized = "finalized",
        Voided = "voided",
        Unwinding = "unwinding",
        AttestFailed = "attest_failed",
    }
}

impl EpochPhase {
    /// The phase of an epoch in `state` with (`true`) or without an action in flight.
    pub fn of(state: EpochState, in_flight: bool) -> Self {
        match (state, in_flight) {
            (EpochState::Closed, false) => Self::Closed,
            (EpochState::Closed, true) => Self::Attesting,
            (EpochState::Attested, false) => Self::Attested,
            (EpochState::Attested, true) => Self::Finalizing,
            (EpochState::Voided, false) => Self::Voided,
            (EpochState::Voided, true) => Self::Unwinding,
            (EpochState::Finalized, _) => Self::Finalized,
            (EpochState::AttestFailed, _) => Self::AttestFailed,
        }
    }
}

string_enum! {
    /// A challenge against one of our attestations (table `challenges`).
    ChallengeState {
        /// Seen; answer it with the leaf's proof.
        Open = "open",
        /// Our answer is final on-chain: the challenge was rejected.
        Answered = "answered",
        /// Our answer failed on-chain (e.g. the window closed first).
        Failed = "failed",
        /// The attestation it names is no longer ours to defend (another round).
        Moot = "moot",
        /// The tree does not hold what it asks for: the challenge is right and will be upheld.
        Unanswerable = "unanswerable",
    }
}

string_enum! {
    /// A model's tokenization (table `model_tokens`).
    TokenState {
        /// `ModelRegistry.register` is recorded with the transaction manager.
        Tokenizing = "tokenizing",
        /// Final on-chain: the model is metered.
        Tokenized = "tokenized",
        /// The registration failed; asking again retries it.
        Failed = "failed",
    }
}

/// `UsageOracle.Status` (the numbering of `getAttestation(epoch).status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttestationStatus {
    /// 0: nothing posted (or a voided one unwound).
    None,
    /// 1: posted; in or after its challenge window.
    Posted,
    /// 2: a challenge won; `unwind` returns the escrow.
    Voided,
    /// 3: paid out.
    Finalized,
    /// 4: finalize batches are being paid.
    Finalizing,
}

impl TryFrom<u8> for AttestationStatus {
    type Error = OracleError;
    fn try_from(v: u8) -> Result<Self, OracleError> {
        Ok(match v {
            0 => Self::None,
            1 => Self::Posted,
            2 => Self::Voided,
            3 => Self::Finalized,
            4 => Self::Finalizing,
            other => {
                return Err(OracleError::Chain(format!(
                    "UsageOracle reports an unknown attestation status {other}"
                )));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in EpochState::ALL {
            assert_eq!(s.as_str().parse::<EpochState>().unwrap(), *s);
        }
        for s in ChallengeState::ALL {
            assert_eq!(s.as_str().parse::<ChallengeState>().unwrap(), *s);
        }
        for s in TokenState::ALL {
            assert_eq!(s.as_str().parse::<TokenState>().unwrap(), *s);
        }
        assert!("attesting".parse::<EpochState>().is_err());
        assert_eq!(
            EpochPhase::of(EpochState::Closed, true),
            EpochPhase::Attesting
        );
        assert_eq!(
            AttestationStatus::try_from(4).unwrap(),
            AttestationStatus::Finalizing
        );
        assert!(AttestationStatus::try_from(5).is_err());
    }
}
