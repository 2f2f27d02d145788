//! Accounts are Ethereum addresses. API keys are random 256-bit secrets bound to an address and
//! a role, shown once and stored only as their SHA-256. Keys are created by an operator
//! (`imo keys create`) or self-service by Sign-In with Ethereum (EIP-4361) over a single-use,
//! expiring, server-issued nonce.

use std::str::FromStr;

use rand::RngCore;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    TransactionTrait, sea_query::Expr,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tracing::{info, instrument};

use crate::{
    clock::SharedClock,
    config::AuthConfig,
    db::{api_keys, siwe_nonces},
    error::{OracleError, Result},
    types::{Address, BoundedText, Role},
};

/// Who is calling: the owner of a live API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub key_id: String,
    pub address: Address,
    pub role: Role,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// A freshly created key. `secret` exists only here: it is never stored or shown again.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedKey {
    pub id: String,
    pub secret: String,
    pub prefix: String,
    pub address: Address,
    pub role: Role,
    pub label: String,
    pub created_at_ms: i64,
}

/// A sign-in nonce to embed in an EIP-4361 message.
#[derive(Debug, Clone, Serialize)]
pub struct SignInNonce {
    pub nonce: String,
    pub expires_at_ms: i64,
}

const KEY_PREFIX: &str = "imo_";

fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

type Limiter<K> = governor::DefaultKeyedRateLimiter<K>;

fn limiter<K: std::hash::Hash + Eq + Clone>(per_minute: u32) -> std::sync::Arc<Limiter<K>> {
    let n = std::num::NonZeroU32::new(per_minute.max(1)).expect("at least 1");
    std::sync::Arc::new(governor::RateLimiter::keyed(governor::Quota::per_minute(n)))
}

fn check<K: std::hash::Hash + Eq + Clone>(l: &Limiter<K>, key: &K, what: String) -> Result<()> {
    use governor::clock::{Clock, DefaultClock};
    l.check_key(key)
        .map_err(|not_until| OracleError::RateLimited {
            what,
            retry_after_secs: not_until
                .wait_time_from(DefaultClock::default().now())
                .as_secs()
                .max(1),
        })
}

#[derive(Clone)]
pub struct Auth {
    db: DatabaseConnection,
    cfg: AuthConfig,
    clock: SharedClock,
    nonces_per_peer: std::sync::Arc<Limiter<std::net::IpAddr>>,
    nonces_per_address: std::sync::Arc<Limiter<Address>>,
    /// Recently authenticated keys by secret hash, so the hot path (every inference call) does
    /// not query the database. Entries live `KEY_CACHE_TTL`; a revocation in this process takes
    /// effect at once, one in another process within the TTL.
    cache: std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<String, (Principal, std::time::Instant)>>,
    >,
}

const KEY_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(30);
const KEY_CACHE_MAX: usize = 100_000;

impl Auth {
    pub fn new(db: DatabaseConnection, cfg: AuthConfig, clock: SharedClock) -> Self {
        Self {
            db,
            clock,
            nonces_per_peer: limiter(cfg.nonces_per_minute_per_peer),
            nonces_per_address: limiter(cfg.nonces_per_minute_per_address),
            cfg,
            cache: Default::default(),
        }
    }

    /// An admin creates a key for any address.
    pub async fn create_key_by(
        &self,
        by: &Principal,
        address: Address,
        role: Role,
        label: BoundedText,
    ) -> Result<IssuedKey> {
        if !by.is_admin() {
            return Err(OracleError::Forbidden(
                "only admin keys may create keys for others".into(),
            ));
        }
        self.create_key(address, role, label).await
    }

    /// Creates a key for `address` with `role`. Operator path (`imo keys create`, admins).
    #[instrument(skip(self, label), fields(address = %address, role = %role))]
    pub async fn create_key(
        &self,
        address: Address,
        role: Role,
        label: BoundedText,
    ) -> Result<IssuedKey> {
        self.insert_key(&self.db, address, role, label).await
    }

    async fn insert_key<C: ConnectionTrait>(
        &self,
        conn: &C,
        address: Address,
        role: Role,
        label: BoundedText,
    ) -> Result<IssuedKey> {
        let secret = format!("{KEY_PREFIX}{}", random_hex(32));
        let prefix = secret[..KEY_PREFIX.len() + 8].to_owned();
        let id = format!("key_{}", ulid::Ulid::new().to_string().to_lowercase());
        let created_at_ms = self.clock.now_ms();
        api_keys::Entity::insert(api_keys::ActiveModel {
            id: Set(id.clone()),
            key_hash: Set(hash_secret(&secret)),
            prefix: Set(prefix.clone()),
            address: Set(address.storage_key()),
            role: Set(role.as_str().to_owned()),
            label: Set(label.as_str().to_owned()),
            created_at_ms: Set(created_at_ms),
            revoked_at_ms: Set(None),
        })
        .exec_without_returning(conn)
        .await?;
        info!(key_id = %id, %prefix, "api key created");
        Ok(IssuedKey {
            id,
            secret,
            prefix,
            address,
            role,
            label: label.into_inner(),
            created_at_ms,
        })
    }

    /// Resolves a presented secret to its principal. Unknown, malformed and revoked keys are
    /// indistinguishable to the caller.
    pub async fn authenticate(&self, presented: &str) -> Result<Principal> {
        let bad = || OracleError::Unauthenticated("the API key is not valid".into());
        if !presented.starts_with(KEY_PREFIX) || presented.len() != KEY_PREFIX.len() + 64 {
            return Err(bad());
        }
        let hash = hash_secret(presented);
        if let Some((p, at)) = self.cache.lock().expect("key cache").get(&hash)
            && at.elapsed() < KEY_CACHE_TTL
        {
            return Ok(p.clone());
        }
        let row = api_keys::Entity::find()
            .filter(api_keys::Column::KeyHash.eq(hash.as_str()))
            .filter(api_keys::Column::RevokedAtMs.is_null())
            .one(&self.db)
            .await?
            .ok_or_else(bad)?;
        let principal = Principal {
            key_id: row.id,
            address: row.address.parse()?,
            role: row.role.parse()?,
        };
        let mut cache = self.cache.lock().expect("key cache");
        if cache.len() >= KEY_CACHE_MAX {
            cache.retain(|_, (_, at)| at.elapsed() < KEY_CACHE_TTL);
        }
        cache.insert(hash, (principal.clone(), std::time::Instant::now()));
        Ok(principal)
    }

    /// Revokes a key. Its owner or an admin may do this.
    #[instrument(skip(self, by), fields(by = %by.key_id))]
    pub async fn revoke(&self, by: &Principal, key_id: &str) -> Result<()> {
        let row = api_keys::Entity::find_by_id(key_id.to_owned())
            .one(&self.db)
            .await?
            .filter(|r| r.revoked_at_ms.is_none())
            .ok_or_else(|| OracleError::not_found(format!("key {key_id}")))?;
        if !by.is_admin() && row.address != by.address.storage_key() {
            return Err(OracleError::not_found(format!("key {key_id}")));
        }
        api_keys::Entity::update_many()
            .col_expr(
                api_keys::Column::RevokedAtMs,
                Expr::value(self.clock.now_ms()),
            )
            .filter(api_keys::Column::Id.eq(key_id))
            .exec(&self.db)
            .await?;
        self.cache
            .lock()
            .expect("key cache")
            .retain(|_, (p, _)| p.key_id != key_id);
        Ok(())
    }

    /// Issues a single-use nonce for a sign-in message, to `peer` (the caller's IP address),
    /// optionally bound to the `address` that will sign it. Rate-limited per peer and per
    /// address (`RateLimited`); expired nonces are purged on the way.
    #[instrument(skip(self))]
    pub async fn issue_nonce(
        &self,
        peer: Option<std::net::IpAddr>,
        address: Option<Address>,
    ) -> Result<SignInNonce> {
        if let Some(ip) = peer {
            check(
                &self.nonces_per_peer,
                &ip,
                format!("sign-in nonces for {ip}"),
            )?;
        }
        if let Some(a) = address {
            check(
                &self.nonces_per_address,
                &a,
                format!("sign-in nonces for {a}"),
            )?;
        }
        let now = self.clock.now_ms();
        // Alphanumeric and >= 8 characters, as EIP-4361 requires; 128 bits of entropy.
        let nonce = random_hex(16);
        let expires_at_ms = now + (self.cfg.nonce_ttl_secs as i64) * 1000;
        siwe_nonces::Entity::insert(siwe_nonces::ActiveModel {
            nonce: Set(nonce.clone()),
            created_at_ms: Set(now),
            expires_at_ms: Set(expires_at_ms),
            used_at_ms: Set(None),
            address: Set(address.map(|a| a.storage_key())),
        })
        .exec_without_returning(&self.db)
        .await?;
        // An expired nonce can never be used: drop it now, so the table holds only live ones.
        siwe_nonces::Entity::delete_many()
            .filter(siwe_nonces::Column::ExpiresAtMs.lte(now))
            .exec(&self.db)
            .await?;
        // The limiters forget peers and addresses that have been quiet for a full period.
        if rand::random::<u8>() == 0 {
            self.nonces_per_peer.retain_recent();
            self.nonces_per_address.retain_recent();
        }
        Ok(SignInNonce {
            nonce,
            expires_at_ms,
        })
    }

    /// Verifies an EIP-4361 message and its EIP-191 signature, consumes the nonce and issues a
    /// key for the signing address. The nonce is consumed and the key created in one
    /// transaction, so a replayed message never yields a second key.
    #[instrument(skip_all, fields(role = %role))]
    pub async fn sign_in(&self, message: &str, signature: &str, role: Role) -> Result<IssuedKey> {
        let msg = siwe::Message::from_str(message)
            .map_err(|e| OracleError::SignIn(format!("not an EIP-4361 message: {e}")))?;
        if msg.domain.as_str() != self.cfg.siwe_domain {
            return Err(OracleError::SignIn(format!(
                "message is for domain `{}`, this service is `{}`",
                msg.domain, self.cfg.siwe_domain
            )));
        }
        if msg.chain_id != self.cfg.chain_id {
            return Err(OracleError::SignIn(format!(
                "message names chain {}, this service uses chain {}",
                msg.chain_id, self.cfg.chain_id
            )));
        }
        let now = time::OffsetDateTime::from_unix_timestamp_nanos(
            i128::from(self.clock.now_ms()) * 1_000_000,
        )
        .map_err(|e| OracleError::SignIn(format!("the clock is out of range: {e}")))?;
        if !msg.valid_at(&now) {
            return Err(OracleError::SignIn(
                "message is expired or not yet valid".into(),
            ));
        }
        let claimed = Address(alloy::primitives::Address::from(msg.address));
        let sig_bytes = hex::decode(signature.trim().trim_start_matches("0x"))
            .map_err(|_| OracleError::SignIn("signature is not hex".into()))?;
        let sig = alloy::primitives::Signature::from_raw(&sig_bytes)
            .map_err(|e| OracleError::SignIn(format!("signature is malformed: {e}")))?;
        let signer = sig
            .recover_address_from_msg(message.as_bytes())
            .map_err(|e| OracleError::SignIn(format!("signature does not recover: {e}")))?;
        if signer != claimed.0 {
            return Err(OracleError::SignIn(format!(
                "signature was made by {}, not by {claimed}",
                Address(signer)
            )));
        }
        if role == Role::Admin
            && !self
                .cfg
                .admin_addresses
                .iter()
                .any(|a| a.parse::<Address>().is_ok_and(|a| a == claimed))
        {
            return Err(OracleError::Forbidden(format!(
                "{claimed} may not sign in as admin"
            )));
        }

        let now = self.clock.now_ms();
        let txn = self.db.begin().await?;
        let consumed = siwe_nonces::Entity::update_many()
            .col_expr(siwe_nonces::Column::UsedAtMs, Expr::value(now))
            .filter(siwe_nonces::Column::Nonce.eq(msg.nonce.as_str()))
            .filter(siwe_nonces::Column::UsedAtMs.is_null())
            .filter(siwe_nonces::Column::ExpiresAtMs.gt(now))
            .filter(
                sea_orm::Condition::any()
                    .add(siwe_nonces::Column::Address.is_null())
                    .add(siwe_nonces::Column::Address.eq(claimed.storage_key())),
            )
            .exec(&txn)
            .await?;
        if consumed.rows_affected != 1 {
            return Err(OracleError::SignIn(
                "nonce is unknown, expired, already used, or was issued to another address".into(),
            ));
        }
        let label = BoundedText::parse("label", "sign-in with ethereum", 200)?;
        let key = self.insert_key(&txn, claimed, role, label).await?;
        txn.commit().await?;
        Ok(key)
    }
}
