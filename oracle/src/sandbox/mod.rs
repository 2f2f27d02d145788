//! Model isolation: every model runs in its own worker process, so nothing a model or a
//! request does to ONNX Runtime (an abort, a runaway allocation, an endless run) can take the
//! service down.
//!
//! * A [`ModelWorker`] owns one worker process (`imo __model-worker`, [`child`]) that loads the
//!   model with `sessions` sessions under an address-space limit (the model's memory budget on
//!   top of the loaded runtime). Calls travel as frames over the worker's stdin/stdout
//!   ([`wire`]); up to `sessions` run at once.
//! * A run that needs more memory than the budget fails in the worker (ONNX Runtime's
//!   allocation fails) and is answered as [`OracleError::ResourceLimit`]; the worker is then
//!   retired (replaced at the next call), so memory an arena kept is returned to the system.
//! * A run longer than `engine.run_timeout_ms` is terminated by the worker's watchdog
//!   (ONNX Runtime's run-level terminate flag); a worker that does not answer within the limit
//!   plus a grace period is killed.
//! * A worker that dies fails its calls in flight ([`OracleError::ModelUnavailable`]: retry);
//!   the next call starts a new one. Three deaths within a minute mark the model unhealthy for
//!   30 s (calls fail fast; readiness says why).
//! * At registration, [`probe`] loads the upload in a throw-away worker under the budget and runs
//!   it on sample inputs (dynamic dimensions 1, zeros): a model that cannot load, needs more
//!   than its budget, crashes or times out is refused before it is stored.

pub mod child;
pub mod wire;

use std::{
    collections::{HashMap, VecDeque},
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    process::{ChildStdin, ChildStdout, Command},
    sync::{oneshot, watch},
};
use tracing::{info, warn};

pub use child::{SPEC_ENV, WorkerSpec, worker_main};
use wire::{FromWorker, MemStats, Ready, RunFailure, ToWorker, frame_len};

use crate::{
    config::EngineConfig,
    engine::{ModelSignature, TensorSpec},
    error::{OracleError, Result},
    tensor::{DataType, Tensor, TensorData},
};

/// The first argument that makes the `imo` binary a model worker.
pub const WORKER_ARG: &str = "__model-worker";

/// Crashes within [`CRASH_WINDOW`] that mark a model unhealthy.
const CRASH_LIMIT: usize = 3;
const CRASH_WINDOW: Duration = Duration::from_secs(60);
/// How long an unhealthy model refuses calls before a new worker is tried.
const COOL_DOWN: Duration = Duration::from_secs(30);
/// How long past its time limit a worker may stay silent before it is killed.
const KILL_GRACE: Duration = Duration::from_secs(5);

/// How model workers are started: the binary and the engine settings they load models with.
#[derive(Debug, Clone)]
pub struct Sandbox {
    binary: PathBuf,
    engine: EngineConfig,
}

impl Sandbox {
    /// Resolves the worker binary: `engine.worker_binary`, else this executable.
    pub fn new(engine: &EngineConfig) -> Result<Self> {
        let binary = match &engine.worker_binary {
            Some(p) => p.clone(),
            None => std::env::current_exe().map_err(|e| {
                OracleError::Engine(format!(
                    "cannot find this executable to start model workers: {e}"
                ))
            })?,
        };
        if !binary.exists() {
            return Err(OracleError::Engine(format!(
                "the model worker binary {} does not exist (engine.worker_binary)",
                binary.display()
            )));
        }
        Ok(Self {
            binary,
            engine: engine.clone(),
        })
    }

    pub fn engine(&self) -> &EngineConfig {
        &self.engine
    }

    fn spec(&self, path: &Path, label: &str, sessions: usize) -> WorkerSpec {
        WorkerSpec {
            engine: self.engine.clone(),
            model_path: path.to_owned(),
            label: label.to_owned(),
            sessions,
            memory_budget_bytes: self.engine.memory_budget_bytes,
        }
    }

    fn run_timeout(&self) -> Option<Duration> {
        (self.engine.run_timeout_ms > 0).then(|| Duration::from_millis(self.engine.run_timeout_ms))
    }
}

/// The result of probing an upload: what ONNX Runtime says it takes and returns, and what the
/// sample run cost.
#[derive(Debug, Clone)]
pub struct Probe {
    pub signature: ModelSignature,
    /// Peak resident memory of the worker after loading and the sample run.
    pub peak_rss_bytes: u64,
    /// Why the sample inputs were refused by the model itself, if they were (zeros are not a
    /// valid input for every model; that alone does not refuse the model).
    pub sample_refused: Option<String>,
}

/// Loads `path` in a throw-away worker under the memory budget and runs it once on sample
/// inputs. Fails with `InvalidModel` (the model cannot load, or crashed) or `ResourceLimit`
/// (over the memory budget or the time limit): such a model is refused at registration.
pub async fn probe(sandbox: &Sandbox, path: &Path, label: &str) -> Result<Probe> {
    let spec = sandbox.spec(path, label, 1);
    let process = Process::spawn(sandbox, &spec, None)
        .await
        .map_err(|e| match e {
            SpawnError::Fatal(m)
                if child::is_allocation_failure(&m) || m.contains("memory budget") =>
            {
                OracleError::ResourceLimit(format!("{label}: {m}"))
            }
            SpawnError::Fatal(m) => OracleError::InvalidModel(m),
            SpawnError::Died(m) => {
                OracleError::InvalidModel(format!("ONNX Runtime crashed loading it ({m})"))
            }
            SpawnError::Service(e) => e,
        })?;
    let inputs = sample_inputs(&process.ready.signature.inputs);
    let outcome = process.run(inputs, vec![], sandbox.run_timeout()).await;
    let sample_refused = match outcome {
        Ok(_) => None,
        Err(CallError::Failed(RunFailure::Rejected, m)) => Some(m),
        Err(CallError::Failed(RunFailure::Memory | RunFailure::Timeout, m)) => {
            return Err(OracleError::ResourceLimit(format!(
                "{label}, run on a sample input (dynamic dimensions 1), {m}"
            )));
        }
        Err(CallError::Failed(RunFailure::Internal, m)) => {
            return Err(OracleError::InvalidModel(format!(
                "running it on a sample input failed: {m}"
            )));
        }
        Err(CallError::Died(m)) => {
            return Err(OracleError::InvalidModel(format!(
                "ONNX Runtime crashed running it on a sample input ({m})"
            )));
        }
        Err(CallError::Unresponsive) => {
            return Err(OracleError::ResourceLimit(format!(
                "{label} did not finish a sample input within the time limit"
            )));
        }
    };
    let stats = process.stats().await.unwrap_or_default();
    Ok(Probe {
        signature: process.ready.signature.clone(),
        peak_rss_bytes: stats.peak_rss_bytes,
        sample_refused,
    })
}

/// Zeros for every input, with each dynamic dimension 1 (BYTES: empty strings).
pub fn sample_inputs(specs: &[TensorSpec]) -> Vec<Tensor> {
    specs
        .iter()
        .filter_map(|s| {
            let dt = DataType::parse(&s.datatype)?;
            let shape: Vec<u64> = s
                .shape
                .iter()
                .map(|&d| if d < 0 { 1 } else { d as u64 })
                .collect();
            let n = crate::tensor::element_count(&shape)?;
            let data = match dt.size() {
                Some(size) => TensorData::Fixed(vec![0; (n as usize).checked_mul(size)?]),
                None => TensorData::Bytes(vec![vec![]; n as usize]),
            };
            Tensor::new(s.name.clone(), dt, shape, data).ok()
        })
        .collect()
}

/// Why a worker could not be started.
enum SpawnError {
    /// The worker said why (the model did not load).
    Fatal(String),
    /// The worker died before it was ready.
    Died(String),
    /// The service could not start it at all.
    Service(OracleError),
}

/// Why one call did not produce outputs.
enum CallError {
    Failed(RunFailure, String),
    /// The worker died with the call in flight.
    Died(String),
    /// The worker did not answer within the time limit plus grace; it was killed.
    Unresponsive,
}

type Pending = Mutex<HashMap<u64, oneshot::Sender<std::result::Result<Vec<Tensor>, CallError>>>>;

/// One running worker process.
struct Process {
    pid: u32,
    ready: Ready,
    stdin: tokio::sync::Mutex<ChildStdin>,
    pending: Arc<Pending>,
    stats: Arc<Mutex<VecDeque<oneshot::Sender<MemStats>>>>,
    next_id: AtomicU64,
    alive: Arc<AtomicBool>,
    /// Why it ended (a description of the exit status), once it has.
    ended: watch::Receiver<Option<String>>,
    /// Dropping this (with the process) or sending kills the worker.
    kill: Mutex<Option<oneshot::Sender<()>>>,
    /// Its end was counted as a crash (once per process, however many calls it failed).
    crash_counted: AtomicBool,
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(k) = self.kill.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = k.send(());
        }
    }
}

fn describe_exit(status: std::io::Result<std::process::ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (_, Some(sig)) => format!(
                "the worker was killed by signal {sig}{}",
                match sig {
                    6 => " (abort)",
                    9 => " (kill)",
                    11 => " (segmentation fault)",
                    _ => "",
                }
            ),
            (Some(code), _) => format!("the worker exited with status {code}"),
            _ => "the worker ended".into(),
        },
        Err(e) => format!("the worker's status is unknown: {e}"),
    }
}

impl Process {
    async fn spawn(
        sandbox: &Sandbox,
        spec: &WorkerSpec,
        model: Option<&str>,
    ) -> std::result::Result<Arc<Self>, SpawnError> {
        let json = serde_json::to_string(spec).expect("spec serializes");
        let mut child = Command::new(&sandbox.binary)
            .arg(WORKER_ARG)
            .env(SPEC_ENV, json)
            // One malloc arena per thread would reserve 64 MiB of address space each and eat
            // the budget; two are plenty for a worker.
            .env("MALLOC_ARENA_MAX", "2")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                SpawnError::Service(OracleError::Engine(format!(
                    "cannot start a model worker ({}): {e}",
                    sandbox.binary.display()
                )))
            })?;
        let pid = child.id().unwrap_or(0);
        let stdin = child.stdin.take().expect("piped");
        let mut stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let label = model.unwrap_or(&spec.label).to_owned();
        {
            let label = label.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    warn!(target: "imo::worker", model = %label, pid, "{line}");
                }
            });
        }
        let (ended_tx, ended) = watch::channel(None);
        let (kill_tx, kill_rx) = oneshot::channel::<()>();
        let alive = Arc::new(AtomicBool::new(true));
        {
            let alive = alive.clone();
            tokio::spawn(async move {
                let status = tokio::select! {
                    s = child.wait() => s,
                    _ = kill_rx => {
                        let _ = child.start_kill();
                        child.wait().await
                    }
                };
                alive.store(false, Ordering::SeqCst);
                let _ = ended_tx.send(Some(describe_exit(status)));
            });
        }
        let start_timeout = Duration::from_secs(sandbox.engine.worker_start_timeout_secs.max(1));
        let first = tokio::time::timeout(start_timeout, read_frame(&mut stdout)).await;
        let ready = match first {
            Ok(Ok(FromWorker::Ready(r))) => r,
            Ok(Ok(FromWorker::Fatal(m))) => return Err(SpawnError::Fatal(m)),
            Ok(Ok(other)) => {
                return Err(SpawnError::Service(OracleError::Engine(format!(
                    "the model worker sent {other:?} before it was ready"
                ))));
            }
            Ok(Err(_)) => {
                let _ = kill_tx.send(());
                let mut ended = ended.clone();
                let why = ended
                    .wait_for(Option::is_some)
                    .await
                    .map(|w| w.clone().unwrap_or_default())
                    .unwrap_or_else(|_| "the worker ended".into());
                return Err(SpawnError::Died(why));
            }
            Err(_) => {
                let _ = kill_tx.send(());
                return Err(SpawnError::Fatal(format!(
                    "loading the model took longer than {} s",
                    start_timeout.as_secs()
                )));
            }
        };
        let process = Arc::new(Self {
            pid,
            ready,
            stdin: tokio::sync::Mutex::new(stdin),
            pending: Default::default(),
            stats: Default::default(),
            next_id: AtomicU64::new(1),
            alive,
            ended,
            kill: Mutex::new(Some(kill_tx)),
            crash_counted: AtomicBool::new(false),
        });
        tokio::spawn(reader(
            stdout,
            process.pending.clone(),
            process.stats.clone(),
            process.ended.clone(),
            label,
        ));
        Ok(process)
    }

    fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }

    fn kill(&self) {
        if let Some(k) = self.kill.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = k.send(());
        }
    }

    async fn send(&self, frame: &[u8]) -> bool {
        let mut w = self.stdin.lock().await;
        w.write_all(frame).await.is_ok() && w.flush().await.is_ok()
    }

    async fn run(
        &self,
        inputs: Vec<Tensor>,
        wanted: Vec<String>,
        timeout: Option<Duration>,
    ) -> std::result::Result<Vec<Tensor>, CallError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, tx);
        // Forget the call if the caller goes away first.
        struct Forget<'a>(&'a Pending, u64);
        impl Drop for Forget<'_> {
            fn drop(&mut self) {
                self.0
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&self.1);
            }
        }
        let _forget = Forget(&self.pending, id);
        let frame = ToWorker::Run {
            id,
            timeout_ms: timeout.map(|t| t.as_millis() as u64).unwrap_or(0),
            wanted,
            inputs,
        }
        .encode();
        if !self.send(&frame).await {
            return Err(CallError::Died(self.why_ended().await));
        }
        let answer = match timeout {
            Some(t) => match tokio::time::timeout(t + KILL_GRACE, rx).await {
                Ok(a) => a,
                Err(_) => {
                    self.kill();
                    return Err(CallError::Unresponsive);
                }
            },
            None => rx.await,
        };
        match answer {
            Ok(result) => result,
            Err(_) => Err(CallError::Died(self.why_ended().await)),
        }
    }

    async fn stats(&self) -> Option<MemStats> {
        let (tx, rx) = oneshot::channel();
        self.stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(tx);
        if !self.send(&ToWorker::Stats.encode()).await {
            return None;
        }
        tokio::time::timeout(Duration::from_secs(5), rx)
            .await
            .ok()?
            .ok()
    }

    async fn why_ended(&self) -> String {
        let mut ended = self.ended.clone();
        match tokio::time::timeout(Duration::from_secs(2), ended.wait_for(Option::is_some)).await {
            Ok(Ok(w)) => w.clone().unwrap_or_default(),
            _ => "the worker stopped answering".into(),
        }
    }
}

async fn read_frame(out: &mut ChildStdout) -> std::io::Result<FromWorker> {
    let mut header = [0u8; 4];
    out.read_exact(&mut header).await?;
    let len = frame_len(header).map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut body = vec![0u8; len];
    out.read_exact(&mut body).await?;
    FromWorker::decode(&body).map_err(|e| std::io::Error::other(e.to_string()))
}

/// Hands each answer to its caller; when the worker's stdout ends, fails every call in flight
/// with the reason the worker ended.
async fn reader(
    mut out: ChildStdout,
    pending: Arc<Pending>,
    stats: Arc<Mutex<VecDeque<oneshot::Sender<MemStats>>>>,
    mut ended: watch::Receiver<Option<String>>,
    label: String,
) {
    loop {
        match read_frame(&mut out).await {
            Ok(FromWorker::Done { id, result }) => {
                let tx = pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
                if let Some(tx) = tx {
                    let _ = tx.send(result.map_err(|(k, m)| CallError::Failed(k, m)));
                }
            }
            Ok(FromWorker::Stats(m)) => {
                if let Some(tx) = stats.lock().unwrap_or_else(|e| e.into_inner()).pop_front() {
                    let _ = tx.send(m);
                }
            }
            Ok(other) => {
                warn!(model = %label, frame = ?other, "unexpected frame from the model worker")
            }
            Err(e) => {
                let why = match tokio::time::timeout(
                    Duration::from_secs(2),
                    ended.wait_for(Option::is_some),
                )
                .await
                {
                    Ok(Ok(w)) => w.clone().unwrap_or_default(),
                    _ => format!("the worker's output ended ({e})"),
                };
                let calls: Vec<_> = pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .drain()
                    .collect();
                if !calls.is_empty() {
                    warn!(model = %label, calls = calls.len(), reason = %why, "model worker ended with calls in flight");
                }
                for (_, tx) in calls {
                    let _ = tx.send(Err(CallError::Died(why.clone())));
                }
                return;
            }
        }
    }
}

/// Recent crashes of a model's workers.
#[derive(Default)]
struct Health {
    crashes: VecDeque<Instant>,
    last_reason: Option<String>,
}

/// A model's worker, started on first use and replaced when it dies or is retired.
pub struct ModelWorker {
    sandbox: Sandbox,
    spec: WorkerSpec,
    model: String,
    current: Mutex<Option<Arc<Process>>>,
    starting: tokio::sync::Mutex<()>,
    health: Mutex<Health>,
    /// What the sessions run on (`cpu`/`cuda`), known once a worker has started.
    execution_provider: Mutex<Option<String>>,
}

impl ModelWorker {
    /// A worker for the model file `path` (registered as `model`), not started yet.
    pub fn new(sandbox: Sandbox, path: &Path, model: &str, sessions: usize) -> Self {
        let spec = sandbox.spec(path, &format!("model `{model}`"), sessions);
        Self {
            sandbox,
            spec,
            model: model.to_owned(),
            current: Mutex::new(None),
            starting: tokio::sync::Mutex::new(()),
            health: Mutex::new(Health::default()),
            execution_provider: Mutex::new(None),
        }
    }

    /// Starts the worker now (loading the model), unless one is running.
    pub async fn start(&self) -> Result<()> {
        self.process().await.map(|_| ())
    }

    /// The execution provider of the running worker (`cpu` until one has started).
    pub fn execution_provider(&self) -> String {
        self.execution_provider
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(|| "cpu".into())
    }

    /// Sessions per worker: calls that may run at once.
    pub fn sessions(&self) -> usize {
        self.spec.sessions
    }

    /// `Some(reason)` while the model is cooling down after repeated crashes.
    pub fn unhealthy(&self) -> Option<String> {
        let h = self.health.lock().unwrap_or_else(|e| e.into_inner());
        let recent = h
            .crashes
            .iter()
            .filter(|t| t.elapsed() < CRASH_WINDOW)
            .count();
        let cooling = h.crashes.back().is_some_and(|t| t.elapsed() < COOL_DOWN);
        (recent >= CRASH_LIMIT && cooling).then(|| {
            format!(
                "model `{}` is unhealthy: its worker ended {recent} times in the last {} s (last: {}); it is retried {} s after the last crash",
                self.model,
                CRASH_WINDOW.as_secs(),
                h.last_reason.as_deref().unwrap_or("unknown"),
                COOL_DOWN.as_secs()
            )
        })
    }

    fn record_crash(&self, reason: &str) {
        let mut h = self.health.lock().unwrap_or_else(|e| e.into_inner());
        h.crashes.push_back(Instant::now());
        while h.crashes.len() > CRASH_LIMIT * 4 {
            h.crashes.pop_front();
        }
        h.last_reason = Some(reason.to_owned());
        metrics::counter!("imo_model_worker_crashes_total", "model" => self.model.clone())
            .increment(1);
    }

    async fn process(&self) -> Result<Arc<Process>> {
        if let Some(p) = self.live() {
            return Ok(p);
        }
        if let Some(why) = self.unhealthy() {
            return Err(OracleError::ModelUnavailable(why));
        }
        let _starting = self.starting.lock().await;
        if let Some(p) = self.live() {
            return Ok(p);
        }
        let started = Instant::now();
        let p = Process::spawn(&self.sandbox, &self.spec, Some(&self.model))
            .await
            .map_err(|e| {
                let why = match e {
                    SpawnError::Fatal(m) => m,
                    SpawnError::Died(m) => m,
                    SpawnError::Service(e) => return e,
                };
                self.record_crash(&why);
                OracleError::ModelUnavailable(format!("model `{}` cannot load: {why}", self.model))
            })?;
        info!(model = %self.model, pid = p.pid, sessions = p.ready.sessions, ep = %p.ready.execution_provider,
            rss_mib = p.ready.memory.rss_bytes >> 20, ms = started.elapsed().as_millis() as u64, "model worker started");
        metrics::counter!("imo_model_worker_starts_total", "model" => self.model.clone())
            .increment(1);
        *self
            .execution_provider
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(p.ready.execution_provider.clone());
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(p.clone());
        Ok(p)
    }

    fn live(&self) -> Option<Arc<Process>> {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|p| p.is_alive())
            .cloned()
    }

    /// Stops sending calls to `p`; it ends once its calls in flight are answered.
    fn retire(&self, p: &Arc<Process>) {
        let mut cur = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if cur.as_ref().is_some_and(|c| Arc::ptr_eq(c, p)) {
            *cur = None;
        }
    }

    /// Runs the model on `inputs`, returning the outputs named in `wanted` (all when empty).
    pub async fn run(&self, inputs: Vec<Tensor>, wanted: Vec<String>) -> Result<Vec<Tensor>> {
        let p = self.process().await?;
        let timeout = self.sandbox.run_timeout();
        match p.run(inputs, wanted, timeout).await {
            Ok(outputs) => Ok(outputs),
            Err(CallError::Failed(RunFailure::Rejected, m)) => {
                Err(OracleError::InferenceRejected(m))
            }
            Err(CallError::Failed(RunFailure::Memory, m)) => {
                // An arena may keep what the failed run took: start afresh.
                self.retire(&p);
                metrics::counter!("imo_model_worker_retired_total", "model" => self.model.clone(), "reason" => "memory").increment(1);
                Err(OracleError::ResourceLimit(format!("the call {m}")))
            }
            Err(CallError::Failed(RunFailure::Timeout, m)) => {
                Err(OracleError::ResourceLimit(format!("the call {m}")))
            }
            Err(CallError::Failed(RunFailure::Internal, m)) => Err(OracleError::Inference(m)),
            Err(CallError::Unresponsive) => {
                self.retire(&p);
                if !p.crash_counted.swap(true, Ordering::SeqCst) {
                    self.record_crash("did not answer within its time limit and was killed");
                }
                Err(OracleError::ResourceLimit(format!(
                    "the call ran past the time limit of {} ms; model `{}`'s worker was restarted",
                    timeout.map(|t| t.as_millis()).unwrap_or(0),
                    self.model
                )))
            }
            Err(CallError::Died(why)) => {
                self.retire(&p);
                if !p.crash_counted.swap(true, Ordering::SeqCst) {
                    self.record_crash(&why);
                }
                Err(OracleError::ModelUnavailable(format!(
                    "model `{}`'s worker ended while running this call ({why}); it was not charged and the model restarts on the next call",
                    self.model
                )))
            }
        }
    }

    /// Memory of the running worker, if one runs.
    pub async fn memory(&self) -> Option<MemStats> {
        let p = self.live()?;
        p.stats().await
    }
}
