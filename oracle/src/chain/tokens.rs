//! Tokenization: a publisher's model becomes an ERC-7641 token (`ModelRegistry.register`,
//! sent by the operator through the transaction manager under the key
//! `register:<weights root>`); the model is `tokenized` once that transaction is final.

use alloy::primitives::{Address as EthAddress, B256, U256};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait,
    sea_query::Expr,
};
use tracing::{info, instrument, warn};

use std::{
    collections::HashSet,
    sync::{Arc, RwLock},
};

use super::{
    bindings::ModelRegistry,
    service::ChainContext,
    state::TokenState,
    txm::{Intent, Outcome},
};
use crate::{
    auth::Principal,
    db::{model_tokens, models},
    error::{OracleError, Result},
    registry::{ModelRecord, ModelState},
    types::Address,
};

/// ModelToken's `decimals()`.
pub const TOKEN_DECIMALS: u32 = 18;
/// ModelToken caps the supply at 2^176 − 1 base units.
const MAX_SUPPLY_BITS: usize = 176;

/// Validated parameters of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenParams {
    name: String,
    symbol: String,
    supply: U256,
    holders_bps: u16,
}

impl TokenParams {
    /// `supply_tokens` counts whole tokens (18 decimals); `holders_bps` is the holders'
    /// claimable share of revenue in basis points (the rest is redeemable by burning).
    pub fn parse(name: &str, symbol: &str, supply_tokens: &str, holders_bps: u32) -> Result<Self> {
        let bad = |m: String| Err(OracleError::InvalidInput(m));
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return bad("name must be 1 to 64 printable characters".into());
        }
        let symbol = symbol.trim();
        if symbol.is_empty()
            || symbol.len() > 11
            || !symbol
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
        {
            return bad(format!(
                "symbol `{symbol}` must be 1 to 11 characters of A-Z, 0-9 and -"
            ));
        }
        let whole: U256 = supply_tokens.trim().parse().map_err(|_| {
            OracleError::InvalidInput(format!(
                "supply_tokens `{supply_tokens}` is not a whole number of tokens"
            ))
        })?;
        let supply = whole
            .checked_mul(U256::from(10u64).pow(U256::from(TOKEN_DECIMALS)))
            .filter(|s| !s.is_zero() && s.bit_len() <= MAX_SUPPLY_BITS)
            .ok_or_else(|| {
                OracleError::InvalidInput(format!(
                    "supply_tokens must be between 1 and {} tokens",
                    (U256::from(1u8) << MAX_SUPPLY_BITS) / U256::from(10u64).pow(U256::from(18))
                ))
            })?;
        if holders_bps > 10_000 {
            return bad(format!("holders_bps {holders_bps} is above 10000 (100 %)"));
        }
        Ok(Self {
            name: name.to_owned(),
            symbol: symbol.to_owned(),
            supply,
            holders_bps: holders_bps as u16,
        })
    }
}

/// A model's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenView {
    pub model_id: String,
    pub weights_root: String,
    pub state: TokenState,
    pub name: String,
    pub symbol: String,
    /// Base units (18 decimals).
    pub supply: U256,
    pub holders_bps: u16,
    /// Receives the whole supply.
    pub publisher: Address,
    /// Set once tokenized.
    pub token_address: Option<Address>,
    /// The registration transaction, as the transaction manager tracks it.
    pub transaction: Option<Intent>,
    pub error: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

fn intent_key(weights_root: &B256) -> String {
    format!("register:{weights_root:#x}")
}

/// Tokenization of models (see the module docs). States: [`TokenState`].
pub struct Tokenizer {
    ctx: Arc<ChainContext>,
    /// Model ids that are tokenized (final on-chain): the only ones metered in chain mode.
    tokenized: Arc<RwLock<HashSet<String>>>,
}

impl Tokenizer {
    pub fn new(ctx: Arc<ChainContext>) -> Self {
        Self {
            ctx,
            tokenized: Default::default(),
        }
    }

    /// The set of tokenized model ids, shared with the metering path.
    pub fn tokenized_models(&self) -> Arc<RwLock<HashSet<String>>> {
        self.tokenized.clone()
    }

    /// Registers `model` on-chain as an ERC-7641 token minted to its publisher. Only the
    /// publisher (or an admin) may; asking again while it is in flight or done returns the
    /// same token (with other parameters: `conflict`); after a failure it tries again.
    #[instrument(skip_all, fields(model = %model.id))]
    pub async fn tokenize(
        &self,
        by: &Principal,
        model: &ModelRecord,
        params: TokenParams,
    ) -> Result<TokenView> {
        if by.address != model.publisher && !by.is_admin() {
            return Err(OracleError::Forbidden(
                "only the model's publisher may tokenize it".into(),
            ));
        }
        if !model.active {
            return Err(OracleError::ModelDeactivated(format!(
                "model `{}` is deactivated",
                model.name
            )));
        }
        let db = &self.ctx.db;
        let now = self.ctx.clock.now_ms();
        let root: B256 = model
            .weights_root
            .parse()
            .map_err(|_| OracleError::Database(format!("corrupt weights root of {}", model.id)))?;
        let key = intent_key(&root);
        let existing = model_tokens::Entity::find_by_id(model.id.clone())
            .one(db)
            .await?;
        if let Some(row) = &existing {
            let same = row.name == params.name
                && row.symbol == params.symbol
                && row.supply == params.supply.to_string()
                && row.holders_bps == params.holders_bps as i32;
            if !same {
                return Err(OracleError::Conflict(format!(
                    "model `{}` is already {} with other parameters (token {} {})",
                    model.name, row.state, row.name, row.symbol
                )));
            }
            if row.state.parse::<TokenState>()? != TokenState::Failed {
                return self.view(row.clone()).await;
            }
            self.ctx.txm.retry(&key).await?;
            let mut am: model_tokens::ActiveModel = row.clone().into();
            am.state = Set(TokenState::Tokenizing.as_str().into());
            am.error = Set(None);
            am.updated_at_ms = Set(now);
            let row = am.update(db).await?;
            info!(key, "tokenization retried");
            return self.view(row).await;
        }
        let call = ModelRegistry::registerCall {
            weightsRoot: root,
            name_: params.name.clone(),
            symbol_: params.symbol.clone(),
            publisher: model.publisher.0,
            supply: params.supply,
            holdersBps: params.holders_bps,
        };
        self.ctx
            .txm
            .submit_call(&key, "register", self.ctx.deployment.registry.0, &call)
            .await?;
        let row = model_tokens::ActiveModel {
            model_id: Set(model.id.clone()),
            weights_root: Set(model.weights_root.clone()),
            state: Set(TokenState::Tokenizing.as_str().into()),
            intent_key: Set(key.clone()),
            name: Set(params.name),
            symbol: Set(params.symbol),
            supply: Set(params.supply.to_string()),
            holders_bps: Set(params.holders_bps as i32),
            publisher: Set(model.publisher.storage_key()),
            token_address: Set(None),
            error: Set(None),
            created_at_ms: Set(now),
            updated_at_ms: Set(now),
        }
        .insert(db)
        .await?;
        info!(key, publisher = %model.publisher, "tokenization requested");
        self.view(row).await
    }

    /// The token of a model, if tokenization was requested.
    pub async fn token(&self, model_id: &str) -> Result<Option<TokenView>> {
        match model_tokens::Entity::find_by_id(model_id.to_owned())
            .one(&self.ctx.db)
            .await?
        {
            Some(row) => Ok(Some(self.view(row).await?)),
            None => Ok(None),
        }
    }

    /// The state of every model with a token, by model id (for listings).
    pub async fn states(&self) -> Result<std::collections::HashMap<String, TokenState>> {
        model_tokens::Entity::find()
            .all(&self.ctx.db)
            .await?
            .into_iter()
            .map(|r| Ok((r.model_id, r.state.parse()?)))
            .collect()
    }

    async fn view(&self, row: model_tokens::Model) -> Result<TokenView> {
        let transaction = self.ctx.txm.get(&row.intent_key).await?;
        let corrupt =
            |what: &str| OracleError::Database(format!("corrupt token {what} of {}", row.model_id));
        Ok(TokenView {
            state: row.state.parse()?,
            supply: row.supply.parse().map_err(|_| corrupt("supply"))?,
            publisher: row.publisher.parse()?,
            token_address: row.token_address.as_deref().map(str::parse).transpose()?,
            model_id: row.model_id,
            weights_root: row.weights_root,
            name: row.name,
            symbol: row.symbol,
            holders_bps: row.holders_bps as u16,
            transaction,
            error: row.error,
            created_at_ms: row.created_at_ms,
            updated_at_ms: row.updated_at_ms,
        })
    }

    /// Loads the tokenized models (start-up).
    pub async fn load(&self) -> Result<()> {
        let rows = model_tokens::Entity::find()
            .filter(model_tokens::Column::State.eq(TokenState::Tokenized.as_str()))
            .all(&self.ctx.db)
            .await?;
        let mut set = self.tokenized.write().unwrap_or_else(|e| e.into_inner());
        set.extend(rows.into_iter().map(|r| r.model_id));
        Ok(())
    }

    /// The token machine: `tokenizing` → `tokenized` when the registration is final (the token
    /// address read from the registry), → `failed` when it failed.
    pub async fn reconcile(&self) -> Result<usize> {
        let db = &self.ctx.db;
        let rows = model_tokens::Entity::find()
            .filter(model_tokens::Column::State.eq(TokenState::Tokenizing.as_str()))
            .all(db)
            .await?;
        let mut done = 0;
        for row in rows {
            let mut am: model_tokens::ActiveModel = row.clone().into();
            match self.ctx.txm.outcome(&row.intent_key).await? {
                Some(Outcome::Final(intent)) => {
                    let root: B256 = row.weights_root.parse().map_err(|_| {
                        OracleError::Database(format!("corrupt weights root of {}", row.model_id))
                    })?;
                    let token: EthAddress = self
                        .ctx
                        .registry()
                        .tokenOf(root)
                        .call()
                        .await
                        .map_err(|e| self.ctx.err("reading ModelRegistry.tokenOf", e))?;
                    if token == EthAddress::ZERO {
                        warn!(model = %row.model_id, "registration final but tokenOf is zero");
                        continue;
                    }
                    am.state = Set(TokenState::Tokenized.as_str().into());
                    am.token_address = Set(Some(Address(token).storage_key()));
                    info!(model = %row.model_id, %token, tx = ?intent.tx_hash, gas = ?intent.gas_used, "model tokenized");
                    self.tokenized
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(row.model_id.clone());
                }
                Some(Outcome::Failed(intent)) => {
                    am.state = Set(TokenState::Failed.as_str().into());
                    am.error = Set(intent.error.clone());
                    warn!(model = %row.model_id, error = ?intent.error, "tokenization failed");
                }
                _ => continue,
            }
            let now = self.ctx.clock.now_ms();
            am.updated_at_ms = Set(now);
            let tokenized = am.state.as_ref() == TokenState::Tokenized.as_str();
            // The token's state and the model's (`tokenized` once its commitment is on-chain)
            // change together.
            let txn = db.begin().await?;
            am.update(&txn).await?;
            if tokenized {
                models::Entity::update_many()
                    .col_expr(
                        models::Column::State,
                        Expr::value(ModelState::Tokenized.as_str()),
                    )
                    .col_expr(models::Column::UpdatedAtMs, Expr::value(now))
                    .filter(models::Column::Id.eq(row.model_id.as_str()))
                    .exec(&txn)
                    .await?;
            }
            txn.commit().await?;
            done += 1;
        }
        Ok(done)
    }
}

/// The snapshots of `token` in which `holder` has revenue left to claim, with the amounts
/// (`claimableRevenue` of every snapshot id up to `currentSnapshotId`).
pub async fn claimable_snapshots(
    provider: &alloy::providers::DynProvider,
    token: EthAddress,
    holder: EthAddress,
) -> std::result::Result<Vec<(u64, U256)>, alloy::contract::Error> {
    let t = super::bindings::ModelToken::new(token, provider);
    let current = t.currentSnapshotId().call().await?;
    let mut out = vec![];
    for s in 1..=current.to::<u64>() {
        let c = t.claimableRevenue(holder, U256::from(s)).call().await?;
        if !c.is_zero() {
            out.push((s, c));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_params_are_parsed() {
        let p = TokenParams::parse("Silero VAD", "VAD", "1000000", 8000).unwrap();
        assert_eq!(
            p.supply,
            U256::from(1_000_000u64) * U256::from(10u64).pow(U256::from(18))
        );
        assert_eq!(p.holders_bps, 8000);
        for (name, symbol, supply, bps) in [
            ("", "VAD", "1", 0),
            ("ok", "vad", "1", 0),
            ("ok", "TOOLONGSYMBOL", "1", 0),
            ("ok", "VAD", "0", 0),
            ("ok", "VAD", "-5", 0),
            ("ok", "VAD", "1.5", 0),
            ("ok", "VAD", "1", 10_001),
            ("ok", "VAD", "100000000000000000000000000000000000000", 0),
        ] {
            let e = TokenParams::parse(name, symbol, supply, bps).unwrap_err();
            assert_eq!(e.code(), "invalid_input", "{name} {symbol} {supply} {bps}");
        }
    }
}
