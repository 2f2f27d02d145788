//! The model worker process: loads one model in ONNX Runtime under an address-space limit and
//! runs calls for the service, one per session at a time, until its stdin closes.
//!
//! Started by the service as `imo __model-worker` with the [`WorkerSpec`] in the environment
//! (`IMO_WORKER_SPEC`, JSON). Frames ([`super::wire`]) come in on stdin and go out on stdout;
//! logs go to stderr (the service forwards them). Nothing else may write to stdout.
//!
//! Each session has a thread, and the threads take turns reading stdin (leader/followers): the
//! thread that reads a call runs it itself, and the next free thread reads meanwhile. A call
//! reaches a session without a hand-off between threads, which on a small machine is a
//! wake-up on the critical path of every call. Calls beyond the free sessions wait in the pipe.

use std::{
    fs::File,
    io::{BufReader, Read, Write},
    os::fd::AsFd,
    path::PathBuf,
    sync::{Arc, Condvar, Mutex},
    thread,
    time::{Duration, Instant},
};

use ort::session::{RunOptions, Session};
use serde::{Deserialize, Serialize};

use super::wire::{FromWorker, MemStats, Ready, RunFailure, ToWorker, frame_len};
use crate::{config::EngineConfig, engine::Engine, serving, tensor::Tensor};

/// The environment variable that carries the [`WorkerSpec`].
pub const SPEC_ENV: &str = "IMO_WORKER_SPEC";

/// Everything a worker needs to know, from the service.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerSpec {
    pub engine: EngineConfig,
    pub model_path: PathBuf,
    /// How the model is named in messages (its registered name, or `the upload`), never a path.
    pub label: String,
    pub sessions: usize,
    /// Address space the model may use on top of the loaded runtime (0: unlimited).
    pub memory_budget_bytes: u64,
}

/// The worker's `main`: returns the process exit code.
pub fn worker_main() -> std::process::ExitCode {
    let spec: WorkerSpec = match std::env::var(SPEC_ENV)
        .map_err(|e| e.to_string())
        .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("model worker: no valid {SPEC_ENV}: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let out = match stdout_file() {
        Ok(f) => Arc::new(Mutex::new(f)),
        Err(e) => {
            eprintln!("model worker: stdout: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match serve(&spec, out.clone()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => fatal(&out, &spec, &message),
    }
}

/// Tells the service why this worker cannot go on, and exits.
fn fatal(out: &Mutex<File>, spec: &WorkerSpec, message: &str) -> ! {
    let frame = FromWorker::Fatal(sanitize(message, spec)).encode();
    if let Ok(mut o) = out.lock() {
        let _ = o.write_all(&frame).and_then(|()| o.flush());
    }
    std::process::exit(3)
}

/// Stdout as a plain file: `std::io::Stdout` is line-buffered, which would split frames.
fn stdout_file() -> std::io::Result<File> {
    Ok(File::from(std::io::stdout().as_fd().try_clone_to_owned()?))
}

/// Stdin as a plain file, for the session threads' shared reader (`std::io::StdinLock` cannot
/// move between threads).
fn stdin_file() -> std::io::Result<File> {
    Ok(File::from(std::io::stdin().as_fd().try_clone_to_owned()?))
}

/// `VmRSS`, `VmHWM`, `VmSize` of this process, in bytes.
pub fn mem_stats(limit_bytes: u64) -> MemStats {
    let mut m = MemStats {
        limit_bytes,
        ..Default::default()
    };
    if let Ok(s) = std::fs::read_to_string("/proc/self/status") {
        for line in s.lines() {
            let kb = |l: &str| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
                    .map(|v| v * 1024)
                    .unwrap_or(0)
            };
            if line.starts_with("VmRSS:") {
                m.rss_bytes = kb(line);
            } else if line.starts_with("VmHWM:") {
                m.peak_rss_bytes = kb(line);
            } else if line.starts_with("VmSize:") {
                m.vm_bytes = kb(line);
            }
        }
    }
    m
}

/// Limits this process's address space to what it uses now plus `budget` (Linux: RLIMIT_AS).
/// Returns the limit set. An allocation beyond it fails (ONNX Runtime turns that into a run
/// error) instead of growing the process until the kernel's OOM killer picks a victim.
fn limit_address_space(budget: u64) -> Result<u64, String> {
    if budget == 0 {
        return Ok(0);
    }
    let now = mem_stats(0).vm_bytes;
    let limit = now.saturating_add(budget);
    rlimit::setrlimit(rlimit::Resource::AS, limit, limit)
        .map_err(|e| format!("cannot limit the address space: {e}"))?;
    Ok(limit)
}

struct Job {
    id: u64,
    timeout: Option<Duration>,
    wanted: Vec<String>,
    inputs: Vec<Tensor>,
}

/// One session's watchdog slot: the deadline of its run in progress.
struct Slot {
    deadline: Mutex<Option<Instant>>,
    options: Arc<RunOptions>,
    terminated: std::sync::atomic::AtomicBool,
}

struct Shared {
    /// The service's frames; the session thread holding it is the one reading.
    input: Mutex<BufReader<File>>,
    /// The address-space limit set at start (for memory statistics).
    limit: u64,
    slots: Vec<Slot>,
    watchdog: Condvar,
    /// When the watchdog wakes next (it holds this lock except while it waits): a run whose
    /// deadline is later needs no wake-up, so the watchdog wakes about once per time limit, not
    /// once per call.
    watch_lock: Mutex<Instant>,
}

fn serve(spec: &WorkerSpec, out: Arc<Mutex<File>>) -> Result<(), String> {
    let engine = Engine::init(&spec.engine).map_err(|e| e.to_string())?;
    // The limit counts the model's weights, its sessions and every run, not the runtime itself.
    let limit = limit_address_space(spec.memory_budget_bytes)?;
    let mut sessions = Vec::with_capacity(spec.sessions.max(1));
    let mut ep = "cpu";
    for _ in 0..spec.sessions.max(1) {
        let (s, used) = engine.session(&spec.model_path).map_err(|e| {
            if is_allocation_failure(&e) {
                format!(
                    "loading the model needs more than its memory budget of {} MiB",
                    spec.memory_budget_bytes >> 20
                )
            } else {
                format!("ONNX Runtime cannot load it: {e}")
            }
        })?;
        ep = used;
        sessions.push(s);
    }
    let signature = engine.signature(&sessions[0]).map_err(|e| e.to_string())?;
    let ready = FromWorker::Ready(Ready {
        signature,
        execution_provider: ep.to_owned(),
        sessions: sessions.len() as u32,
        memory: mem_stats(limit),
    });
    write_frame(&out, &ready.encode())?;

    let slots = (0..sessions.len())
        .map(|_| {
            Ok(Slot {
                deadline: Mutex::new(None),
                options: Arc::new(RunOptions::new().map_err(|e| e.to_string())?),
                terminated: Default::default(),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let input = stdin_file().map_err(|e| format!("stdin: {e}"))?;
    let shared = Arc::new(Shared {
        input: Mutex::new(BufReader::with_capacity(256 * 1024, input)),
        limit,
        slots,
        watchdog: Condvar::new(),
        watch_lock: Mutex::new(Instant::now()),
    });
    let mut threads = vec![];
    for (i, session) in sessions.into_iter().enumerate() {
        let (shared, out, spec) = (shared.clone(), out.clone(), spec.clone());
        threads.push(
            thread::Builder::new()
                .name(format!("session-{i}"))
                .spawn(move || session_loop(i, session, &shared, &out, &spec))
                .map_err(|e| e.to_string())?,
        );
    }
    {
        let shared = shared.clone();
        thread::Builder::new()
            .name("watchdog".into())
            .spawn(move || watchdog(&shared))
            .map_err(|e| e.to_string())?;
    }

    // The threads end when the service closes stdin, each after its call in flight.
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

/// Reads frames until the next call (answering statistics on the way); `None` when the service
/// closed stdin.
fn next_job(shared: &Shared, out: &Mutex<File>) -> Result<Option<Job>, String> {
    let mut input = shared.input.lock().map_err(|_| "stdin lock poisoned")?;
    loop {
        let mut header = [0u8; 4];
        match input.read_exact(&mut header) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(format!("reading from the service: {e}")),
        }
        let len = frame_len(header).map_err(|e| e.to_string())?;
        let mut body = vec![0u8; len];
        input
            .read_exact(&mut body)
            .map_err(|e| format!("reading from the service: {e}"))?;
        match ToWorker::decode(&body).map_err(|e| e.to_string())? {
            ToWorker::Run {
                id,
                timeout_ms,
                wanted,
                inputs,
            } => {
                return Ok(Some(Job {
                    id,
                    timeout: (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms)),
                    wanted,
                    inputs,
                }));
            }
            ToWorker::Stats => {
                write_frame(out, &FromWorker::Stats(mem_stats(shared.limit)).encode())?;
            }
        }
    }
}

fn write_frame(out: &Mutex<File>, frame: &[u8]) -> Result<(), String> {
    let mut o = out.lock().map_err(|_| "stdout lock poisoned".to_owned())?;
    o.write_all(frame)
        .and_then(|()| o.flush())
        .map_err(|e| format!("writing to the service: {e}"))
}

fn session_loop(
    i: usize,
    mut session: Session,
    shared: &Shared,
    out: &Mutex<File>,
    spec: &WorkerSpec,
) {
    use std::sync::atomic::Ordering;
    let slot = &shared.slots[i];
    loop {
        let job = match next_job(shared, out) {
            Ok(Some(job)) => job,
            Ok(None) => return,
            // The stream cannot be read on: no thread could make sense of what follows.
            Err(message) => fatal(out, spec, &message),
        };
        if let Some(t) = job.timeout {
            let deadline = Instant::now() + t;
            *slot.deadline.lock().expect("slot") = Some(deadline);
            let wakes = shared.watch_lock.lock().expect("watch lock");
            if *wakes > deadline {
                shared.watchdog.notify_one();
            }
        }
        let result =
            serving::run_session_with(&mut session, job.inputs, &job.wanted, &slot.options);
        *slot.deadline.lock().expect("slot") = None;
        let result = match result {
            Ok(outputs) => Ok(outputs),
            Err(e) => {
                let timed_out = slot.terminated.swap(false, Ordering::SeqCst);
                if timed_out {
                    let _ = slot.options.unterminate();
                }
                Err(classify(e, timed_out, job.timeout, spec))
            }
        };
        let frame = FromWorker::Done { id: job.id, result }.encode();
        if write_frame(out, &frame).is_err() {
            // The service is gone: nothing left to do.
            std::process::exit(0);
        }
    }
}

fn classify(
    e: serving::RunError,
    timed_out: bool,
    timeout: Option<Duration>,
    spec: &WorkerSpec,
) -> (RunFailure, String) {
    let text = sanitize(&e.message, spec);
    if timed_out {
        return (
            RunFailure::Timeout,
            format!(
                "ran longer than the time limit of {} ms and was stopped",
                timeout.map(|t| t.as_millis()).unwrap_or(0)
            ),
        );
    }
    if is_allocation_failure(&e.message) {
        return (
            RunFailure::Memory,
            format!(
                "needs more memory than the model's memory budget of {} MiB ({text})",
                spec.memory_budget_bytes >> 20
            ),
        );
    }
    match e.kind {
        serving::RunErrorKind::Input | serving::RunErrorKind::Runtime => {
            (RunFailure::Rejected, text)
        }
        serving::RunErrorKind::Output => (RunFailure::Internal, text),
    }
}

/// Whether an ONNX Runtime message reports a failed allocation.
pub fn is_allocation_failure(message: &str) -> bool {
    message.contains("Failed to allocate memory")
        || message.contains("bad_alloc")
        || message.contains("bad allocation")
}

fn watchdog(shared: &Shared) {
    use std::sync::atomic::Ordering;
    let mut guard = shared.watch_lock.lock().expect("watch lock");
    loop {
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        for slot in &shared.slots {
            let deadline = *slot.deadline.lock().expect("slot");
            match deadline {
                Some(d) if d <= now => {
                    *slot.deadline.lock().expect("slot") = None;
                    slot.terminated.store(true, Ordering::SeqCst);
                    let _ = slot.options.terminate();
                }
                Some(d) => next = Some(next.map_or(d, |n| n.min(d))),
                None => {}
            }
        }
        let wait = next
            .map(|n| n.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(3600))
            .max(Duration::from_millis(1));
        *guard = Instant::now() + wait;
        guard = shared
            .watchdog
            .wait_timeout(guard, wait)
            .expect("watch lock")
            .0;
    }
}

/// Removes what an error must not show: the model's file path (replaced by its label) and
/// ONNX Runtime's source locations and C++ signatures (`/onnxruntime_src/…/x.cc:360 void*
/// onnxruntime::Foo::Bar(size_t, bool) `), keeping the message itself.
pub fn sanitize(message: &str, spec: &WorkerSpec) -> String {
    let path = spec.model_path.display().to_string();
    let text = if path.is_empty() {
        message.to_owned()
    } else {
        message.replace(&path, &spec.label)
    };
    strip_source_locations(&text)
}

/// Drops every `path/file.ext:LINE` token (a word containing `/` or `\` that ends in `:digits`
/// after a source-file extension) and the C++ function signature that ONNX Runtime prints after it.
pub fn strip_source_locations(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = find_location(rest) {
        let (before, loc) = rest.split_at(at.start);
        out.push_str(before);
        rest = &loc[at.len..];
        // A signature follows when the next word is not the message: ORT prints
        // `<loc> <return type> <qualified name>(<args>)[ const] <message>`.
        rest = skip_signature(rest);
    }
    out.push_str(rest);
    // Collapse the double spaces removals leave.
    let mut cleaned = String::with_capacity(out.len());
    let mut prev_space = false;
    for c in out.chars() {
        if c == ' ' && prev_space {
            continue;
        }
        prev_space = c == ' ';
        cleaned.push(c);
    }
    cleaned.trim().to_owned()
}

struct Loc {
    start: usize,
    len: usize,
}

fn find_location(text: &str) -> Option<Loc> {
    const EXTS: [&str; 6] = [".cc:", ".cpp:", ".h:", ".hpp:", ".c:", ".cu:"];
    let mut search = 0;
    while search < text.len() {
        let (rel, ext) = EXTS
            .iter()
            .filter_map(|e| text[search..].find(e).map(|i| (i, *e)))
            .min_by_key(|(i, _)| *i)?;
        let colon = search + rel + ext.len() - 1;
        let digits = text[colon + 1..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        let word_start = text[..colon]
            .rfind(|c: char| c.is_whitespace())
            .map(|i| i + 1)
            .unwrap_or(0);
        let word = &text[word_start..colon];
        if digits > 0
            && let Some(slash) = word.find(['/', '\\'])
        {
            // `failed:/src/x.cc:12`: the path starts after the `:` that ends the prose.
            let start = match word[..slash].rfind(':') {
                Some(c) => word_start + c + 1,
                None => word_start,
            };
            return Some(Loc {
                start,
                len: colon + 1 + digits - start,
            });
        }
        search = colon + 1;
    }
    None
}

fn skip_signature(rest: &str) -> &str {
    let trimmed = rest.trim_start();
    // The signature is the text up to the first `(` whose matching `)` closes it, if that
    // `(` comes before any sentence-like text (a signature has no spaces outside parentheses
    // except between the return type and the name, and after `const`).
    let Some(open) = trimmed.find('(') else {
        return rest;
    };
    let head = &trimmed[..open];
    let looks_like_signature = head.contains("::")
        && head.split_whitespace().count() <= 3
        && !head.contains(['.', ',', ';', '\'']);
    if !looks_like_signature {
        return rest;
    }
    let mut depth = 0usize;
    for (i, c) in trimmed[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    let mut after = &trimmed[open + i + 1..];
                    if let Some(a) = after.strip_prefix(" const") {
                        after = a;
                    }
                    return after;
                }
            }
            _ => {}
        }
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_locations_and_signatures_are_removed() {
        let msg = "Non-zero status code returned while running ConstantOfShape node. Name:'' Status Message: /onnxruntime_src/onnxruntime/core/framework/bfc_arena.cc:360 void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool, onnxruntime::Stream*) Failed to allocate memory for requested buffer of size 4294967296";
        let s = strip_source_locations(msg);
        assert_eq!(
            s,
            "Non-zero status code returned while running ConstantOfShape node. Name:'' Status Message: Failed to allocate memory for requested buffer of size 4294967296"
        );
        let load = "Load model from /tmp/x/models/tmp/abc.onnx failed:/onnxruntime_src/onnxruntime/core/graph/model.cc:256 onnxruntime::Model::Model(onnx::ModelProto&&, const onnxruntime::PathString&, const onnxruntime::IOnnxRuntimeOpSchemaRegistryList*, const onnxruntime::logging::Logger&, const onnxruntime::ModelOptions&) Unsupported model IR version: 11, max supported IR version: 10";
        let spec = WorkerSpec {
            engine: EngineConfig::default(),
            model_path: "/tmp/x/models/tmp/abc.onnx".into(),
            label: "the upload".into(),
            sessions: 1,
            memory_budget_bytes: 0,
        };
        let s = sanitize(load, &spec);
        assert_eq!(
            s,
            "Load model from the upload failed: Unsupported model IR version: 11, max supported IR version: 10"
        );
        assert!(!s.contains('/'), "{s}");
        // Plain messages are untouched.
        let plain = "Got invalid dimensions for input: x for the following indices index: 0 Got: 2 Expected: 1";
        assert_eq!(strip_source_locations(plain), plain);
        // A location without a signature after it.
        assert_eq!(
            strip_source_locations("/src/a/b.cc:12 Shape mismatch (2 vs 3)."),
            "Shape mismatch (2 vs 3)."
        );
    }
}
