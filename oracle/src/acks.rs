//! Client-acknowledged billing (docs/PROTOCOL.md §4.1, docs/CONTRACTS.md *Acknowledgements*).
//!
//! A client is billed in `cap` mode (the default: any Open Inference Protocol client; trust is
//! bounded by its spending cap) or, once it signed an EIP-712 `AckMode`, in `ack` mode from an
//! epoch on: it then signs, as it goes, `Acknowledgement(client, epoch, amount, calls)` for the
//! receipts it received and checked, and is billed no more than that. The service serves an
//! `ack` client at most `metering.credit_window_wei` beyond its acknowledgements (at least one
//! call when everything is acknowledged), then answers 402 `acknowledgement_required` with the
//! epoch, amount and count to acknowledge. Acknowledgements arrive in the `imo-acknowledgement`
//! header of the next call or by `POST /v1/acknowledgements`; both are verified (signer, epoch,
//! mode, not more than was served, newer than the last) and written by the ledger writer before
//! they count or are answered.
//!
//! State per client lives in memory (loaded from `billing_modes`, `acknowledgements` and the
//! client's receipts on first use): per epoch what was served (committed receipts) and what was
//! acknowledged, plus what calls in flight hold.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
};

use alloy::{
    primitives::{Address as EthAddress, Signature, U256},
    sol_types::{Eip712Domain, SolStruct},
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect,
};
use tracing::instrument;

use crate::{
    auth::Principal,
    chain::vault::vault_domain,
    clock::{EpochRule, SharedClock},
    db::{acknowledgements, billing_modes, receipts},
    error::{OracleError, Result},
    ledger::Ledger,
    types::{Address, Wei},
};

alloy::sol! {
    /// EIP-712 `AckMode` of the PaymentVault: the client is billed by acknowledgement from
    /// `fromEpoch` on.
    #[derive(Debug)]
    struct AckMode {
        address client;
        uint64 fromEpoch;
        uint256 deadline;
    }

    /// EIP-712 `Acknowledgement` of the PaymentVault: the client received and checked `calls`
    /// receipts of `epoch` costing `amount` wei in all.
    #[derive(Debug)]
    struct Acknowledgement {
        address client;
        uint64 epoch;
        uint256 amount;
        uint64 calls;
    }
}

/// How a client is billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingMode {
    /// Operator-signed receipts, bounded by the client's spending cap.
    Cap,
    /// Billed by the client's acknowledgements from `from_epoch` on.
    Ack { from_epoch: u64 },
}

impl BillingMode {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Cap => "cap",
            Self::Ack { .. } => "ack",
        }
    }
}

/// A client's signed acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedAck {
    pub client: Address,
    pub epoch: u64,
    pub amount: Wei,
    pub calls: u64,
    /// 65 bytes `r ‖ s ‖ v`, `0x`-hex.
    pub signature: String,
}

impl SignedAck {
    /// The EIP-712 struct the signature covers.
    pub fn typed(&self) -> Acknowledgement {
        Acknowledgement {
            client: self.client.0,
            epoch: self.epoch,
            amount: U256::from(self.amount.0),
            calls: self.calls,
        }
    }

    /// Parses the `imo-acknowledgement` header of `client`'s call:
    /// `<epoch>:<amount wei>:<calls>:<0x signature>`.
    pub fn from_header(client: Address, value: &str) -> Result<Self> {
        let bad = || {
            OracleError::InvalidInput(format!(
                "header imo-acknowledgement must be `<epoch>:<amount wei>:<calls>:<0x signature>`, got `{}`",
                value.chars().take(200).collect::<String>()
            ))
        };
        let mut parts = value.trim().split(':');
        let (Some(epoch), Some(amount), Some(calls), Some(signature), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad());
        };
        Ok(Self {
            client,
            epoch: epoch.parse().map_err(|_| bad())?,
            amount: Wei(amount.parse().map_err(|_| bad())?),
            calls: calls.parse().map_err(|_| bad())?,
            signature: signature.to_owned(),
        })
    }

    pub(crate) fn row(&self, now_ms: i64) -> acknowledgements::ActiveModel {
        acknowledgements::ActiveModel {
            id: Set(format!("{}:{}", self.client.storage_key(), self.epoch)),
            client: Set(self.client.storage_key()),
            epoch: Set(self.epoch as i64),
            amount_wei: Set(self.amount.0.to_string()),
            calls: Set(self.calls as i64),
            signature: Set(self.signature.clone()),
            received_at_ms: Set(now_ms),
        }
    }
}

/// Inserts or replaces a client's acknowledgement of an epoch (inside the ledger writer's
/// transaction).
pub(crate) fn upsert_statement(
    row: acknowledgements::ActiveModel,
    backend: sea_orm::DbBackend,
) -> Option<sea_orm::Statement> {
    crate::db::upsert_statement(
        vec![row],
        acknowledgements::Column::Id,
        [
            acknowledgements::Column::AmountWei,
            acknowledgements::Column::Calls,
            acknowledgements::Column::Signature,
            acknowledgements::Column::ReceivedAtMs,
        ],
        backend,
    )
}

/// The amount a stored acknowledgement acknowledges.
fn acked_amount(a: &acknowledgements::Model) -> Result<u128> {
    a.amount_wei.parse().map_err(|_| {
        OracleError::Database(format!(
            "corrupt amount `{}` in acknowledgements",
            a.amount_wei
        ))
    })
}

fn recover(signature: &str, hash: alloy::primitives::B256) -> Result<Address> {
    let bytes = hex::decode(signature.trim_start_matches("0x"))
        .map_err(|_| OracleError::InvalidInput("the signature is not hex".into()))?;
    let sig = Signature::from_raw(&bytes)
        .map_err(|e| OracleError::InvalidInput(format!("bad signature: {e}")))?;
    sig.recover_address_from_prehash(&hash)
        .map(Address)
        .map_err(|e| OracleError::InvalidInput(format!("the signature does not recover: {e}")))
}

/// Served and acknowledged amounts of one epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EpochBilling {
    pub epoch: u64,
    pub served_wei: Wei,
    pub served_calls: u64,
    pub acked_wei: Wei,
    pub acked_calls: u64,
}

/// A client's billing as the API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingStatus {
    pub client: Address,
    pub mode: BillingMode,
    pub credit_window_wei: Wei,
    /// Served and not acknowledged, all epochs together (calls in flight included).
    pub outstanding_wei: Wei,
    /// Epochs billed by acknowledgement, oldest first.
    pub epochs: Vec<EpochBilling>,
}

#[derive(Debug, Default)]
struct ClientState {
    from_epoch: Option<u64>,
    /// epoch → (wei, calls) of committed receipts (epochs from `from_epoch` on).
    served: BTreeMap<u64, (u128, u64)>,
    /// epoch → (wei, calls) of the latest acknowledgement.
    acked: BTreeMap<u64, (u128, u64)>,
    /// Held by calls in flight.
    pending: u128,
}

impl ClientState {
    /// Served and not acknowledged, per epoch, summed (committed receipts only).
    fn outstanding(&self) -> u128 {
        self.served
            .iter()
            .map(|(e, (w, _))| w.saturating_sub(self.acked.get(e).map_or(0, |a| a.0)))
            .fold(0u128, u128::saturating_add)
    }

    /// The oldest epoch with served spend not acknowledged, and what acknowledging it takes.
    fn first_unacked(&self) -> Option<(u64, u128, u64)> {
        self.served.iter().find_map(|(e, (w, n))| {
            (*w > self.acked.get(e).map_or(0, |a| a.0)).then_some((*e, *w, *n))
        })
    }
}

/// Admission of one `ack`-mode call: dropped without [`AckTicket::served`], it frees its hold.
pub struct AckTicket {
    billing: Billing,
    client: Address,
    price: u128,
    live: bool,
}

impl AckTicket {
    /// The call's receipt is committed (durably) in `epoch`.
    pub fn served(mut self, epoch: u64) {
        self.live = false;
        let mut clients = self.billing.clients();
        if let Some(st) = clients.get_mut(&self.client) {
            st.pending = st.pending.saturating_sub(self.price);
            let e = st.served.entry(epoch).or_default();
            e.0 = e.0.saturating_add(self.price);
            e.1 += 1;
        }
    }
}

impl Drop for AckTicket {
    fn drop(&mut self) {
        if self.live
            && let Some(st) = self.billing.clients().get_mut(&self.client)
        {
            st.pending = st.pending.saturating_sub(self.price);
        }
    }
}

/// Billing modes and acknowledgements (see the module docs).
#[derive(Clone)]
pub struct Billing {
    db: DatabaseConnection,
    ledger: Ledger,
    clock: SharedClock,
    epochs: EpochRule,
    domain: Eip712Domain,
    window: u128,
    clients: Arc<Mutex<HashMap<Address, ClientState>>>,
    /// One acknowledgement or mode change at a time: check, write, apply in order.
    writes: Arc<tokio::sync::Mutex<()>>,
}

impl Billing {
    /// `domain` is the PaymentVault's EIP-712 domain ([`vault_domain`]).
    pub fn new(
        db: DatabaseConnection,
        ledger: Ledger,
        clock: SharedClock,
        epochs: EpochRule,
        domain: Eip712Domain,
        credit_window: Wei,
    ) -> Self {
        Self {
            db,
            ledger,
            clock,
            epochs,
            domain,
            window: credit_window.0,
            clients: Default::default(),
            writes: Default::default(),
        }
    }

    /// The vault domain of `chain_id` and `vault` (`0x…`).
    pub fn domain_for(chain_id: u64, vault: &str) -> Result<Eip712Domain> {
        let vault: EthAddress = vault.parse().map_err(|_| {
            OracleError::InvalidInput(format!(
                "metering.vault_contract `{vault}` is not an address"
            ))
        })?;
        Ok(vault_domain(chain_id, vault))
    }

    pub fn domain(&self) -> &Eip712Domain {
        &self.domain
    }

    pub fn credit_window(&self) -> Wei {
        Wei(self.window)
    }

    fn clients(&self) -> std::sync::MutexGuard<'_, HashMap<Address, ClientState>> {
        self.clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What the database says about `client` (mode, acknowledgements, served receipts).
    async fn read(&self, client: Address) -> Result<ClientState> {
        let key = client.storage_key();
        let mut st = ClientState::default();
        let Some(mode) = billing_modes::Entity::find_by_id(key.clone())
            .one(&self.db)
            .await?
        else {
            return Ok(st);
        };
        let from = mode.from_epoch.max(0) as u64;
        st.from_epoch = Some(from);
        let rows: Vec<(i64, String)> = receipts::Entity::find()
            .select_only()
            .column(receipts::Column::Epoch)
            .column(receipts::Column::PriceWei)
            .filter(receipts::Column::Client.eq(key.clone()))
            .filter(receipts::Column::Epoch.gte(from as i64))
            .into_tuple()
            .all(&self.db)
            .await?;
        for (epoch, price) in rows {
            let price: u128 = price.parse().map_err(|_| {
                OracleError::Database(format!("corrupt price `{price}` in receipts"))
            })?;
            let e = st.served.entry(epoch as u64).or_default();
            e.0 = e.0.saturating_add(price);
            e.1 += 1;
        }
        for a in acknowledgements::Entity::find()
            .filter(acknowledgements::Column::Client.eq(key))
            .all(&self.db)
            .await?
        {
            let amount = acked_amount(&a)?;
            st.acked.insert(a.epoch as u64, (amount, a.calls as u64));
        }
        Ok(st)
    }

    async fn load(&self, client: Address) -> Result<()> {
        if self.clients().contains_key(&client) {
            return Ok(());
        }
        let st = self.read(client).await?;
        self.clients().entry(client).or_insert(st);
        Ok(())
    }

    /// The mode `client` is billed in for `epoch`.
    pub async fn mode_at(&self, client: Address, epoch: u64) -> Result<BillingMode> {
        self.load(client).await?;
        Ok(
            match self.clients().get(&client).and_then(|s| s.from_epoch) {
                Some(from) if epoch >= from => BillingMode::Ack { from_epoch: from },
                _ => BillingMode::Cap,
            },
        )
    }

    /// Admits a call of `price` by `client` now: `None` in `cap` mode; in `ack` mode a ticket
    /// holding the price, or `AcknowledgementRequired` when the call would take the client's
    /// unacknowledged spend past the credit window.
    pub async fn admit(&self, client: Address, price: Wei) -> Result<Option<AckTicket>> {
        let epoch = self.epochs.epoch_of(self.clock.now_ms());
        self.load(client).await?;
        let mut clients = self.clients();
        let st = clients.entry(client).or_default();
        match st.from_epoch {
            Some(from) if epoch >= from => {}
            _ => return Ok(None),
        }
        let outstanding = st.outstanding().saturating_add(st.pending);
        if outstanding > 0 && outstanding.saturating_add(price.0) > self.window {
            let (epoch, amount, calls) = st.first_unacked().unwrap_or((epoch, 0, 0));
            metrics::counter!("imo_acknowledgements_required_total").increment(1);
            return Err(OracleError::AcknowledgementRequired {
                epoch,
                amount: Wei(amount),
                calls,
                outstanding: Wei(outstanding),
                window: Wei(self.window),
            });
        }
        st.pending = st.pending.saturating_add(price.0);
        drop(clients);
        Ok(Some(AckTicket {
            billing: self.clone(),
            client,
            price: price.0,
            live: true,
        }))
    }

    /// Verifies `ack` (from `by`'s call or `POST /v1/acknowledgements`) and writes it durably;
    /// it counts once this returns. An exact repeat of the stored one is accepted unchanged.
    #[instrument(skip_all, fields(client = %ack.client, epoch = ack.epoch, amount = %ack.amount))]
    pub async fn acknowledge(&self, by: &Principal, ack: SignedAck) -> Result<BillingStatus> {
        if ack.client != by.address {
            return Err(OracleError::Forbidden(format!(
                "an acknowledgement of {} cannot be sent with the key of {}",
                ack.client, by.address
            )));
        }
        let started = std::time::Instant::now();
        let signer = recover(
            &ack.signature,
            ack.typed().eip712_signing_hash(&self.domain),
        )?;
        metrics::histogram!("imo_acknowledgement_verify_seconds")
            .record(started.elapsed().as_secs_f64());
        if signer != ack.client {
            return Err(OracleError::InvalidInput(format!(
                "the acknowledgement is not signed by {} (it recovers to {signer}) under this service's vault domain",
                ack.client
            )));
        }
        if ack.amount.0 == 0 || ack.calls == 0 {
            return Err(OracleError::InvalidInput(
                "an acknowledgement covers at least one call and a positive amount".into(),
            ));
        }
        let _write = self.writes.lock().await;
        if crate::db::epochs::Entity::find_by_id(ack.epoch as i64)
            .one(&self.db)
            .await?
            .is_some()
        {
            return Err(closed(ack.epoch));
        }
        self.load(ack.client).await?;
        let repeat = {
            let clients = self.clients();
            let st = clients.get(&ack.client).expect("loaded");
            match st.from_epoch {
                Some(from) if ack.epoch >= from => {}
                _ => {
                    return Err(OracleError::Conflict(format!(
                        "{} is billed in cap mode in epoch {}: sign an AckMode first (POST /v1/billing-mode)",
                        ack.client, ack.epoch
                    )));
                }
            }
            let (served, served_calls) = st.served.get(&ack.epoch).copied().unwrap_or_default();
            if ack.amount.0 > served || ack.calls > served_calls {
                return Err(OracleError::InvalidInput(format!(
                    "the acknowledgement covers {} wei in {} calls of epoch {}, but {served} wei in {served_calls} calls were served",
                    ack.amount, ack.calls, ack.epoch
                )));
            }
            if let Some(&(amount, calls)) = st.acked.get(&ack.epoch) {
                if ack.amount.0 < amount || (ack.amount.0 == amount && ack.calls != calls) {
                    return Err(OracleError::AcknowledgementStale {
                        epoch: ack.epoch,
                        acknowledged: Wei(amount),
                    });
                }
                // An exact repeat of the stored one: accepted, nothing to write.
                ack.amount.0 == amount
            } else {
                false
            }
        };
        if repeat {
            return self.status(ack.client).await;
        }
        self.ledger.record_ack(ack.clone()).await?;
        if let Some(st) = self.clients().get_mut(&ack.client) {
            st.acked.insert(ack.epoch, (ack.amount.0, ack.calls));
        }
        metrics::counter!("imo_acknowledgements_total").increment(1);
        self.status(ack.client).await
    }

    /// Records `by`'s signed choice of `ack` billing from `from_epoch` on (the current epoch
    /// or later; one-way). Returns the stored row.
    #[instrument(skip_all, fields(client = %by.address, from_epoch))]
    pub async fn choose_ack(
        &self,
        by: &Principal,
        from_epoch: u64,
        deadline: u64,
        signature: &str,
    ) -> Result<billing_modes::Model> {
        let now_ms = self.clock.now_ms();
        let typed = AckMode {
            client: by.address.0,
            fromEpoch: from_epoch,
            deadline: U256::from(deadline),
        };
        let signer = recover(signature, typed.eip712_signing_hash(&self.domain))?;
        if signer != by.address {
            return Err(OracleError::InvalidInput(format!(
                "the AckMode is not signed by {} (it recovers to {signer}) under this service's vault domain",
                by.address
            )));
        }
        if (deadline as i128) * 1000 < now_ms as i128 {
            return Err(OracleError::InvalidInput(format!(
                "the AckMode's deadline {deadline} has passed"
            )));
        }
        let current = self.epochs.epoch_of(now_ms);
        if from_epoch < current {
            return Err(OracleError::InvalidInput(format!(
                "fromEpoch {from_epoch} is in the past (the current epoch is {current}): acknowledged billing starts now or later"
            )));
        }
        let _write = self.writes.lock().await;
        if let Some(existing) = billing_modes::Entity::find_by_id(by.address.storage_key())
            .one(&self.db)
            .await?
        {
            return Err(OracleError::Conflict(format!(
                "{} is billed by acknowledgement since epoch {} already",
                by.address, existing.from_epoch
            )));
        }
        let row = billing_modes::Model {
            client: by.address.storage_key(),
            from_epoch: from_epoch as i64,
            deadline: deadline.min(i64::MAX as u64) as i64,
            signature: signature.to_owned(),
            intent_key: None,
            created_at_ms: now_ms,
        };
        billing_modes::Entity::insert(billing_modes::ActiveModel {
            client: Set(row.client.clone()),
            from_epoch: Set(row.from_epoch),
            deadline: Set(row.deadline),
            signature: Set(row.signature.clone()),
            intent_key: Set(None),
            created_at_ms: Set(now_ms),
        })
        .exec_without_returning(&self.db)
        .await?;
        let fresh = self.read(by.address).await?;
        let mut clients = self.clients();
        let st = clients.entry(by.address).or_default();
        st.from_epoch = fresh.from_epoch;
        st.served = fresh.served;
        st.acked = fresh.acked;
        Ok(row)
    }

    /// `client`'s billing.
    pub async fn status(&self, client: Address) -> Result<BillingStatus> {
        self.load(client).await?;
        let clients = self.clients();
        let st = clients.get(&client).expect("loaded");
        let mode = match st.from_epoch {
            Some(from) => BillingMode::Ack { from_epoch: from },
            None => BillingMode::Cap,
        };
        let mut epochs: BTreeMap<u64, EpochBilling> = BTreeMap::new();
        for (e, (w, n)) in &st.served {
            let b = epochs.entry(*e).or_default();
            b.epoch = *e;
            b.served_wei = Wei(*w);
            b.served_calls = *n;
        }
        for (e, (w, n)) in &st.acked {
            let b = epochs.entry(*e).or_default();
            b.epoch = *e;
            b.acked_wei = Wei(*w);
            b.acked_calls = *n;
        }
        Ok(BillingStatus {
            client,
            mode,
            credit_window_wei: Wei(self.window),
            outstanding_wei: Wei(st.outstanding().saturating_add(st.pending)),
            epochs: epochs.into_values().collect(),
        })
    }

    /// The acknowledged amount of `client` in `epoch` (what settlement bills), if `client` is
    /// billed by acknowledgement in `epoch`.
    pub async fn acked_for_settlement(&self, client: Address, epoch: u64) -> Result<Option<Wei>> {
        match self.mode_at(client, epoch).await? {
            BillingMode::Cap => Ok(None),
            BillingMode::Ack { .. } => Ok(Some(Wei(self
                .clients()
                .get(&client)
                .and_then(|s| s.acked.get(&epoch))
                .map_or(0, |a| a.0)))),
        }
    }
}

/// An acknowledgement of an epoch that is closed (its tree is fixed) is refused.
pub(crate) fn closed(epoch: u64) -> OracleError {
    OracleError::Conflict(format!(
        "epoch {epoch} is closed and its settlement fixed: acknowledgements count only before an epoch closes (chain.epoch_grace_secs after its end)"
    ))
}

/// Settlement of one epoch (docs/PROTOCOL.md §4.1): of `records` (the epoch's receipts in id
/// order) every receipt of a `cap` client is billed; of an `ack` client, receipts in id order
/// while their running sum stays within its latest acknowledgement of the epoch, the rest is
/// left out (the operator's loss, at most the credit window). Returns the billed receipts and,
/// per `ack` client with receipts left out, the wei left out.
pub async fn settle<C: ConnectionTrait>(
    db: &C,
    epoch: u64,
    records: Vec<crate::receipts::ReceiptRecord>,
) -> Result<(Vec<crate::receipts::ReceiptRecord>, Vec<(Address, u128)>)> {
    let ack_clients: std::collections::HashSet<String> = billing_modes::Entity::find()
        .filter(billing_modes::Column::FromEpoch.lte(epoch as i64))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.client)
        .collect();
    if ack_clients.is_empty() {
        return Ok((records, vec![]));
    }
    let mut room: HashMap<String, u128> = HashMap::new();
    for a in acknowledgements::Entity::find()
        .filter(acknowledgements::Column::Epoch.eq(epoch as i64))
        .all(db)
        .await?
    {
        let amount = acked_amount(&a)?;
        room.insert(a.client, amount);
    }
    let mut left_out: BTreeMap<Address, u128> = BTreeMap::new();
    let mut billed = Vec::with_capacity(records.len());
    for r in records {
        let key = r.client.storage_key();
        if !ack_clients.contains(&key) {
            billed.push(r);
            continue;
        }
        let left = room.entry(key).or_default();
        if r.price_wei.0 <= *left {
            *left -= r.price_wei.0;
            billed.push(r);
        } else {
            *left = 0; // in id order: nothing after an unacknowledged receipt is billed
            *left_out.entry(r.client).or_default() += r.price_wei.0;
        }
    }
    Ok((billed, left_out.into_iter().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_parses_and_binds_the_caller() {
        let c: Address = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
            .parse()
            .unwrap();
        let a = SignedAck::from_header(c, "7:1000:2:0xabcd").unwrap();
        assert_eq!((a.client, a.epoch, a.amount, a.calls), (c, 7, Wei(1000), 2));
        for bad in ["", "7:1000:2", "7:1000:2:0x:x", "x:1:1:0x", "7:-1:1:0x"] {
            assert!(SignedAck::from_header(c, bad).is_err(), "{bad}");
        }
    }

    /// The type hashes are the contract's (`PaymentVault.ACKNOWLEDGEMENT_TYPEHASH`, `ACK_MODE_TYPEHASH`).
    #[test]
    fn type_hashes_match_the_contract() {
        use alloy::primitives::keccak256;
        let a = Acknowledgement {
            client: EthAddress::ZERO,
            epoch: 0,
            amount: U256::ZERO,
            calls: 0,
        };
        assert_eq!(
            a.eip712_type_hash(),
            keccak256("Acknowledgement(address client,uint64 epoch,uint256 amount,uint64 calls)")
        );
        let m = AckMode {
            client: EthAddress::ZERO,
            fromEpoch: 0,
            deadline: U256::ZERO,
        };
        assert_eq!(
            m.eip712_type_hash(),
            keccak256("AckMode(address client,uint64 fromEpoch,uint256 deadline)")
        );
    }
}
