//! The operator's defender in the inference dispute game (docs/PROTOCOL.md §9.7): the
//! `disputes` job. One pass
//!
//! 1. commits the judge program of every tokenized model the registry assessed `disputable`
//!    (`commitProgram`, intent `program:<weights root>`), and tops the operator's free stake up
//!    to `chain.dispute_stake_wei` (intent `stake:<n>`, the n-th top-up), so that its receipts can be disputed;
//! 2. follows `GameOpened` through the log follower (stream `disputes`) and records each game
//!    opened over one of its receipts in `disputes` (state `open`);
//! 3. for every open game reads its position and, when it is the operator's turn, re-executes the
//!    call with the reference interpreter and submits the move [`super::game::decide`] gives
//!    (intent `dispute:<game>:<move>:<position>`; the `transactions` job sends it); claims the
//!    win when the challenger's clock ran out; records `won`/`lost` when the game is over.
//!
//! The call's input comes from the `open` transaction itself: `open` carries the canonical
//! encoding of the input, which the contract checked against the receipt's `inputHash`, and the
//! receipt (whose output hash says which outputs the call returned). A game opened through a
//! contract is answered from the input kept by [`InputRetention`] and our own receipt. Nothing is kept in memory
//! that the chain and the `disputes` table do not hold: after a restart the next pass reads the
//! positions again and re-executes the calls (a trace is cached per game while the process
//! lives).

use std::{collections::HashMap, sync::Arc};

use alloy::{
    primitives::{Address as EthAddress, B256, U256},
    providers::Provider,
    rpc::types::Log,
    sol_types::{SolCall, SolEvent},
};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tracing::{info, instrument, warn};

use super::{
    dispute::{self, InferenceDispute},
    follower::Stream,
    game::{self, Action, Position, Role},
    service::ChainContext,
    txm::Outcome,
};
use crate::{
    db::{disputes, model_tokens, models},
    error::{OracleError, Result},
    judge::{Program, Trace, game::decode_canonical},
    retention::InputRetention,
    storage::ModelStore,
};

/// The follower's cursor name for `GameOpened`.
pub const DISPUTES_STREAM: &str = "disputes";

/// A game's state in `disputes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeState {
    /// Being played.
    Open,
    /// Over: the operator won.
    Won,
    /// Over: the challenger won (the operator's bond was slashed, the client refunded).
    Lost,
}

impl DisputeState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Won => "won",
            Self::Lost => "lost",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "open" => Self::Open,
            "won" => Self::Won,
            "lost" => Self::Lost,
            _ => return None,
        })
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DisputeReport {
    /// Games recorded from `GameOpened`.
    pub opened: usize,
    /// Moves (and timeout claims) submitted.
    pub moves: usize,
    /// Games seen over.
    pub resolved: usize,
    /// Program commitments and stake top-ups submitted.
    pub setup: usize,
}

/// The call a game is about, re-executed.
struct Prepared {
    trace: Trace,
    /// The outputs the call returned (all when empty).
    wanted: Vec<String>,
}

/// The operator's side of every game over its receipts.
pub struct Defender {
    ctx: Arc<ChainContext>,
    store: ModelStore,
    retention: InputRetention,
    /// When the kept inputs were last pruned (clock ms).
    pruned_at: std::sync::atomic::AtomicI64,
    /// Compiled programs by weights root (`None`: the model is not disputable).
    programs: std::sync::Mutex<HashMap<B256, Option<Arc<Program>>>>,
    /// Re-executed calls by game id (`Err`: why the operator cannot defend it).
    traces: std::sync::Mutex<HashMap<B256, Arc<std::result::Result<Prepared, String>>>>,
    pass: tokio::sync::Mutex<()>,
}

impl Defender {
    pub fn new(ctx: Arc<ChainContext>, retention: InputRetention, store: ModelStore) -> Self {
        Self {
            ctx,
            store,
            retention,
            pruned_at: std::sync::atomic::AtomicI64::new(i64::MIN),
            programs: Default::default(),
            traces: Default::default(),
            pass: tokio::sync::Mutex::new(()),
        }
    }

    /// Where calls' inputs are kept for the dispute window.
    pub fn retention(&self) -> &InputRetention {
        &self.retention
    }

    /// Removes the kept inputs older than `chain.dispute_retention_secs` (at most once a minute).
    async fn prune(&self) -> Result<()> {
        let now = self.ctx.clock.now_ms();
        let last = self.pruned_at.load(std::sync::atomic::Ordering::Relaxed);
        if now.saturating_sub(last) < 60_000 {
            return Ok(());
        }
        self.pruned_at
            .store(now, std::sync::atomic::Ordering::Relaxed);
        let cfg = &self.ctx.cfg;
        let keep = cfg.dispute_retention_secs.unwrap_or(
            cfg.dispute_window_secs
                .saturating_add(cfg.dispute_clock_secs.saturating_mul(2)),
        );
        let (files, bytes) = self.retention.prune(now, keep).await?;
        if files > 0 {
            info!(
                files,
                bytes, "dispute: pruned inputs past the dispute window"
            );
        }
        Ok(())
    }

    /// Waits for a pass in progress to end (ordered shutdown).
    pub async fn quiesce(&self) {
        drop(self.pass.lock().await);
    }

    fn address(&self) -> Option<EthAddress> {
        self.ctx.deployment.dispute.map(|a| a.0)
    }

    /// One pass (see the module's documentation). Nothing to do without a deployed game.
    #[instrument(skip_all)]
    pub async fn pass(&self) -> Result<DisputeReport> {
        let _pass = self.pass.lock().await;
        let mut report = DisputeReport::default();
        let Some(game_address) = self.address() else {
            return Ok(report);
        };
        self.prune().await?;
        report.setup += self.commit_programs(game_address).await?;
        report.setup += self.keep_stake(game_address).await?;
        let stream = Stream {
            name: DISPUTES_STREAM,
            address: game_address,
            events: vec![InferenceDispute::GameOpened::SIGNATURE_HASH],
            start_block: self.ctx.deployment.block_number(),
        };
        let follow = self
            .ctx
            .follower
            .follow(&stream, |log: Log| async move { self.record(log).await })
            .await?;
        report.opened += follow.applied;
        let open = disputes::Entity::find()
            .filter(disputes::Column::State.eq(DisputeState::Open.as_str()))
            .all(&self.ctx.db)
            .await?;
        gauge_open(open.len());
        if open.is_empty() {
            return Ok(report);
        }
        let (_, now) = self.ctx.head().await?;
        for row in open {
            match self.play(game_address, &row, now).await {
                Ok((moved, over)) => {
                    report.moves += usize::from(moved);
                    report.resolved += usize::from(over);
                }
                // One game's trouble (an RPC hiccup reading its transaction) does not stop
                // the others; the next pass retries it.
                Err(e) => {
                    warn!(game = %row.game_id, error = %e, "dispute: pass failed for this game")
                }
            }
        }
        Ok(report)
    }

    /// `commitProgram` for every tokenized model that the registry assessed `disputable` and
    /// has none yet (its compiled program must be the one the assessment named).
    async fn commit_programs(&self, game_address: EthAddress) -> Result<usize> {
        let tokenized = model_tokens::Entity::find()
            .filter(model_tokens::Column::State.eq("tokenized"))
            .all(&self.ctx.db)
            .await?;
        let mut n = 0;
        for t in tokenized {
            let Ok(root) = t.weights_root.parse::<B256>() else {
                continue;
            };
            let key = format!("program:{root:#x}");
            if self.ctx.txm.get(&key).await?.is_some() {
                continue;
            }
            let Some(assessed) = self.assessed_program(root).await? else {
                continue;
            };
            let Some(program) = self.program(root).await? else {
                continue;
            };
            let compiled = format!("{:#x}", program.commitment().id);
            if compiled != assessed {
                warn!(model = %root, %assessed, %compiled, "dispute: the compiled program is not the assessed one; not committing it");
                continue;
            }
            let data = InferenceDispute::commitProgramCall {
                model: root,
                p: dispute::program(&program.commitment()),
            }
            .abi_encode();
            self.ctx
                .txm
                .submit(&key, "program", game_address, data.into(), U256::ZERO)
                .await?;
            info!(model = %root, nodes = program.node_count(), "dispute: committing the model's judge program");
            n += 1;
        }
        Ok(n)
    }

    /// Stakes the difference when the operator's free stake is under `chain.dispute_stake_wei`.
    async fn keep_stake(&self, game_address: EthAddress) -> Result<usize> {
        let target = U256::from(self.ctx.cfg.dispute_stake_wei);
        if target.is_zero() || self.ctx.txm.any_in_flight("stake:").await? {
            return Ok(0);
        }
        let stake = InferenceDispute::new(game_address, &self.ctx.provider)
            .stakeOf(self.ctx.txm.sender())
            .call()
            .await
            .map_err(|e| self.ctx.err("reading InferenceDispute.stakeOf", e))?;
        metrics::gauge!("imo_dispute_stake_free_wei").set(u256_f64(stake.free));
        metrics::gauge!("imo_dispute_stake_locked_wei").set(u256_f64(stake.locked));
        if stake.free + stake.locked >= target {
            return Ok(0);
        }
        let value = target - stake.free - stake.locked;
        // One key per top-up: the number of earlier ones. After a failed one (e.g. the
        // operator lacks the ETH) wait a minute before the next.
        let earlier = self.ctx.txm.with_prefix("stake:").await?;
        if let Some(last) = earlier.last()
            && matches!(
                self.ctx.txm.outcome(&last.key).await?,
                Some(Outcome::Failed(_))
            )
            && self.ctx.clock.now_ms() - last.created_at_ms < 60_000
        {
            return Ok(0);
        }
        let key = format!("stake:{}", earlier.len());
        let data = InferenceDispute::stakeCall {}.abi_encode();
        self.ctx
            .txm
            .submit(&key, "stake", game_address, data.into(), value)
            .await?;
        info!(%value, "dispute: staking");
        Ok(1)
    }

    /// The program id the registry's assessment named for the model with `root`, when it
    /// assessed it `disputable` (`None`: blocked, not assessed yet, or no such model here).
    async fn assessed_program(&self, root: B256) -> Result<Option<String>> {
        let m = models::Entity::find()
            .filter(models::Column::WeightsRoot.eq(hex::encode(root)))
            .one(&self.ctx.db)
            .await?;
        Ok(m.filter(|m| m.disputable && m.dispute_blocked_by.is_none())
            .and_then(|m| m.program_id))
    }

    /// The judge program of the model with `root`, compiled once (`None`: not disputable, or no
    /// such model here).
    async fn program(&self, root: B256) -> Result<Option<Arc<Program>>> {
        if let Some(p) = self.programs.lock().expect("not poisoned").get(&root) {
            return Ok(p.clone());
        }
        let hex_root = hex::encode(root);
        let Some(m) = models::Entity::find()
            .filter(models::Column::WeightsRoot.eq(hex_root))
            .one(&self.ctx.db)
            .await?
        else {
            return Ok(None);
        };
        let path = self.store.path_for(&m.file_sha256);
        let compiled = tokio::task::spawn_blocking(move || Program::from_file(&path))
            .await
            .map_err(|e| OracleError::Engine(format!("compiling a program: {e}")))?;
        let program = match compiled {
            Ok(p) => Some(Arc::new(p)),
            Err(e) => {
                info!(model = %m.name, reason = %e, "dispute: the model is not disputable");
                None
            }
        };
        self.programs
            .lock()
            .expect("not poisoned")
            .insert(root, program.clone());
        Ok(program)
    }

    /// Records a `GameOpened` over one of our receipts; `true` if it was new.
    async fn record(&self, log: Log) -> Result<bool> {
        let Ok(ev) = log.log_decode::<InferenceDispute::GameOpened>() else {
            return Ok(false);
        };
        let e = ev.inner.data;
        if e.operator != self.ctx.txm.sender() {
            return Ok(false);
        }
        let (Some(tx), Some(block)) = (log.transaction_hash, log.block_number) else {
            return Ok(false);
        };
        let now = self.ctx.clock.now_ms();
        let row = disputes::ActiveModel {
            game_id: Set(format!("{:#x}", e.gameId)),
            receipt_hash: Set(format!("{:#x}", e.receiptHash)),
            challenger: Set(format!("{:#x}", e.challenger)),
            client: Set(format!("{:#x}", e.client)),
            claimed_output_hash: Set(format!("{:#x}", e.claimedOutputHash)),
            open_tx: Set(format!("{tx:#x}")),
            opened_block: Set(block as i64),
            state: Set(DisputeState::Open.as_str().into()),
            note: Set(None),
            created_at_ms: Set(now),
            updated_at_ms: Set(now),
        };
        let inserted = crate::db::insert_new(&self.ctx.db, row, disputes::Column::GameId).await?;
        if inserted {
            metrics::counter!("imo_disputes_opened_total").increment(1);
            info!(game = %e.gameId, challenger = %e.challenger, client = %e.client, "dispute: game opened against us");
        }
        Ok(inserted)
    }

    /// The call of a game, from its `open` transaction, re-executed (cached per game).
    async fn prepare(
        &self,
        id: B256,
        open_tx: B256,
    ) -> Result<Arc<std::result::Result<Prepared, String>>> {
        if let Some(p) = self.traces.lock().expect("not poisoned").get(&id) {
            return Ok(p.clone());
        }
        let tx = self
            .ctx
            .provider
            .get_transaction_by_hash(open_tx)
            .await
            .map_err(|e| self.ctx.err("reading a game's open transaction", e))?
            .ok_or_else(|| OracleError::Chain(format!("open transaction {open_tx} not found")))?;
        let input = alloy::consensus::Transaction::input(&tx).clone();
        let prepared = match InferenceDispute::openCall::abi_decode(&input) {
            Ok(open) => self.replay(open.r, open.input.encoding.to_vec()).await?,
            // Opened through a contract: the receipt from our table, the input from what we kept.
            Err(_) => match self.kept_call(id).await? {
                Some((r, encoding)) => self.replay(r, encoding).await?,
                None => Err(
                    "the game was not opened by a direct `open` call and the call's input is not kept"
                        .to_string(),
                ),
            },
        };
        if let Err(reason) = &prepared {
            warn!(game = %id, reason, "dispute: we cannot defend this game");
            metrics::counter!("imo_disputes_undefendable_total").increment(1);
        }
        let prepared = Arc::new(prepared);
        self.traces
            .lock()
            .expect("not poisoned")
            .insert(id, prepared.clone());
        Ok(prepared)
    }

    /// The receipt of game `id` (found among ours by the game's output hash and client, then by
    /// its EIP-712 hash) and the call's input as kept by [`InputRetention`].
    pub async fn kept_call(
        &self,
        id: B256,
    ) -> Result<Option<(InferenceDispute::Receipt, Vec<u8>)>> {
        use alloy::sol_types::SolStruct;
        let Some(game_address) = self.address() else {
            return Ok(None);
        };
        let pos = Position::read(&self.ctx.provider, game_address, id).await?;
        let candidates = crate::db::receipts::Entity::find()
            .filter(crate::db::receipts::Column::OutputHash.eq(hex::encode(pos.output_hash)))
            .all(&self.ctx.db)
            .await?;
        for row in candidates {
            let Ok(r) = crate::ledger::receipt_from_row(row).and_then(|rec| rec.typed()) else {
                continue;
            };
            if r.eip712_hash_struct() != pos.receipt_hash {
                continue;
            }
            let Some(encoding) = self
                .retention
                .find(r.timestamp as i64, &r.inputHash.0)
                .await?
            else {
                return Ok(None);
            };
            return Ok(Some((dispute::receipt(&r), encoding)));
        }
        Ok(None)
    }

    async fn replay(
        &self,
        r: InferenceDispute::Receipt,
        encoding: Vec<u8>,
    ) -> Result<std::result::Result<Prepared, String>> {
        if B256::from_slice(&Sha256::digest(&encoding)) != r.inputHash {
            return Ok(Err("the open's input is not the receipt's".into()));
        }
        let Some(program) = self.program(r.model).await? else {
            return Ok(Err(format!("model {} has no judge program here", r.model)));
        };
        let output_hash = r.outputHash;
        #[cfg(feature = "fault-injection")]
        let lie = self.ctx.cfg.fault_injection.as_deref() == Some("corrupt-output");
        let run = tokio::task::spawn_blocking(move || {
            let inputs = decode_canonical(&encoding)?;
            let trace = Trace::run(program.clone(), &inputs).map_err(|e| e.to_string())?;
            if let Some(wanted) = game::returned_outputs(&trace, output_hash) {
                return Ok(Prepared { trace, wanted });
            }
            #[cfg(feature = "fault-injection")]
            if lie && let Some(p) = lying_trace(&program, &inputs, output_hash) {
                return Ok(p);
            }
            Err(
                "our reference outputs are not the receipt's: the receipt cannot be defended"
                    .to_string(),
            )
        })
        .await
        .map_err(|e| OracleError::Engine(format!("re-executing a call: {e}")))?;
        Ok(run)
    }

    /// Plays one open game: `(moved, over)`.
    async fn play(
        &self,
        game_address: EthAddress,
        row: &disputes::Model,
        now: u64,
    ) -> Result<(bool, bool)> {
        let id: B256 = row
            .game_id
            .parse()
            .map_err(|_| OracleError::Database(format!("bad game id {}", row.game_id)))?;
        let pos = Position::read(&self.ctx.provider, game_address, id).await?;
        if let Some(w) = pos.winner() {
            let state = match w {
                crate::judge::game::Winner::Operator => DisputeState::Won,
                crate::judge::game::Winner::Challenger => DisputeState::Lost,
            };
            self.set_state(row, state, None).await?;
            self.traces.lock().expect("not poisoned").remove(&id);
            metrics::counter!("imo_disputes_resolved_total", "outcome" => state.as_str())
                .increment(1);
            info!(game = %id, outcome = state.as_str(), "dispute: game over");
            return Ok((false, true));
        }
        let open_tx: B256 = row
            .open_tx
            .parse()
            .map_err(|_| OracleError::Database(format!("bad tx hash {}", row.open_tx)))?;
        let prepared = self.prepare(id, open_tx).await?;
        let action = match prepared.as_ref() {
            Ok(p) => game::decide(Role::Operator, &pos, &p.trace, &p.wanted, now),
            // We cannot move; still claim a timeout if the challenger stops.
            Err(reason) => {
                if row.note.as_deref() != Some(reason) {
                    self.set_state(row, DisputeState::Open, Some(reason.clone()))
                        .await?;
                }
                Ok(
                    (pos.to_move() == Some(Role::Challenger) && pos.timed_out(now))
                        .then_some(Action::Timeout),
                )
            }
        };
        let action = match action {
            Ok(Some(a)) => a,
            Ok(None) => return Ok((false, false)),
            Err(reason) => {
                warn!(game = %id, reason, "dispute: no move");
                return Ok((false, false));
            }
        };
        let key = format!(
            "dispute:{id:#x}:{}:{}:{}:{}:{}",
            action.name(),
            pos.lo,
            pos.hi,
            pos.level,
            pos.tile_index
        );
        if let Some(Outcome::Failed(i)) = self.ctx.txm.outcome(&key).await? {
            warn!(game = %id, key, error = ?i.error, "dispute: our move failed");
            return Ok((false, false));
        }
        if self.ctx.txm.get(&key).await?.is_some() {
            return Ok((false, false)); // in flight: the transactions job sends it
        }
        self.ctx
            .txm
            .submit(
                &key,
                "dispute",
                game_address,
                action.calldata(id),
                U256::ZERO,
            )
            .await?;
        metrics::counter!("imo_dispute_moves_total", "move" => action.name()).increment(1);
        info!(game = %id, r#move = action.name(), lo = pos.lo, hi = pos.hi, level = pos.level, "dispute: move submitted");
        Ok((true, false))
    }

    async fn set_state(
        &self,
        row: &disputes::Model,
        state: DisputeState,
        note: Option<String>,
    ) -> Result<()> {
        let mut m: disputes::ActiveModel = row.clone().into();
        m.state = Set(state.as_str().into());
        if note.is_some() {
            m.note = Set(note);
        }
        m.updated_at_ms = Set(self.ctx.clock.now_ms());
        m.update(&self.ctx.db).await?;
        Ok(())
    }

    /// The games recorded, newest first (for operators and tests).
    pub async fn games(&self) -> Result<Vec<disputes::Model>> {
        use sea_orm::QueryOrder;
        Ok(disputes::Entity::find()
            .order_by_desc(disputes::Column::CreatedAtMs)
            .all(&self.ctx.db)
            .await?)
    }
}

/// Test-only fraud (`corrupt-output`): the trace of an operator that defends its corrupted
/// output consistently — the node producing an output has its first byte flipped, as the
/// service flipped it — so the game runs to the one-step instead of ending on the clock.
#[cfg(feature = "fault-injection")]
fn lying_trace(
    program: &Arc<Program>,
    inputs: &[crate::tensor::Tensor],
    output_hash: B256,
) -> Option<Prepared> {
    let base = program.node_slot(0);
    program.outputs.iter().find_map(|o| {
        let node = (o.slot as usize).checked_sub(base)?;
        let fault = crate::judge::Fault::Byte {
            node,
            byte: 0,
            xor: 0x01,
        };
        let trace = Trace::run_with_fault(program.clone(), inputs, Some(fault)).ok()?;
        let wanted = game::returned_outputs(&trace, output_hash)?;
        Some(Prepared { trace, wanted })
    })
}

fn gauge_open(n: usize) {
    metrics::gauge!("imo_disputes_open").set(n as f64);
}

fn u256_f64(v: U256) -> f64 {
    v.to_string().parse().unwrap_or(f64::MAX)
}

/// Games whose state is unknown to this build are reported, not guessed.
pub fn parse_state(s: &str) -> Result<DisputeState> {
    DisputeState::parse(s)
        .ok_or_else(|| OracleError::Database(format!("unknown dispute state `{s}`")))
}
