//! Tokenization: a publisher's model becomes an ERC-7641 token (`ModelRegistry.register`,
//! sent by the operator through the transaction manager under the key
//! `register:<weights root>`); the model is `tokenized` once that transaction is final.

use alloy::{
    primitives::{Address as EthAddress, B256, Bytes, U256},
    sol_types::SolCall,
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde::Serialize;
use tracing::{info, instrument, warn};

use super::{
    bindings::ModelRegistry,
    service::ChainLoop,
    txm::{Intent, IntentState},
};
use crate::{
    auth::Principal,
    db::model_tokens,
    error::{OracleError, Result},
    registry::ModelRecord,
    types::{Address, now_ms},
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

/// A model's token as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenView {
    pub model_id: String,
    pub weights_root: String,
    /// `tokenizing`, `tokenized` or `failed`.
    pub state: String,
    pub name: String,
    pub symbol: String,
    /// Base units (18 decimals), decimal.
    pub supply: String,
    pub holders_bps: u16,
    /// Receives the whole supply.
    pub publisher: String,
    /// Set once tokenized.
    pub token_address: Option<String>,
    /// The registration transaction, as the transaction manager tracks it.
    pub transaction: Option<Intent>,
    pub error: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

fn intent_key(weights_root: &B256) -> String {
    format!("register:{weights_root:#x}")
}

impl ChainLoop {
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
            return Err(OracleError::ModelUnavailable(format!(
                "model `{}` is deactivated",
                model.name
            )));
        }
        let root: B256 = model
            .weights_root
            .parse()
            .map_err(|_| OracleError::Database(format!("corrupt weights root of {}", model.id)))?;
        let key = intent_key(&root);
        let existing = model_tokens::Entity::find_by_id(model.id.clone())
            .one(&self.inner.db)
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
            if row.state != "failed" {
                return self.token_view(row.clone()).await;
            }
            self.inner.txm.retry(&key).await?;
            let mut am: model_tokens::ActiveModel = row.clone().into();
            am.state = Set("tokenizing".into());
            am.error = Set(None);
            am.updated_at_ms = Set(now_ms());
            let row = am.update(&self.inner.db).await?;
            info!(key, "tokenization retried");
            return self.token_view(row).await;
        }
        let call = ModelRegistry::registerCall {
            weightsRoot: root,
            name_: params.name.clone(),
            symbol_: params.symbol.clone(),
            publisher: model.publisher.0,
            supply: params.supply,
            holdersBps: params.holders_bps,
        };
        self.inner
            .txm
            .submit(
                &key,
                "register",
                self.inner.deployment.registry.0,
                Bytes::from(call.abi_encode()),
                U256::ZERO,
            )
            .await?;
        let now = now_ms();
        let row = model_tokens::ActiveModel {
            model_id: Set(model.id.clone()),
            weights_root: Set(model.weights_root.clone()),
            state: Set("tokenizing".into()),
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
        .insert(&self.inner.db)
        .await?;
        info!(key, publisher = %model.publisher, "tokenization requested");
        self.token_view(row).await
    }

    /// The token of a model, if tokenization was requested.
    pub async fn token(&self, model_id: &str) -> Result<Option<TokenView>> {
        match model_tokens::Entity::find_by_id(model_id.to_owned())
            .one(&self.inner.db)
            .await?
        {
            Some(row) => Ok(Some(self.token_view(row).await?)),
            None => Ok(None),
        }
    }

    async fn token_view(&self, row: model_tokens::Model) -> Result<TokenView> {
        let transaction = self.inner.txm.get(&row.intent_key).await?;
        Ok(TokenView {
            model_id: row.model_id,
            weights_root: row.weights_root,
            state: row.state,
            name: row.name,
            symbol: row.symbol,
            supply: row.supply,
            holders_bps: row.holders_bps as u16,
            publisher: row.publisher,
            token_address: row.token_address,
            transaction,
            error: row.error,
            created_at_ms: row.created_at_ms,
            updated_at_ms: row.updated_at_ms,
        })
    }

    pub(crate) async fn load_tokenized(&self) -> Result<()> {
        let rows = model_tokens::Entity::find()
            .filter(model_tokens::Column::State.eq("tokenized"))
            .all(&self.inner.db)
            .await?;
        let mut set = self.inner.tokenized.write().expect("tokenized lock");
        set.extend(rows.into_iter().map(|r| r.model_id));
        Ok(())
    }

    /// Moves tokenizations whose registration is final (or failed) to `tokenized` (`failed`).
    pub async fn reconcile_tokens(&self) -> Result<usize> {
        let rows = model_tokens::Entity::find()
            .filter(model_tokens::Column::State.eq("tokenizing"))
            .all(&self.inner.db)
            .await?;
        let mut done = 0;
        for row in rows {
            let Some(intent) = self.inner.txm.get(&row.intent_key).await? else {
                continue;
            };
            let mut am: model_tokens::ActiveModel = row.clone().into();
            match intent.state {
                IntentState::Final => {
                    let root: B256 = row.weights_root.parse().map_err(|_| {
                        OracleError::Database(format!("corrupt weights root of {}", row.model_id))
                    })?;
                    let token: EthAddress = self
                        .registry()
                        .tokenOf(root)
                        .call()
                        .await
                        .map_err(|e| self.err("reading ModelRegistry.tokenOf", e))?;
                    if token == EthAddress::ZERO {
                        warn!(model = %row.model_id, "registration final but tokenOf is zero");
                        continue;
                    }
                    am.state = Set("tokenized".into());
                    am.token_address = Set(Some(Address(token).storage_key()));
                    info!(model = %row.model_id, %token, tx = ?intent.tx_hash, gas = ?intent.gas_used, "model tokenized");
                    self.inner
                        .tokenized
                        .write()
                        .expect("tokenized lock")
                        .insert(row.model_id.clone());
                }
                IntentState::Failed => {
                    am.state = Set("failed".into());
                    am.error = Set(intent.error.clone());
                    warn!(model = %row.model_id, error = ?intent.error, "tokenization failed");
                }
                _ => continue,
            }
            am.updated_at_ms = Set(now_ms());
            am.update(&self.inner.db).await?;
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
