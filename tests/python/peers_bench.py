"""`make bench`, peers: imo-oracle side by side with other Open Inference Protocol servers.

  .tools/venv-peers/bin/python tests/python/peers_bench.py [--imo target/release/imo]
      [--summary target/bench/summary.json] [--peers bare,imo,kserve,pytriton] [--trials 3] [--quick]

The same models (silero VAD, MiniLM int8), the same input tensors and the same client for every
server: NVIDIA's `tritonclient` (binary tensor extension over HTTP, and gRPC), one client per
thread, sequential (one thread) and 8 concurrent threads. The peers:

- bare:     onnxruntime in this process, no server (one session; 8 sessions on 8 threads);
- imo:      imo-oracle (`imo serve`, SQLite, 8 sessions per model): authentication, metering,
            a signed receipt and a durable debit per call;
- kserve:   KServe's Python model server, a `kserve.Model` running onnxruntime;
- pytriton: Triton Inference Server through PyTriton, the model bound to Python functions
            running onnxruntime (8 model instances).

Every session has imo-oracle's pinned options (1 intra-op thread, 1 inter-op thread, all graph
optimisations, deterministic compute), one session per concurrent call. The peers do no
metering, signing or persistence. Every server gets free ports, is polled until it is ready
and is always stopped. All servers are up at once and the trials (3) go round the peers in
turn, so that a noisy moment of a shared machine is spread over them; medians are reported. Outputs of every warm-up call and of each thread's last call are
compared with bare onnxruntime's, bit for bit; a mismatch is reported and fails the run.

Prints a table per model (p50/p99 µs, calls/s, ratios to bare onnxruntime) and merges a
"peers" section into the summary JSON. A peer that cannot run is reported there with its
status and reason (and so is every mode it did not run), never skipped silently.
"""

import argparse
import importlib.metadata
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import onnxruntime as ort
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

# The same onnxruntime session options in the bare baseline as in the peers (and imo-oracle).
from peers_serve import session

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / ".tools" / "models"
HERE = Path(__file__).resolve().parent
CONCURRENCY = 8
SESSIONS = CONCURRENCY
WARMUP = 20
# The operator key of the Rust benches (a test key, public) and fixed test addresses.
OPERATOR_KEY = "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6"
PUBLISHER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
CLIENT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
READY_TIMEOUT_S = 180
PEERS = ["bare", "imo", "kserve", "pytriton"]
MODES = ["http_seq", "http_conc8", "grpc_seq", "grpc_conc8"]
TRITON = {np.float32: "FP32", np.int64: "INT64"}


def cases(quick):
    """The inputs of tests/benches/inference.rs: silero (576 samples of a sine), MiniLM (32 tokens)."""
    audio = (np.sin(np.arange(576, dtype=np.float32) * np.float32(0.05)) * np.float32(0.3)).astype(np.float32)
    ids = np.array([[101] + [1000 + (i * 37) % 20000 for i in range(30)] + [102]], dtype=np.int64)
    scale = 4 if quick else 1
    return [
        {
            "name": "silero-vad",
            "file": MODELS / "silero_vad.onnx",
            "calls": 400 // scale,
            "inputs": {
                "input": audio.reshape(1, 576),
                "state": np.zeros((2, 1, 128), dtype=np.float32),
                "sr": np.array(16000, dtype=np.int64),
            },
        },
        {
            "name": "minilm-int8",
            "file": MODELS / "minilm_int8.onnx",
            "calls": 48 // scale,
            "inputs": {
                "input_ids": ids,
                "attention_mask": np.ones((1, 32), dtype=np.int64),
                "token_type_ids": np.zeros((1, 32), dtype=np.int64),
            },
        },
    ]


def version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(sorted_values, p):
    return sorted_values[round((len(sorted_values) - 1) * p)]


def stats(latencies_s, wall_s):
    lat = sorted(latencies_s)
    return {
        "calls": len(lat),
        "p50_us": round(percentile(lat, 0.5) * 1e6, 1),
        "p99_us": round(percentile(lat, 0.99) * 1e6, 1),
        "calls_per_s": round(len(lat) / wall_s, 1),
    }


class Mismatches:
    """Outputs that differ from bare onnxruntime's (thread-safe)."""

    def __init__(self):
        self.items = []
        self.lock = threading.Lock()

    def check(self, where, got, want):
        for name, ref in want.items():
            arr = got.get(name)
            if arr is None:
                problem = "missing"
            elif arr.dtype != ref.dtype or arr.shape != ref.shape:
                problem = f"{arr.dtype}{list(arr.shape)} instead of {ref.dtype}{list(ref.shape)}"
            elif arr.tobytes() != ref.tobytes():
                problem = f"differs (max abs diff {np.max(np.abs(arr.astype(np.float64) - ref)):.3g})"
            else:
                continue
            with self.lock:
                self.items.append(f"{where}: output {name} {problem}")


# --- the one client harness ----------------------------------------------------------------------


class Target:
    """One server's Open Inference Protocol endpoint as tritonclient reaches it."""

    def __init__(self, http_url, grpc_url, key=None, scalars_as_1d=False):
        self.http_url, self.grpc_url, self.key = http_url, grpc_url, key
        # Triton cannot declare a 0-d input: such inputs go as shape [1] (same bytes).
        self.scalars_as_1d = scalars_as_1d

    def caller(self, protocol, model, inputs, outputs):
        """A function making one call with its own tritonclient client; returns the outputs."""
        if self.scalars_as_1d:
            inputs = {k: v.reshape(1) if v.ndim == 0 else v for k, v in inputs.items()}
        if protocol == "http":
            client = httpclient.InferenceServerClient(self.http_url, connection_timeout=60, network_timeout=60)
            headers = {"Authorization": f"Bearer {self.key}"} if self.key else None
            tin = []
            for name, arr in inputs.items():
                t = httpclient.InferInput(name, list(arr.shape), TRITON[arr.dtype.type])
                t.set_data_from_numpy(arr, binary_data=True)
                tin.append(t)
            tout = [httpclient.InferRequestedOutput(n, binary_data=True) for n in outputs]
        else:
            client = grpcclient.InferenceServerClient(self.grpc_url)
            headers = {"authorization": f"Bearer {self.key}"} if self.key else None
            tin = []
            for name, arr in inputs.items():
                t = grpcclient.InferInput(name, list(arr.shape), TRITON[arr.dtype.type])
                t.set_data_from_numpy(arr)
                tin.append(t)
            tout = [grpcclient.InferRequestedOutput(n) for n in outputs]

        def call():
            r = client.infer(model, tin, outputs=tout, headers=headers)
            return {n: r.as_numpy(n) for n in outputs}

        call.close = client.close
        return call



def run_mode(make_call, threads, total, reference, where, mismatches):
    """`threads` callers (one `make_call()` each) share `total` calls after WARMUP warm-up calls
    each; the per-call latencies and the wall time of the measured calls."""
    per_thread = total // threads
    barrier = threading.Barrier(threads + 1)
    results = [None] * threads
    errors = []

    def worker(i):
        try:
            call = make_call()
            try:
                for _ in range(WARMUP if threads == 1 else max(3, WARMUP // threads)):
                    mismatches.check(f"{where} warm-up", call(), reference)
                barrier.wait()
                lat = []
                out = None
                for _ in range(per_thread):
                    t = time.perf_counter()
                    out = call()
                    lat.append(time.perf_counter() - t)
                mismatches.check(f"{where} thread {i} last call", out, reference)
                results[i] = lat
            finally:
                getattr(call, "close", lambda: None)()
        except BaseException as e:  # noqa: BLE001 - reported below, with the traceback
            errors.append(f"{type(e).__name__}: {e}")
            traceback.print_exc()
            barrier.abort()

    ts = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for t in ts:
        t.start()
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        pass
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise RuntimeError(errors[0])
    return stats([x for r in results for x in r], wall)


def bare_caller(path, inputs, outputs):
    sess = session(path)

    def call():
        return dict(zip(outputs, sess.run(outputs, inputs)))

    return call


# --- servers ---------------------------------------------------------------------------------------


class Server:
    """A server process in its own process group (not its own session: with the kernel's
    autogroup scheduling a new session would get a CPU share of its own, apart from the
    client's), its output in a log file; stopped on exit."""

    def __init__(self, name, argv, env=None, workdir=None):
        self.name, self.argv, self.env = name, argv, env
        self.log_path = Path(workdir) / f"{name}.log"
        self.proc = None

    def __enter__(self):
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.argv, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, process_group=0, cwd=ROOT
        )
        return self

    def log_tail(self, lines=15):
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def wait_ready(self, ready, what):
        """Asks `ready()` (True when ready) until the deadline, between asks waiting up to 0.1 s
        for the process to exit; fails when it exits."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                if ready():
                    return
            except Exception:  # noqa: BLE001 - not up yet
                pass
            try:
                self.proc.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                continue
            raise RuntimeError(f"{self.name} exited ({self.proc.returncode}) before {what}:\n{self.log_tail()}")
        raise RuntimeError(f"{self.name}: no {what} within {READY_TIMEOUT_S} s:\n{self.log_tail()}")

    def __exit__(self, *exc):
        if self.proc is not None:
            # The server first (it stops what it started), then whatever is left in its group.
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(30)
                except subprocess.TimeoutExpired:
                    pass
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
        self.log.close()
        return False


def oip_ready(target, models, key=None):
    """Ready when both protocols say the server and every model are ready."""
    h = {"Authorization": f"Bearer {key}"} if key else None
    g = {"authorization": f"Bearer {key}"} if key else None

    def ready():
        hc = httpclient.InferenceServerClient(target.http_url)
        gc = grpcclient.InferenceServerClient(target.grpc_url)
        try:
            return (
                hc.is_server_ready(headers=h)
                and gc.is_server_ready(headers=g)
                and all(hc.is_model_ready(m, headers=h) and gc.is_model_ready(m, headers=g) for m in models)
            )
        finally:
            hc.close()
            gc.close()

    return ready


def imo_server(stack, binary, workdir, models):
    """`imo serve` on SQLite with the models registered and a funded client key; its Target."""
    data = Path(workdir) / "imo"
    data.mkdir()
    http_port, grpc_port = free_port(), free_port()
    env = {
        **os.environ,
        "IMO_DATABASE_URL": f"sqlite://{data / 'bench.db'}?mode=rwc",
        "IMO_STORAGE_MODELS_DIR": str(data / "models"),
        "IMO_SERVER_BIND": f"127.0.0.1:{http_port}",
        "IMO_SERVER_GRPC_BIND": f"127.0.0.1:{grpc_port}",
        "IMO_ENGINE_ORT_LIBRARY": str(ROOT / ".tools/onnxruntime/libonnxruntime.so"),
        "IMO_ENGINE_SESSIONS_PER_MODEL": str(SESSIONS),
        "IMO_METERING_OPERATOR_KEY": OPERATOR_KEY,
        "IMO_AUTH_ADMIN_ADDRESSES": json.dumps([PUBLISHER]),
        "IMO_LOG_FORMAT": "json",
        "IMO_LOG_FILTER": "warn",
    }

    def imo(*args, extra=None):
        out = subprocess.run([str(binary), *args], env={**env, **(extra or {})}, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"imo {' '.join(args)}: {out.stderr.strip()[-2000:]}")
        return out.stdout.strip()

    imo("migrate")
    keys = {
        role: imo("keys", "create", "--address", addr, "--role", role, "--label", "peers bench", "--quiet")
        for role, addr in [("publisher", PUBLISHER), ("client", CLIENT), ("admin", PUBLISHER)]
    }
    server = stack.enter(Server("imo", [str(binary), "serve"], env=env, workdir=workdir))
    url = f"http://127.0.0.1:{http_port}"
    server.wait_ready(lambda: urllib.request.urlopen(f"{url}/readyz", timeout=5).status == 200, "/readyz")
    for case in models:
        imo(
            "models", "register", str(case["file"]), "--name", case["name"], "--price-wei", "1",
            extra={"IMO_URL": url, "IMO_API_KEY": keys["publisher"]},
        )
    req = urllib.request.Request(
        f"{url}/v1/admin/credits",
        data=json.dumps({"address": CLIENT, "amount_wei": str(2**120)}).encode(),
        headers={"Authorization": f"Bearer {keys['admin']}", "content-type": "application/json"},
    )
    urllib.request.urlopen(req, timeout=30).read()
    target = Target(f"127.0.0.1:{http_port}", f"127.0.0.1:{grpc_port}", key=keys["client"])
    server.wait_ready(oip_ready(target, [c["name"] for c in models], keys["client"]), "ready models")
    return target


def python_peer(stack, kind, workdir, models):
    http_port, grpc_port = free_port(), free_port()
    argv = [sys.executable, str(HERE / "peers_serve.py"), kind, "--sessions", str(SESSIONS)]
    argv += ["--http-port", str(http_port), "--grpc-port", str(grpc_port)]
    if kind == "pytriton":
        argv += ["--metrics-port", str(free_port())]
    for case in models:
        argv += ["--model", f"{case['name']}={case['file']}"]
    # The peers' onnxruntime threads as ours: no OpenMP/BLAS pools on top of the session options.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    server = stack.enter(Server(kind, argv, env=env, workdir=workdir))
    target = Target(f"127.0.0.1:{http_port}", f"127.0.0.1:{grpc_port}", scalars_as_1d=kind == "pytriton")
    server.wait_ready(oip_ready(target, [c["name"] for c in models]), "ready models")
    return target


class Stack:
    """Servers entered in order, exited in reverse, whatever happens."""

    def __init__(self):
        self.entered = []

    def enter(self, cm):
        v = cm.__enter__()
        self.entered.append(cm)
        return v

    def close(self):
        while self.entered:
            self.entered.pop().__exit__(None, None, None)


# --- the run ---------------------------------------------------------------------------------------


def modes_of(peer):
    return ["seq", "conc8"] if peer == "bare" else MODES


def measure(peer, target, case, mode, reference, outputs, mismatches):
    """One trial of one mode: `case["calls"]` calls from 1 or CONCURRENCY threads."""
    threads = CONCURRENCY if mode.endswith("conc8") else 1
    if peer == "bare":

        def make():
            return bare_caller(case["file"], case["inputs"], outputs)

    else:
        protocol = mode.split("_")[0]

        def make():
            return target.caller(protocol, case["name"], case["inputs"], outputs)

    where = f"{peer}/{case['name']}/{mode}"
    return run_mode(make, threads, case["calls"], reference, where, mismatches)


def median_of(trials):
    """Per statistic, the median over trials."""
    out = {"calls": sum(t["calls"] for t in trials), "trials": len(trials)}
    for k in ("p50_us", "p99_us", "calls_per_s"):
        out[k] = sorted(t[k] for t in trials)[len(trials) // 2]
    return out


def run(args):
    models = [c for c in cases(args.quick) if c["name"] in args.models]
    for c in models:
        if not c["file"].exists():
            sys.exit(f"{c['file']} is missing: run `scripts/install-tools.sh models` (make bench does)")
    mismatches = Mismatches()
    refs = {}
    for c in models:
        s = session(c["file"])
        outs = [o.name for o in s.get_outputs()]
        refs[c["name"]] = (outs, dict(zip(outs, s.run(outs, c["inputs"]))))

    binary = Path(args.imo)
    imo_build = "release" if binary.parent.name == "release" else ("debug" if binary.parent.name == "debug" else "?")
    peers = {
        "bare": {"what": f"onnxruntime {ort.__version__} in the client's process, no server", "version": ort.__version__},
        "imo": {
            "what": f"imo-oracle ({imo_build} build {binary}), SQLite, default HTTP workers, metering + signed receipts",
            "build": imo_build,
        },
        "kserve": {"what": "KServe ModelServer, a kserve.Model over onnxruntime", "version": version("kserve")},
        "pytriton": {
            "what": "Triton Inference Server via PyTriton, Python functions over onnxruntime",
            "note": "Triton's model configuration has no 0-d inputs: silero's scalar `sr` is sent as shape [1]",
            "version": version("nvidia-pytriton"),
        },
    }
    for p in peers.values():
        p["models"] = {}
    for name in PEERS:
        if name not in args.peers:
            peers[name].update(status="not run", reason="left out with --peers")

    # Every server is started first (and stopped at the end, whatever happens); the trials then
    # go round the peers in turn, so that a noisy moment of a shared machine is spread over them.
    stack = Stack()
    targets = {}
    if "bare" in args.peers:
        targets["bare"] = None
    workdirs = []
    try:
        for name in [p for p in PEERS if p != "bare" and p in args.peers]:
            # A third-party peer that fails to start is started once more: PyTriton's model
            # handshake is sometimes refused while its 2 x 8 instances start on 2 busy cores.
            attempts = 1 if name == "imo" else 2
            for attempt in range(1, attempts + 1):
                t0 = time.monotonic()
                entered = len(stack.entered)
                workdir = tempfile.mkdtemp(prefix=f"imo-peers-{name}-")
                workdirs.append((name, workdir))
                try:
                    if name == "imo":
                        if not binary.exists():
                            raise RuntimeError(f"{binary} is missing (make bench builds target/release/imo)")
                        targets[name] = imo_server(stack, binary, workdir, models)
                    else:
                        targets[name] = python_peer(stack, name, workdir, models)
                    print(f"[peers] {name} ready in {time.monotonic() - t0:.1f} s", file=sys.stderr)
                    break
                except Exception as e:  # noqa: BLE001 - the peer is reported as failed, with why
                    reason = f"{type(e).__name__}: {e}"
                    while len(stack.entered) > entered:  # this attempt's server, stopped
                        stack.entered.pop().__exit__(None, None, None)
                    if attempt < attempts:
                        first = reason.strip().splitlines()[0]
                        print(f"[peers] {name} did not start ({first}); starting it once more", file=sys.stderr)
                        continue
                    print(f"[peers] {name} could not run: {reason}", file=sys.stderr)
                    peers[name].update(status="failed", reason=reason)

        for c in models:
            outs, ref = refs[c["name"]]
            trials = {(n, m): [] for n in targets for m in modes_of(n)}
            failures = {}
            for trial in range(args.trials):
                order = list(targets)[trial % len(targets):] + list(targets)[: trial % len(targets)]
                for name in order:
                    for mode in modes_of(name):
                        if (name, mode) in failures:
                            continue
                        try:
                            trials[(name, mode)].append(measure(name, targets[name], c, mode, ref, outs, mismatches))
                        except Exception as e:  # noqa: BLE001 - the mode is reported as failed
                            failures[(name, mode)] = f"{type(e).__name__}: {e}"
            for (name, mode), results in trials.items():
                peers[name]["models"].setdefault(c["name"], {})[mode] = (
                    {"status": "failed", "reason": failures[(name, mode)]}
                    if (name, mode) in failures
                    else median_of(results)
                )
    finally:
        stack.close()
        for name, workdir in workdirs:
            if args.keep_logs:
                print(f"[peers] {name} logs in {workdir}", file=sys.stderr)
            else:
                shutil.rmtree(workdir, ignore_errors=True)

    for name in targets:
        failed = [
            f"{m}/{mode}: {r['reason']}"
            for m, modes in peers[name]["models"].items()
            for mode, r in modes.items()
            if r.get("status") == "failed"
        ]
        peers[name]["status"] = "ok" if not failed else "partial"
        if failed:
            peers[name]["reason"] = "; ".join(failed)

    # Ratios to bare onnxruntime with as many callers (1 or 8).
    for name, p in peers.items():
        for m, modes in p["models"].items():
            bare = peers["bare"]["models"].get(m, {})
            for mode, r in modes.items():
                ref = bare.get("conc8" if mode.endswith("conc8") else "seq")
                if ref and "calls_per_s" in r:
                    r["calls_per_s_vs_bare"] = round(r["calls_per_s"] / ref["calls_per_s"], 3)
                    r["p50_vs_bare"] = round(r["p50_us"] / ref["p50_us"], 2)

    section = {
        "method": (
            f"tritonclient {version('tritonclient')} in one Python process for every peer, one client per thread: "
            f"binary HTTP and gRPC, 1 thread (seq) and {CONCURRENCY} threads (conc8) sharing the calls, "
            f"{WARMUP} warm-up calls; every session 1 intra-op + 1 inter-op thread, ORT_ENABLE_ALL, deterministic, "
            f"{SESSIONS} sessions per model on the servers; bare: onnxruntime in the client's process "
            f"(1 session; {CONCURRENCY} sessions on {CONCURRENCY} threads); all servers up at once, "
            f"{args.trials} trials going round the peers, medians of p50, p99 and calls/s over the trials"
        ),
        "machine": {"cpus": os.cpu_count()},
        "calls_per_trial": {c["name"]: c["calls"] for c in models},
        "trials": args.trials,
        "peers": peers,
        "mismatches": mismatches.items,
    }
    print_table(section, models)
    return section


def one_line(reason, limit=240):
    """A reason for a table cell: its first and last lines."""
    lines = [x.strip() for x in (reason or "").splitlines() if x.strip()]
    text = lines[0] if len(lines) < 2 else f"{lines[0]} … {lines[-1]}"
    return text.replace("|", "/")[:limit]


def print_table(section, models):
    peers = section["peers"]
    print(f"\n## peers: the same models, inputs and client (tritonclient) — {section['method']}\n")
    for c in models:
        m = c["name"]
        print(f"### {m} ({section['trials']} trials of {c['calls']} calls per mode, medians)\n")
        print("| peer | mode | p50 µs | p99 µs | calls/s | calls/s vs bare | p50 vs bare |")
        print("|---|---|---|---|---|---|---|")
        for name in PEERS:
            p = peers[name]
            modes = p["models"].get(m)
            if not modes:
                print(f"| {name} | — | {p.get('status', '?')}: {one_line(p.get('reason'))} | | | | |")
                continue
            for mode, r in modes.items():
                if "p50_us" not in r:
                    print(f"| {name} | {mode} | {r.get('status')}: {one_line(r.get('reason'))} | | | | |")
                    continue
                print(
                    f"| {name} | {mode} | {r['p50_us']:.0f} | {r['p99_us']:.0f} | {r['calls_per_s']:.0f} | "
                    f"{r.get('calls_per_s_vs_bare', 1.0):.3f} | {r.get('p50_vs_bare', 1.0):.2f} |"
                )
        print()
    for name in PEERS:
        p = peers[name]
        if p.get("status") != "ok":
            print(f"{name}: {p.get('status')}: {p.get('reason')}")
    if section["mismatches"]:
        print(f"\nOUTPUT MISMATCHES vs bare onnxruntime ({len(section['mismatches'])}):")
        for x in section["mismatches"][:20]:
            print(f"  {x}")
    else:
        print("outputs: every checked response equals bare onnxruntime's bit for bit")


def merge_summary(path, section):
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
        if not isinstance(doc, dict):
            doc = {}
    except (OSError, ValueError):
        doc = {}
    doc["peers"] = section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"(results in {path})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    ap.add_argument("--imo", default=str(target / "release/imo"), help="the imo binary (default: the release build)")
    ap.add_argument(
        "--summary", default=str(target / "bench/summary.json"), help="merge a `peers` section into this JSON"
    )
    ap.add_argument("--peers", default=",".join(PEERS), help=f"comma-separated subset of {','.join(PEERS)}")
    ap.add_argument("--models", default="silero-vad,minilm-int8", help="comma-separated subset of silero-vad,minilm-int8")
    ap.add_argument("--trials", type=int, default=3, help="trials per peer and mode (medians are reported)")
    ap.add_argument("--quick", action="store_true", help="a quarter of the calls (for trying the harness)")
    ap.add_argument("--keep-logs", action="store_true", help="keep the servers' logs (printed where)")
    args = ap.parse_args()
    args.peers = [p for p in args.peers.split(",") if p]
    args.models = [m for m in args.models.split(",") if m]
    section = run(args)
    merge_summary(args.summary, section)
    failed = [n for n, p in section["peers"].items() if p.get("status") == "failed" and n in ("bare", "imo")]
    if section["mismatches"] or failed:
        print(f"error: {'mismatching outputs' if section['mismatches'] else ''} {' '.join(failed)} failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
