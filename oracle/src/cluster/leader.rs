//! Leader election (`cluster.enabled`): every replica runs a [`Leadership`] task; the one
//! holding the `chain` lease runs the jobs of `chain.jobs` and is the ledger's writer (until
//! balance leases let every replica meter, followers answer metered calls `503 not_leader`).
//!
//! * Every `cluster.renew_ms` (at most half of `cluster.lease_secs`) the task takes or renews
//!   the lease in one statement ([`Lease::acquire`], database time).
//! * A new term (the lease was free or lapsed): hand the ledger and the transaction manager the
//!   term's fence, then start the scheduler.
//! * It steps down the moment it cannot prove it holds the lease — another replica holds it, or
//!   no renewal succeeded before the lease would run out (measured on this replica's monotonic
//!   clock from the moment it sent the last successful renewal, so a late answer only
//!   shortens it): first the ledger and the transaction manager lose the fence (nothing more is
//!   sent or written, and the database refuses the writes of a term that is over anyway), then
//!   the scheduler stops.
//! * On shutdown it stops the jobs and hands the lease back, so another replica takes over at
//!   its next try instead of after a whole lease.

use std::time::Duration;

use tokio::{sync::watch, time::Instant};
use tracing::{info, warn};

use super::{CHAIN_LEASE, Fence, Lease};
use crate::{
    chain::{ChainLoop, jobs},
    config::ClusterConfig,
    error::{OracleError, Result},
    ledger::Ledger,
};

/// The running election task of this replica; [`shutdown`](Self::shutdown) stops it.
pub struct Leadership {
    task: super::Background,
    replica: String,
}

/// This replica's term while it leads.
struct Term {
    fence: Fence,
    /// When the lease runs out unless renewed (this replica's monotonic clock).
    deadline: Instant,
    /// The chain jobs (with the chain loop on).
    scheduler: Option<jobs::Scheduler>,
}

/// What the leader drives.
#[derive(Clone)]
struct Led {
    chain: Option<ChainLoop>,
    ledger: Ledger,
}

impl Led {
    /// A new term: what other replicas changed while this one followed is read again (the
    /// tokenized models the metering path serves), then the ledger and the transaction manager
    /// get the term's fence, then the chain jobs start.
    async fn lead(&self, fence: Fence) -> Result<Option<jobs::Scheduler>> {
        if let Some(c) = &self.chain {
            c.tokens.load().await?;
        }
        self.fence(Some(fence));
        match &self.chain {
            Some(c) if !c.config().jobs.is_empty() => jobs::start(c.clone()).await.map(Some),
            _ => Ok(None),
        }
    }

    fn fence(&self, fence: Option<Fence>) {
        self.ledger.set_fence(fence.clone());
        if let Some(c) = &self.chain {
            c.ctx.txm.set_fence(fence);
        }
    }
}

impl Leadership {
    /// Checks `cfg` and starts electing (the first try is immediate).
    pub fn start(
        db: sea_orm::DatabaseConnection,
        chain: Option<ChainLoop>,
        ledger: Ledger,
        cfg: &ClusterConfig,
        replica: String,
    ) -> Result<Self> {
        let lease_ms = cfg.lease_secs.saturating_mul(1000);
        if cfg.lease_secs == 0 || cfg.renew_ms == 0 || cfg.renew_ms.saturating_mul(2) > lease_ms {
            return Err(OracleError::InvalidInput(format!(
                "cluster.renew_ms ({}) must be positive and at most half of cluster.lease_secs ({} s)",
                cfg.renew_ms, cfg.lease_secs
            )));
        }
        let led = Led { chain, ledger };
        led.fence(None);
        let lease = Lease::new(db, CHAIN_LEASE, &replica, lease_ms as i64);
        let renew = Duration::from_millis(cfg.renew_ms);
        info!(
            replica,
            lease_secs = cfg.lease_secs,
            renew_ms = cfg.renew_ms,
            "cluster: electing the chain jobs' leader"
        );
        let task = super::Background::spawn(|stopped| run(led, lease, renew, stopped));
        Ok(Self { task, replica })
    }

    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// Stops the jobs (after the pass each is running), hands the lease back, ends the task.
    pub async fn shutdown(self) {
        self.task.stop("election").await;
    }
}

async fn run(led: Led, lease: Lease, renew: Duration, mut stopped: watch::Receiver<bool>) {
    let gauge = || metrics::gauge!("imo_cluster_leader", "lease" => CHAIN_LEASE);
    gauge().set(0.0);
    let mut term: Option<Term> = None;
    let mut next_try = Instant::now();
    loop {
        let deadline = term.as_ref().map(|t| t.deadline);
        tokio::select! {
            _ = stopped.changed() => break,
            _ = tokio::time::sleep_until(deadline.unwrap_or(next_try)), if deadline.is_some_and(|d| d < next_try) => {
                if let Some(t) = term.take() {
                    warn!(token = t.fence.token, "cluster: no renewal succeeded within the lease: stepping down");
                    step_down(&led, t).await;
                    gauge().set(0.0);
                }
                continue;
            }
            _ = tokio::time::sleep_until(next_try) => {}
        }
        next_try = Instant::now() + renew;
        let asked = Instant::now();
        match tokio::time::timeout(renew, lease.acquire()).await {
            Ok(Ok(Some(won))) => {
                let left = Duration::from_millis((won.expires_at_ms - won.db_now_ms).max(0) as u64);
                let deadline = asked + left;
                match &mut term {
                    Some(t) if t.fence == won.fence => t.deadline = deadline,
                    _ => {
                        if let Some(old) = term.take() {
                            step_down(&led, old).await;
                        }
                        let started = led.lead(won.fence.clone()).await;
                        match started {
                            Ok(scheduler) => {
                                info!(
                                    replica = lease.holder(),
                                    token = won.fence.token,
                                    "cluster: this replica leads: it writes balances and runs the chain jobs"
                                );
                                metrics::counter!("imo_cluster_lease_terms_total", "lease" => CHAIN_LEASE).increment(1);
                                gauge().set(1.0);
                                term = Some(Term {
                                    fence: won.fence,
                                    deadline,
                                    scheduler,
                                });
                            }
                            Err(e) => {
                                warn!(error = %e, "cluster: cannot start the chain jobs; handing the lease back");
                                led.fence(None);
                                let _ = lease.release(&won.fence).await;
                            }
                        }
                    }
                }
            }
            Ok(Ok(None)) => {
                if let Some(t) = term.take() {
                    warn!(
                        token = t.fence.token,
                        "cluster: another replica holds the lease: stepping down"
                    );
                    step_down(&led, t).await;
                    gauge().set(0.0);
                }
            }
            Ok(Err(e)) => warn!(error = %e, "cluster: cannot renew the lease"),
            Err(_) => warn!(
                timeout_ms = renew.as_millis() as u64,
                "cluster: the lease statement did not answer in time"
            ),
        }
    }
    if let Some(t) = term.take() {
        let fence = t.fence.clone();
        step_down(&led, t).await;
        match lease.release(&fence).await {
            Ok(true) => info!(token = fence.token, "cluster: lease handed back"),
            Ok(false) => {}
            Err(e) => {
                warn!(error = %e, "cluster: cannot hand the lease back (it lapses by itself)")
            }
        }
    }
    gauge().set(0.0);
}

/// Fence first (no more sends, at once), then stop the scheduler after its running passes.
async fn step_down(led: &Led, term: Term) {
    led.fence(None);
    if let Some(s) = term.scheduler {
        s.shutdown().await;
    }
    info!(
        token = term.fence.token,
        "cluster: stepped down: balance writes and chain jobs stopped"
    );
}
