//! The scheduler: tokio-cron-scheduler runs the chain loop's jobs on the schedules of
//! `[chain]` (`index_schedule`, `transactions_schedule`, `epochs_schedule`, `disputes_schedule`), each only if it is
//! listed in `chain.jobs`, so that exactly one replica runs each job. A job is one pass of the
//! same service function the API and the tests call; passes never overlap (each job holds its
//! own lock) and a failed pass is logged and retried at the next tick.

use tokio_cron_scheduler::{Job, JobScheduler};
use tracing::{debug, info, warn};

use super::service::ChainLoop;
use crate::error::{OracleError, Result};

/// The job names `chain.jobs` may list.
pub const JOBS: [&str; 4] = ["index", "transactions", "epochs", "disputes"];

/// A running scheduler; `shutdown` stops it.
pub struct Scheduler {
    inner: JobScheduler,
    chain: ChainLoop,
}

impl Scheduler {
    /// Stops scheduling, then waits for every pass in progress to end (a pass is never cut
    /// short: each leaves the database consistent, but a clean stop lets it finish).
    pub async fn shutdown(mut self) {
        if let Err(e) = self.inner.shutdown().await {
            warn!(error = %e, "scheduler shutdown");
        }
        self.chain.epochs.quiesce().await;
        self.chain.vault.quiesce().await;
        self.chain.disputes.quiesce().await;
        self.chain.ctx.txm.quiesce().await;
        info!("chain jobs stopped");
    }
}

fn sched_err(e: impl std::fmt::Display) -> OracleError {
    OracleError::InvalidInput(format!("chain scheduler: {e}"))
}

/// Starts the jobs of `chain.jobs` for `chain`.
pub async fn start(chain: ChainLoop) -> Result<Scheduler> {
    let cfg = chain.config().clone();
    for j in &cfg.jobs {
        if !JOBS.contains(&j.as_str()) {
            return Err(OracleError::InvalidInput(format!(
                "chain.jobs: unknown job `{j}` (known: {})",
                JOBS.join(", ")
            )));
        }
    }
    let sched = JobScheduler::new().await.map_err(sched_err)?;
    for name in &cfg.jobs {
        let schedule = match name.as_str() {
            "index" => cfg.index_schedule.clone(),
            "transactions" => cfg.transactions_schedule.clone(),
            "disputes" => cfg.disputes_schedule.clone(),
            _ => cfg.epochs_schedule.clone(),
        };
        let name: &'static str = JOBS.iter().find(|j| *j == name).expect("checked");
        let chain_for_job = chain.clone();
        let job = Job::new_async(schedule.as_str(), move |_, _| {
            let chain = chain_for_job.clone();
            Box::pin(async move { run_once(&chain, name).await })
        })
        .map_err(|e| {
            OracleError::InvalidInput(format!(
                "chain.{name}_schedule `{schedule}` is not a 6-field cron schedule: {e}"
            ))
        })?;
        sched.add(job).await.map_err(sched_err)?;
        info!(job = name, schedule, "chain job scheduled");
    }
    sched.start().await.map_err(sched_err)?;
    Ok(Scheduler {
        inner: sched,
        chain,
    })
}

/// One pass of job `name`; errors are logged (the next tick retries).
pub async fn run_once(chain: &ChainLoop, name: &str) {
    let outcome = match name {
        "index" => chain.vault.pass().await.map(|r| {
            if r.applied > 0 {
                info!(job = name, ?r, "pass");
            }
        }),
        "transactions" => {
            async {
                let r = chain.ctx.txm.pump().await?;
                let tokens = chain.tokens.reconcile().await?;
                if r != Default::default() || tokens > 0 {
                    info!(job = name, ?r, tokens, "pass");
                }
                Ok(())
            }
            .await
        }
        "disputes" => chain.disputes.pass().await.map(|r| {
            if r != Default::default() {
                info!(job = name, ?r, "pass");
            }
        }),
        _ => chain.epochs.pass().await.map(|r| {
            if r != Default::default() {
                info!(job = name, ?r, "pass");
            }
        }),
    };
    match outcome {
        Ok(()) => {
            metrics::counter!("imo_chain_job_runs_total", "job" => name.to_owned(), "outcome" => "ok")
                .increment(1);
            debug!(job = name, "pass done");
        }
        Err(e) => {
            metrics::counter!("imo_chain_job_runs_total", "job" => name.to_owned(), "outcome" => e.code())
                .increment(1);
            warn!(job = name, error = %e, "pass failed; retrying at the next tick");
        }
    }
}
