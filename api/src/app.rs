//! The application: one [`App::build`] for `imo serve` and the test harness, and its ordered
//! shutdown.
//!
//! Shutdown order: stop accepting connections (HTTP and gRPC) and let requests in flight finish (up to
//! `server.shutdown_timeout_secs`) → stop the chain jobs after the pass each is running → drain
//! the ledger writer (every response already sent has its receipt committed) → in cluster mode,
//! return the balance leases and hand the membership back → stop the model workers → close the
//! database pool.

use std::net::SocketAddr;

use imo_oracle::{
    Oracle, Result,
    chain::jobs::Scheduler,
    clock::SharedClock,
    cluster::{Leadership, Membership},
    config::Config,
};
use tracing::info;

use crate::server::{self, RunningServer};

/// A running service: the domain, its HTTP and gRPC servers and its chain jobs.
pub struct App {
    pub oracle: Oracle,
    pub addr: SocketAddr,
    /// The Open Inference Protocol over gRPC (`server.grpc_enabled`).
    pub grpc_addr: Option<SocketAddr>,
    server: Option<RunningServer>,
    grpc: Option<crate::grpc::RunningGrpc>,
    scheduler: Option<Scheduler>,
    /// Cluster mode: the election that runs the chain jobs on one replica at a time.
    leadership: Option<Leadership>,
    /// Cluster mode: this replica's membership (metering from balance leases, epoch seals).
    membership: Option<Membership>,
}

impl App {
    /// Starts the domain on `clock` (migrations, model store, ledger writer, chain loop), the
    /// chain jobs of `chain.jobs` (with the chain loop on), the HTTP server and the gRPC server.
    pub async fn build(config: Config, clock: SharedClock) -> Result<Self> {
        let oracle = Oracle::start(config, clock).await?;
        let (mut scheduler, mut leadership, mut membership) = (None, None, None);
        if oracle.config.cluster.enabled {
            let replica = imo_oracle::cluster::replica_id(&oracle.config.cluster.replica_id);
            membership = Some(
                Membership::start(
                    oracle.db.clone(),
                    oracle.chain.clone(),
                    oracle.inference.ledger().clone(),
                    &oracle.config.cluster,
                    &replica,
                )
                .await?,
            );
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
        let grpc = if oracle.config.server.grpc_enabled {
            Some(crate::grpc::start(oracle.clone()).map_err(|e| {
                imo_oracle::OracleError::InvalidInput(format!(
                    "cannot listen for gRPC on {}: {e}",
                    oracle.config.server.grpc_bind
                ))
            })?)
        } else {
            None
        };
        let server = match server::start(oracle.clone()) {
            Ok(s) => s,
            Err(e) => {
                if let Some(g) = grpc {
                    g.stop().await;
                }
                return Err(imo_oracle::OracleError::InvalidInput(format!(
                    "cannot listen: {e}"
                )));
            }
        };
        let addr = server.addr;
        let grpc_addr = grpc.as_ref().map(|g| g.addr);
        match grpc_addr {
            Some(grpc_addr) => info!(
                %addr,
                %grpc_addr,
                "listening; API docs at http://{addr}/docs/; Open Inference Protocol over gRPC at {grpc_addr}"
            ),
            None => info!(%addr, "listening; API docs at http://{addr}/docs/"),
        }
        Ok(Self {
            oracle,
            addr,
            grpc_addr,
            server: Some(server),
            grpc,
            scheduler,
            leadership,
            membership,
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
        let grpc = self.grpc.take();
        let http = self.server.take();
        tokio::join!(
            async {
                if let Some(g) = grpc {
                    g.stop().await;
                    info!("gRPC drained");
                }
            },
            async {
                if let Some(s) = http {
                    s.stop().await;
                    info!("HTTP drained");
                }
            }
        );
        if let Some(s) = self.scheduler.take() {
            s.shutdown().await;
        }
        if let Some(l) = self.leadership.take() {
            l.shutdown().await;
        }
        if let Some(m) = self.membership.take() {
            // Drain the ledger writer first: what is not charged then goes back to the cluster.
            self.oracle.inference.ledger().shutdown().await;
            m.shutdown().await;
        }
        self.oracle.shutdown().await;
        info!("stopped");
    }
}
