"""The peer servers of `make bench` (started by tests/python/peers_bench.py, one process each).

  peers_serve.py kserve   --model NAME=PATH [--model ...] --sessions N --http-port P --grpc-port Q
  peers_serve.py pytriton --model NAME=PATH [--model ...] --sessions N --http-port P --grpc-port Q --metrics-port R

Both serve ONNX models over the Open Inference Protocol (v2 REST with the binary tensor
extension, and gRPC) and run it on onnxruntime with the options imo-oracle pins (one intra-op
and one inter-op thread per session, all graph optimisations, deterministic compute), one
session per concurrent request:

- kserve: a `kserve.Model` whose async `predict` runs the session on a thread pool of N threads
  (a synchronous `predict` would run on the event loop, one call at a time); N sessions in a
  pool, each used by one call at a time.
- pytriton: Triton Inference Server (the binary in the nvidia-pytriton wheel) with the model
  bound to N Python callables (N model instances), each owning one session.

No metering, signing or persistence. Runs in .tools/venv-peers. Stops on SIGTERM or SIGINT.
"""

import argparse
import asyncio
import os
import queue
import signal
import sys
import sysconfig
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnxruntime as ort

ORT_TO_NUMPY = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}
NUMPY_TO_TRITON = {
    np.float32: "FP32",
    np.float64: "FP64",
    np.int64: "INT64",
    np.int32: "INT32",
    np.int8: "INT8",
    np.uint8: "UINT8",
    np.bool_: "BOOL",
}


def session(path):
    """An onnxruntime session with imo-oracle's pinned options (oracle/src/engine.rs)."""
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.use_deterministic_compute = True
    return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])


def stop_on_sigterm():
    """SIGTERM raises KeyboardInterrupt, so that `with`/`finally` blocks shut the server down."""

    def handler(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def serve_kserve(models, sessions, http_port, grpc_port):
    import kserve
    from kserve import InferOutput, InferRequest, InferResponse

    class OrtModel(kserve.Model):
        def __init__(self, name, path):
            super().__init__(name)
            self.path = path
            self.pool = queue.SimpleQueue()
            self.outputs = []
            self.executor = ThreadPoolExecutor(max_workers=sessions, thread_name_prefix="ort")

        def load(self):
            for _ in range(sessions):
                self.pool.put(session(self.path))
            probe = self.pool.get()
            self.outputs = [o.name for o in probe.get_outputs()]
            self.pool.put(probe)
            self.ready = True
            return self.ready

        def run(self, feeds):
            sess = self.pool.get()
            try:
                return sess.run(self.outputs, feeds)
            finally:
                self.pool.put(sess)

        async def predict(self, payload: InferRequest, headers=None, response_headers=None):
            feeds = {i.name: i.as_numpy() for i in payload.inputs}
            results = await asyncio.get_running_loop().run_in_executor(self.executor, self.run, feeds)
            outputs = []
            for out_name, arr in zip(self.outputs, results):
                out = InferOutput(out_name, list(arr.shape), NUMPY_TO_TRITON[arr.dtype.type])
                out.set_data_from_numpy(arr, binary_data=True)
                outputs.append(out)
            return InferResponse(
                response_id=payload.id,
                model_name=self.name,
                infer_outputs=outputs,
                requested_outputs=payload.request_outputs,
                use_binary_outputs=payload.use_binary_outputs,
            )

    loaded = []
    for name, path in models:
        model = OrtModel(name, path)
        model.load()
        loaded.append(model)
    # One uvicorn worker (process): the sessions are this process's; gRPC on its own port.
    kserve.ModelServer(
        http_port=http_port,
        grpc_port=grpc_port,
        workers=1,
        max_threads=sessions,
        enable_grpc=True,
        enable_latency_logging=False,
    ).start(loaded)


def serve_pytriton(models, sessions, http_port, grpc_port, metrics_port):
    # Triton's Python backend stub links libpython3.11.so.1.0; without this it may load the
    # system's (another 3.11 patch release) under this interpreter's standard library, and
    # multiprocessing then fails in the stub (`_thread.RLock` has no `_recursion_count`).
    if sysconfig.get_config_var("Py_ENABLE_SHARED"):
        libdir = sysconfig.get_config_var("LIBDIR")
        os.environ["LD_LIBRARY_PATH"] = os.pathsep.join(
            p for p in [libdir, os.environ.get("LD_LIBRARY_PATH")] if p
        )
    from pytriton.model_config import ModelConfig, Tensor
    from pytriton.triton import Triton, TritonConfig

    def shape(dims):
        return tuple(d if isinstance(d, int) else -1 for d in dims)

    # Triton's model configuration cannot declare a scalar (0-d) input ("must specify 'dims'"):
    # such an input is declared as shape [1], which the client sends (peers_bench.py does for
    # this peer), and is given to onnxruntime as the scalar the model takes.
    def signature(path):
        probe = session(path)
        inputs = [
            Tensor(name=i.name, dtype=ORT_TO_NUMPY[i.type], shape=shape(i.shape) or (1,)) for i in probe.get_inputs()
        ]
        outputs = [Tensor(name=o.name, dtype=ORT_TO_NUMPY[o.type], shape=shape(o.shape)) for o in probe.get_outputs()]
        return inputs, outputs

    def instance(path, output_names):
        sess = session(path)
        scalars = {i.name for i in sess.get_inputs() if len(i.shape) == 0}
        input_names = [i.name for i in sess.get_inputs()]

        def infer(requests):
            return [
                dict(
                    zip(
                        output_names,
                        sess.run(output_names, {k: r[k].reshape(()) if k in scalars else r[k] for k in input_names}),
                    )
                )
                for r in requests
            ]

        return infer

    config = TritonConfig(
        http_port=http_port,
        grpc_port=grpc_port,
        metrics_port=metrics_port,
        allow_metrics=False,
        log_verbose=0,
    )
    with Triton(config=config) as triton:
        for name, path in models:
            inputs, outputs = signature(path)
            output_names = [t.name for t in outputs]
            triton.bind(
                model_name=name,
                infer_func=[instance(path, output_names) for _ in range(sessions)],
                inputs=inputs,
                outputs=outputs,
                config=ModelConfig(batching=False),
                strict=False,
            )
        triton.serve()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("server", choices=["kserve", "pytriton"])
    ap.add_argument("--model", action="append", required=True, help="NAME=PATH of an ONNX file (repeatable)")
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--grpc-port", type=int, required=True)
    ap.add_argument("--metrics-port", type=int, default=0)
    args = ap.parse_args()
    models = [m.split("=", 1) for m in args.model]
    stop_on_sigterm()
    try:
        if args.server == "kserve":
            serve_kserve(models, args.sessions, args.http_port, args.grpc_port)
        else:
            serve_pytriton(models, args.sessions, args.http_port, args.grpc_port, args.metrics_port)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
