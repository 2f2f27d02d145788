//! Several `imo serve` replicas on one database (`cluster.enabled`; docs/DEPLOY.md).
//!
//! * [`lease`]: named leases in the `cluster_leases` table, taken and renewed in one statement
//!   on the database's clock, each term with a fencing token ([`Fence`]); writes that only the
//!   holder may make carry [`lease::fence_condition`] in their own `WHERE`.
//! * [`leader`]: the `chain` lease elects the replica that runs the chain jobs; it renews at
//!   most every half lease, stops the jobs the moment it cannot prove it still holds the lease,
//!   and hands the lease back on shutdown. The transaction manager's writes that record a nonce
//!   or a signed transaction are fenced, so a deposed leader can never send a transaction.
//! * [`member`]: every replica holds a membership lease of its own (`member:<hash>`) while it
//!   lives; it meters from [`balance`] leases that count only while that term is live, and it
//!   seals each epoch past its grace on that row, so the leader closes an epoch only once every
//!   live replica has committed all its receipts of it.

pub mod balance;
pub mod leader;
pub mod lease;
pub mod member;

pub use leader::Leadership;
pub use lease::{Fence, Lease, LeaseTerm};
pub use member::Membership;

/// A task of this replica that runs until told to stop (the election, the membership).
pub(crate) struct Background {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Background {
    /// Spawns `run`, which returns once the receiver it is given changes.
    pub(crate) fn spawn<F>(run: impl FnOnce(tokio::sync::watch::Receiver<bool>) -> F) -> Self
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        Self {
            stop,
            task: tokio::spawn(run(stopped)),
        }
    }

    /// Tells the task to stop and waits until it has.
    pub(crate) async fn stop(self, what: &str) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, "cluster: the {what} task ended abnormally");
        }
    }
}

/// The lease of the replica that runs the chain jobs.
pub const CHAIN_LEASE: &str = "chain";

/// `cluster.replica_id`, or `<hostname>-<pid>-<random>` when it is empty.
pub fn replica_id(configured: &str) -> String {
    if !configured.trim().is_empty() {
        return configured.trim().to_owned();
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "imo".into());
    let suffix = ulid::Ulid::new().to_string().to_lowercase();
    format!(
        "{host}-{}-{}",
        std::process::id(),
        &suffix[suffix.len() - 6..]
    )
}
