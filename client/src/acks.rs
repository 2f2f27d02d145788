//! The client's side of acknowledged billing (docs/PROTOCOL.md §4.1): check every receipt
//! received, keep a record, sign acknowledgements of what was checked, and report.
//!
//! [`AckBook::check`] verifies one receipt — the operator's EIP-712 signature under the
//! receipt domain of `GET /v1/operator`, the client address, the input hash against what was
//! sent, the output hash against what was received, the price against what was expected — and
//! only then adds it to the epoch's totals; [`AckBook::acknowledgement`] signs the cumulative
//! `Acknowledgement(client, epoch, amount, calls)` of the checked receipts under the vault's
//! domain, ready for the `imo-acknowledgement` header or `POST /v1/acknowledgements`.

use std::collections::{BTreeMap, HashSet};

use alloy::{
    primitives::{Address as EthAddress, U256},
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::{Eip712Domain, SolStruct},
};
use serde::Serialize;

use imo_oracle::{
    acks::{AckMode, Acknowledgement},
    chain::vault::vault_domain,
    error::{OracleError, Result},
    receipts::{ReceiptRecord, recover_signer},
    types::{Address, Wei},
};

/// An acknowledgement signed by the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignedAcknowledgement {
    pub epoch: u64,
    pub amount_wei: u128,
    pub calls: u64,
    /// 65 bytes `r || s || v`, 0x-hex.
    pub signature: String,
}

impl SignedAcknowledgement {
    /// The `imo-acknowledgement` header value.
    pub fn header(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.epoch, self.amount_wei, self.calls, self.signature
        )
    }
}

/// What [`AckBook::check`] found wrong with a receipt (it is then not acknowledged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptProblem {
    #[error("the receipt is not signed by the operator {expected} (it recovers to {got})")]
    Signer { expected: Address, got: String },
    #[error("the receipt names client {got}, not {expected}")]
    Client { expected: Address, got: Address },
    #[error("input hash {got} is not the hash of what was sent ({expected})")]
    Input { expected: String, got: String },
    #[error("output hash {got} is not the hash of what was received ({expected})")]
    Output { expected: String, got: String },
    #[error("price {got} wei, expected {expected} wei")]
    Price { expected: u128, got: u128 },
    #[error("receipt {0} was seen before")]
    Duplicate(String),
}

/// The client's verify report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Receipts handed to `check`.
    pub calls: u64,
    /// Receipts that passed every check.
    pub receipts_checked: u64,
    /// Receipts refused (never acknowledged).
    pub receipts_refused: u64,
    /// Wei of the checked receipts.
    pub amount_checked_wei: u128,
    /// Wei acknowledged (latest acknowledgement of each epoch, summed).
    pub amount_acknowledged_wei: u128,
    /// Per epoch: (checked wei, checked calls, acknowledged wei).
    pub epochs: BTreeMap<u64, (u128, u64, u128)>,
}

/// The client's own record of checked receipts and signed acknowledgements.
pub struct AckBook {
    key: PrivateKeySigner,
    operator: Address,
    receipt_domain: Eip712Domain,
    vault_domain: Eip712Domain,
    seen: HashSet<String>,
    report: VerifyReport,
}

impl AckBook {
    /// `operator`, `receipt_domain` from `GET /v1/operator`; `chain_id`, `vault` from
    /// `GET /v1/billing` (or the deployment).
    pub fn new(
        key: PrivateKeySigner,
        operator: Address,
        receipt_domain: Eip712Domain,
        chain_id: u64,
        vault: EthAddress,
    ) -> Self {
        Self {
            key,
            operator,
            receipt_domain,
            vault_domain: vault_domain(chain_id, vault),
            seen: HashSet::new(),
            report: VerifyReport::default(),
        }
    }

    pub fn address(&self) -> Address {
        Address(self.key.address())
    }

    /// Checks a receipt against the call it answers (`input_hash` / `output_hash`: the
    /// canonical hashes, hex without `0x`, of what was sent and received, e.g. by
    /// `imo_oracle::tensor::canonical_hash`) and records it when it passes.
    pub fn check(
        &mut self,
        receipt: &ReceiptRecord,
        input_hash: &str,
        output_hash: &str,
        price: Wei,
    ) -> std::result::Result<(), ReceiptProblem> {
        self.report.calls += 1;
        let verdict = self.verify(receipt, input_hash, output_hash, price);
        match verdict {
            Ok(()) => {
                self.seen.insert(receipt.id.clone());
                self.report.receipts_checked += 1;
                self.report.amount_checked_wei += receipt.price_wei.0;
                let e = self.report.epochs.entry(receipt.epoch).or_default();
                e.0 += receipt.price_wei.0;
                e.1 += 1;
            }
            Err(_) => self.report.receipts_refused += 1,
        }
        verdict
    }

    fn verify(
        &self,
        r: &ReceiptRecord,
        input_hash: &str,
        output_hash: &str,
        price: Wei,
    ) -> std::result::Result<(), ReceiptProblem> {
        if self.seen.contains(&r.id) {
            return Err(ReceiptProblem::Duplicate(r.id.clone()));
        }
        match recover_signer(r, &self.receipt_domain) {
            Ok(s) if s == self.operator => {}
            other => {
                return Err(ReceiptProblem::Signer {
                    expected: self.operator,
                    got: other.map_or_else(|e| e.to_string(), |a| a.to_string()),
                });
            }
        }
        if r.client != self.address() {
            return Err(ReceiptProblem::Client {
                expected: self.address(),
                got: r.client,
            });
        }
        let norm = |h: &str| h.trim_start_matches("0x").to_ascii_lowercase();
        if norm(&r.input_hash) != norm(input_hash) {
            return Err(ReceiptProblem::Input {
                expected: norm(input_hash),
                got: norm(&r.input_hash),
            });
        }
        if norm(&r.output_hash) != norm(output_hash) {
            return Err(ReceiptProblem::Output {
                expected: norm(output_hash),
                got: norm(&r.output_hash),
            });
        }
        if r.price_wei != price {
            return Err(ReceiptProblem::Price {
                expected: price.0,
                got: r.price_wei.0,
            });
        }
        Ok(())
    }

    /// Signs the acknowledgement of everything checked in `epoch` (None when nothing was).
    pub fn acknowledgement(&mut self, epoch: u64) -> Result<Option<SignedAcknowledgement>> {
        let Some(&(amount, calls, _)) = self.report.epochs.get(&epoch) else {
            return Ok(None);
        };
        let signed = sign_acknowledgement(&self.key, &self.vault_domain, epoch, amount, calls)?;
        let e = self.report.epochs.get_mut(&epoch).expect("present");
        self.report.amount_acknowledged_wei += amount - e.2;
        e.2 = amount;
        Ok(Some(signed))
    }

    /// Calls made, receipts checked, amounts checked and acknowledged.
    pub fn report(&self) -> &VerifyReport {
        &self.report
    }
}

/// Signs `Acknowledgement(client, epoch, amount, calls)` under the vault's domain.
pub fn sign_acknowledgement(
    key: &PrivateKeySigner,
    vault_domain: &Eip712Domain,
    epoch: u64,
    amount_wei: u128,
    calls: u64,
) -> Result<SignedAcknowledgement> {
    let typed = Acknowledgement {
        client: key.address(),
        epoch,
        amount: U256::from(amount_wei),
        calls,
    };
    let sig = key
        .sign_hash_sync(&typed.eip712_signing_hash(vault_domain))
        .map_err(|e| OracleError::InvalidInput(format!("signing the acknowledgement: {e}")))?;
    Ok(SignedAcknowledgement {
        epoch,
        amount_wei,
        calls,
        signature: format!("0x{}", hex::encode(sig.as_bytes())),
    })
}

/// Signs `AckMode(client, fromEpoch, deadline)` under the vault's domain: the client's choice
/// of acknowledged billing (`POST /v1/billing-mode`).
pub fn sign_ack_mode(
    key: &PrivateKeySigner,
    vault_domain: &Eip712Domain,
    from_epoch: u64,
    deadline: u64,
) -> Result<String> {
    let typed = AckMode {
        client: key.address(),
        fromEpoch: from_epoch,
        deadline: U256::from(deadline),
    };
    let sig = key
        .sign_hash_sync(&typed.eip712_signing_hash(vault_domain))
        .map_err(|e| OracleError::InvalidInput(format!("signing the AckMode: {e}")))?;
    Ok(format!("0x{}", hex::encode(sig.as_bytes())))
}
