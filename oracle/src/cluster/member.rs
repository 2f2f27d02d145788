//! Membership (`cluster.enabled`): every replica holds a lease of its own in `cluster_leases`
//! ([`member_lease_name`]) while it lives, renewed like the `chain` lease. Its term is what the
//! replica's ledger meters under: balance leases count only while it is live, and every ledger
//! transaction holds it ([`Ledger::set_member`]). At each renewal the replica also
//!
//! * seals the epochs past their grace: its ledger refuses their receipts from then on and has
//!   committed every earlier one ([`Ledger::freeze`]), then records the sealed epoch on its row,
//!   so the leader closes an epoch only when every live replica has sealed it
//!   ([`balance::sealed_through`]);
//! * hands back what other replicas recalled of its balance leases;
//! * reads the tokenized models again (the leader tokenizes; every replica meters them).
//!
//! A replica that cannot renew before its term would run out stops metering (`not_member`); a
//! lapsed term comes back as a new one, with no leases. On shutdown, after the ledger writer
//! drained, it returns its balance leases and hands its membership back.

use std::time::Duration;

use tokio::{sync::watch, time::Instant};
use tracing::{info, warn};

use super::{
    Fence, Lease,
    balance::{self, member_lease_name},
};
use crate::{
    chain::ChainLoop,
    config::ClusterConfig,
    error::{OracleError, Result},
    ledger::Ledger,
};

/// This replica's membership task; [`shutdown`](Self::shutdown) returns its leases.
pub struct Membership(super::Background);

struct Member {
    db: sea_orm::DatabaseConnection,
    lease: Lease,
    ledger: Ledger,
    chain: Option<ChainLoop>,
    /// The current term and when it runs out unless renewed (monotonic clock).
    term: Option<(Fence, Instant)>,
    /// The last epoch sealed by this replica's ledger.
    sealed: Option<u64>,
    /// The sealed epoch recorded on the membership row of the current term.
    recorded: Option<u64>,
}

impl Membership {
    /// Takes this replica's first membership term (an error when the database refuses it), so
    /// that it meters from the first request, then renews it in the background.
    pub async fn start(
        db: sea_orm::DatabaseConnection,
        chain: Option<ChainLoop>,
        ledger: Ledger,
        cfg: &ClusterConfig,
        replica: &str,
    ) -> Result<Self> {
        let lease_ms = cfg.lease_secs.saturating_mul(1000) as i64;
        let name = member_lease_name(replica);
        let mut m = Member {
            lease: Lease::new(db.clone(), &name, replica, lease_ms),
            db,
            ledger,
            chain,
            term: None,
            sealed: None,
            recorded: None,
        };
        m.tick().await?;
        if m.term.is_none() {
            return Err(OracleError::Conflict(format!(
                "cluster: the membership lease {name} of replica `{replica}` is held by another process: replica ids must be unique (cluster.replica_id)"
            )));
        }
        info!(replica, member = %name, "cluster: member; metering from balance leases");
        let renew = Duration::from_millis(cfg.renew_ms);
        Ok(Self(super::Background::spawn(|stopped| {
            run(m, renew, stopped)
        })))
    }

    /// Stops renewing; returns the balance leases (call after the ledger writer drained) and
    /// hands the membership back.
    pub async fn shutdown(self) {
        self.0.stop("membership").await;
    }
}

impl Member {
    /// One renewal: seal, renew (or take a new term), record the seal, hand back what was
    /// recalled, read the tokenized models again.
    async fn tick(&mut self) -> Result<()> {
        // Seal first: a new term must never meter receipts of an epoch the leader may close.
        if let Some(c) = &self.chain {
            let now = c.ctx.clock.now_ms();
            if let Some(e) = c.ctx.epochs.last_closable(now, c.config().epoch_grace_secs)
                && self.sealed.is_none_or(|s| s < e)
            {
                self.ledger.freeze(e).await?;
                self.sealed = Some(e);
            }
        }
        let asked = Instant::now();
        match self.lease.acquire().await? {
            Some(won) => {
                let left = Duration::from_millis((won.expires_at_ms - won.db_now_ms).max(0) as u64);
                let new_term = self.term.as_ref().is_none_or(|(f, _)| *f != won.fence);
                if new_term {
                    if self.term.is_some() {
                        warn!(
                            token = won.fence.token,
                            "cluster: membership lapsed and was taken again: earlier balance leases count no more"
                        );
                    }
                    self.ledger.set_member(Some(won.fence.clone()));
                    self.recorded = None;
                    metrics::counter!("imo_cluster_member_terms_total").increment(1);
                }
                self.term = Some((won.fence, asked + left));
            }
            None => {
                if self.term.take().is_some() {
                    self.ledger.set_member(None);
                }
                warn!(
                    member = self.lease.name(),
                    "cluster: another process holds this replica's membership: not metering"
                );
                return Ok(());
            }
        }
        let Some((fence, _)) = &self.term else {
            return Ok(());
        };
        if let Some(e) = self.sealed
            && self.recorded != Some(e)
        {
            balance::seal(&self.db, fence, e).await?;
            self.recorded = Some(e);
        }
        self.ledger.hand_back_recalled().await?;
        if let Some(c) = &self.chain {
            c.tokens.load().await?;
        }
        Ok(())
    }
}

async fn run(mut m: Member, renew: Duration, mut stopped: watch::Receiver<bool>) {
    let mut next = Instant::now() + renew;
    loop {
        let deadline = m.term.as_ref().map(|(_, d)| *d);
        tokio::select! {
            _ = stopped.changed() => break,
            _ = tokio::time::sleep_until(deadline.unwrap_or(next)), if deadline.is_some_and(|d| d < next) => {
                if m.term.take().is_some() {
                    warn!("cluster: no membership renewal succeeded within the lease: metering stops");
                    m.ledger.set_member(None);
                }
                continue;
            }
            _ = tokio::time::sleep_until(next) => {}
        }
        next = Instant::now() + renew;
        match tokio::time::timeout(renew, m.tick()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(error = %e, "cluster: membership renewal failed"),
            Err(_) => warn!(
                timeout_ms = renew.as_millis() as u64,
                "cluster: the membership renewal did not answer in time"
            ),
        }
    }
    // Shutdown: the ledger writer has drained (the app stops it first); what was leased and
    // not charged is free for the other replicas at once.
    match balance::return_all(&m.db, m.lease.name()).await {
        Ok(n) => info!(leases = n, "cluster: balance leases returned"),
        Err(e) => {
            warn!(error = %e, "cluster: cannot return the balance leases (they lapse with the membership)")
        }
    }
    m.ledger.set_member(None);
    if let Some((fence, _)) = m.term.take() {
        match m.lease.release(&fence).await {
            Ok(_) => info!("cluster: membership handed back"),
            Err(e) => {
                warn!(error = %e, "cluster: cannot hand the membership back (it lapses by itself)")
            }
        }
    }
}
