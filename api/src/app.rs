//! The application: one [`App::build`] for `imo serve` and the test harness, and its ordered
//! shutdown.
//!
//! Shutdown order: stop accepting connections and let requests in flight finish (up to
//! `server.shutdown_timeout_secs`) → stop the chain jobs after the pass each is running → drain
//! the ledger writer (every response already sent has its receipt committed) → stop the model
//! workers → close the database pool.

use std::net::SocketAddr;

use imo_oracle::{
    Oracle, Result, chain::jobs::Scheduler, clock::SharedClock, cluster::Leadership, config::Config,
};
use tracing::info;

use crate::server::{self, RunningServer};

/// A running service: the domain, its HTTP server and its chain jobs.
pub struct App {
    pub oracle: Oracle,
    pub addr: SocketAddr,
    server: Option<RunningServer>,
    scheduler: Option<Scheduler>,
    /// Cluster mode: the election that runs the chain jobs on one replica at a time.
    leadership: Option<Leadership>,
}

impl App {
    /// Starts the domain on `clock` (migrations, model store, ledger writer, chain loop), the
    /// chain jobs of `chain.jobs` (with the chain loop on), and the HTTP server.
    pub async fn build(config: Config, clock: SharedClock) -> Result<Self> {
        let oracle = Oracle::start(config, clock).await?;
        let (mut scheduler, mut leadership) = (None, None);
        if oracle.config.cluster.enabled {
            let replica = imo_oracle::cluster::replica_id(&oracle.config.cluster.replica_id);
            leadership = Some(Leadership::start(
                oracle.db.clone(),
                oracle.chain.clone(),
                oracle.inference.ledger().clone(),
                &oracle.config.cluster,
                replica,
            )?);
        } else if let Some(chain) = &oracle.chain
            && !chain.config().jobs.is_empty()
        {
            scheduler = Some(imo_oracle::chain::jobs::start(chain.clone()).await?);
        }
        let server = server::start(oracle.clone())
            .map_err(|e| imo_oracle::OracleError::InvalidInput(format!("cannot listen: {e}")))?;
        let addr = server.addr;
        info!(%addr, "listening; API docs at http://{addr}/docs/");
        Ok(Self {
            oracle,
            addr,
            server: Some(server),
            scheduler,
            leadership,
        })
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Runs until SIGINT or SIGTERM, then shuts down in order.
    pub async fn run_until_signal(self) {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => info!("SIGTERM: shutting down"),
            _ = tokio::signal::ctrl_c() => info!("SIGINT: shutting down"),
        }
        self.shutdown().await;
    }

    /// The ordered shutdown (see the module docs).
    pub async fn shutdown(mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
            info!("HTTP drained");
        }
        if let Some(s) = self.scheduler.take() {
            s.shutdown().await;
        }
        if let Some(l) = self.leadership.take() {
            l.shutdown().await;
        }
        self.oracle.shutdown().await;
        info!("stopped");
    }
}
