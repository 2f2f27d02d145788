#!/usr/bin/env python3
"""Checks imo-oracle's Open Inference Protocol endpoints with the unmodified Triton HTTP client.

Usage:
  python tests/python/tritonclient_check.py --url http://127.0.0.1:PORT --key imo_... \
      --models-dir .tools/models --binary {0,1}
  python tests/python/tritonclient_check.py --protocol grpc --url 127.0.0.1:GRPC_PORT \
      --key imo_... --models-dir .tools/models

Expects a running server where these models are registered under these names:
  tiny-mlp (tiny_mlp.onnx), silero-vad (silero_vad.onnx), dtypes (dtypes.onnx).

For each model: server liveness, model readiness, model metadata (input/output names and
datatypes against the ONNX file), one inference with deterministic inputs (numpy
RandomState(0)) sent as binary tensor data (--binary 1) or JSON (--binary 0), outputs asked for
in the same mode, every output compared bit for bit against Python onnxruntime run on the same
file, and the receipt in the response parameters. With --protocol grpc the same checks go
through the unmodified `tritonclient.grpc` (raw_input_contents / raw_output_contents; the key in
the `authorization` metadata), plus a call without a key, which must fail UNAUTHENTICATED. For silero-vad also a request for only
`stateN`, which must return only that output. Prints one summary line per model; exits 0 when
everything matched, 1 otherwise (with what differed).

--reference-only runs just the onnxruntime reference side (no server needed): a dry run of the
inputs and the reference outputs.
"""

import argparse
import json
import os
import re
import sys

import numpy as np
import onnxruntime as ort

# Triton datatype of each ONNX Runtime tensor type string.
ORT_TO_TRITON = {
    "tensor(bool)": "BOOL",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(float16)": "FP16",
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(string)": "BYTES",
}

# Unsigned integer view used to compare floats bit for bit.
FLOAT_BITS = {np.dtype(np.float16): np.uint16, np.dtype(np.float32): np.uint32, np.dtype(np.float64): np.uint64}

MODELS = [
    ("tiny-mlp", "tiny_mlp.onnx"),
    ("silero-vad", "silero_vad.onnx"),
    ("dtypes", "dtypes.onnx"),
]

SIGNATURE_RE = re.compile(r"^0x[0-9a-fA-F]{130}$")


def triton_dtype(arr):
    """The Triton datatype of a numpy array as tritonclient names it."""
    if arr.dtype == np.object_:
        return "BYTES"
    from tritonclient.utils import np_to_triton_dtype

    return np_to_triton_dtype(arr.dtype)


def float_bits(rs, dtype, size, binary):
    """Random bit patterns of a float type: normals, subnormals, ±0 and extremes. NaN and
    infinities only in binary mode (JSON cannot carry them; tritonclient would send `NaN`)."""
    uint = FLOAT_BITS[np.dtype(dtype)]
    info = np.iinfo(uint)
    bits = rs.randint(0, int(info.max) + 1, size=size, dtype=uint)
    vals = bits.view(dtype).copy()
    finite = np.isfinite(vals)
    vals[~finite] = dtype(1.5)
    specials = [dtype(0.0), dtype(-0.0), np.finfo(dtype).max, np.finfo(dtype).smallest_subnormal, dtype(0.1)]
    if binary:
        specials += [dtype(np.nan), dtype(np.inf), dtype(-np.inf)]
    flat = vals.reshape(-1)
    for i, s in enumerate(specials[: flat.size]):
        flat[i] = s
    return vals


def build_inputs(model, rs, binary):
    """Deterministic inputs per model (numpy arrays; BYTES as object arrays of bytes)."""
    if model == "tiny-mlp":
        return {"x": rs.standard_normal((3, 4)).astype(np.float32)}
    if model == "silero-vad":
        return {
            "input": (rs.standard_normal((1, 512)) * 0.1).astype(np.float32),
            "state": (rs.standard_normal((2, 1, 128)) * 0.1).astype(np.float32),
            "sr": np.array(16000, dtype=np.int64),
        }
    if model == "dtypes":
        n = 4
        shape = (n, 2)
        inputs = {"in_bool": rs.randint(0, 2, size=shape).astype(bool)}
        for suffix, dt in [
            ("int8", np.int8),
            ("int16", np.int16),
            ("int32", np.int32),
            ("int64", np.int64),
            ("uint8", np.uint8),
            ("uint16", np.uint16),
            ("uint32", np.uint32),
            ("uint64", np.uint64),
        ]:
            info = np.iinfo(dt)
            arr = rs.randint(int(info.min), int(info.max) + 1, size=shape, dtype=dt)
            arr.reshape(-1)[:2] = [info.min, info.max]
            inputs[f"in_{suffix}"] = arr
        inputs["in_float16"] = float_bits(rs, np.float16, shape, binary)
        inputs["in_float"] = float_bits(rs, np.float32, shape, binary)
        inputs["in_double"] = float_bits(rs, np.float64, shape, binary)
        words = [b"", b"hello", "w\u00f6rld".encode(), "\u65e5\u672c\u8a9e \U0001f600".encode(), b'q"\\\n\t', bytes(rs.randint(32, 127, size=20).astype(np.uint8))]
        strs = np.empty(n * 2, dtype=np.object_)
        for i in range(n * 2):
            strs[i] = words[i % len(words)] if i < len(words) else bytes(rs.randint(1, 128, size=int(rs.randint(0, 40))).astype(np.uint8))
        inputs["in_string"] = strs.reshape(shape)
        return inputs
    raise ValueError(model)


def ort_feed(arr):
    """onnxruntime takes string tensors as object arrays of str."""
    if arr.dtype == np.object_:
        out = np.empty(arr.shape, dtype=np.object_)
        for idx, v in np.ndenumerate(arr):
            out[idx] = v.decode("utf-8") if isinstance(v, bytes) else v
        return out
    return arr


def reference_session(path):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(path, sess_options=so, providers=["CPUExecutionProvider"])


def as_bytes_list(arr):
    return [v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in np.asarray(arr, dtype=np.object_).reshape(-1)]


def compare(name, got, want):
    """Returns None when `got` equals `want` bit for bit, else a description of the difference."""
    if got is None:
        return f"output `{name}` missing from the response"
    want = np.asarray(want)
    if tuple(got.shape) != tuple(want.shape):
        return f"output `{name}`: shape {list(got.shape)} != reference {list(want.shape)}"
    if want.dtype == np.object_:
        g, w = as_bytes_list(got), as_bytes_list(want)
        if g != w:
            diff = [i for i, (a, b) in enumerate(zip(g, w)) if a != b]
            return f"output `{name}`: BYTES differ at {diff[:5]}: got {[g[i] for i in diff[:3]]}, want {[w[i] for i in diff[:3]]}"
        return None
    if got.dtype != want.dtype:
        return f"output `{name}`: dtype {got.dtype} != reference {want.dtype}"
    if want.dtype in FLOAT_BITS:
        u = FLOAT_BITS[want.dtype]
        gb, wb = got.view(u), want.view(u)
        if not np.array_equal(gb, wb):
            idx = np.argwhere(gb != wb)[:3]
            details = ", ".join(f"{tuple(int(x) for x in i)}: {got[tuple(i)]!r} ({int(gb[tuple(i)]):#x}) vs {want[tuple(i)]!r} ({int(wb[tuple(i)]):#x})" for i in idx)
            return f"output `{name}`: {int(np.sum(gb != wb))} elements differ in bits, e.g. {details}"
        return None
    if not np.array_equal(got, want):
        idx = np.argwhere(got != want)[:3]
        details = ", ".join(f"{tuple(int(x) for x in i)}: {got[tuple(i)]!r} vs {want[tuple(i)]!r}" for i in idx)
        return f"output `{name}`: {int(np.sum(got != want))} elements differ, e.g. {details}"
    return None


def check_receipt(params):
    """Problems with the receipt in the response parameters (empty list when fine)."""
    problems = []
    if not isinstance(params, dict):
        return [f"response has no parameters object (got {params!r})"]
    rid = params.get("imo_receipt_id")
    if not isinstance(rid, str) or not rid:
        problems.append(f"imo_receipt_id is not a non-empty string: {rid!r}")
    receipt = params.get("imo_receipt")
    if not isinstance(receipt, str):
        problems.append(f"imo_receipt is not a string: {receipt!r}")
    else:
        try:
            if not isinstance(json.loads(receipt), dict):
                problems.append("imo_receipt is not a JSON object")
        except ValueError as e:
            problems.append(f"imo_receipt is not JSON: {e}")
    sig = params.get("imo_receipt_signature")
    if not isinstance(sig, str) or not SIGNATURE_RE.match(sig):
        problems.append(f"imo_receipt_signature is not 0x + 130 hex: {sig!r}")
    return problems


def is_grpc(module):
    return module.__name__ == "tritonclient.grpc"


def infer(client, httpclient, model, inputs, output_names, binary, headers):
    """One inference through the module's client (`tritonclient.http` or `tritonclient.grpc`)."""
    tinputs = []
    for name, arr in inputs.items():
        ti = httpclient.InferInput(name, list(arr.shape), triton_dtype(arr))
        if is_grpc(httpclient):
            ti.set_data_from_numpy(arr)
        else:
            ti.set_data_from_numpy(arr, binary_data=binary)
        tinputs.append(ti)
    if is_grpc(httpclient):
        touts = [httpclient.InferRequestedOutput(n) for n in output_names]
    else:
        touts = [httpclient.InferRequestedOutput(n, binary_data=binary) for n in output_names]
    return client.infer(model, tinputs, outputs=touts, headers=headers)


def response_json(result, module):
    """The response as a dict; gRPC parameters flattened to their values ({"string_param": v} -> v)."""
    if not is_grpc(module):
        return result.get_response()
    resp = result.get_response(as_json=True)
    params = {k: next(iter(v.values()), None) for k, v in resp.get("parameters", {}).items()}
    return {**resp, "parameters": params}


def check_model(client, httpclient, model, path, binary, headers):
    """Returns (problems, summary)."""
    problems = []
    sess = reference_session(path)
    ref_inputs = {i.name: ORT_TO_TRITON[i.type] for i in sess.get_inputs()}
    ref_outputs = {o.name: ORT_TO_TRITON[o.type] for o in sess.get_outputs()}
    output_names = [o.name for o in sess.get_outputs()]

    if not client.is_model_ready(model, headers=headers):
        return [f"is_model_ready({model}) is false"], "not ready"
    if is_grpc(httpclient):
        md = client.get_model_metadata(model, headers=headers, as_json=True)
    else:
        md = client.get_model_metadata(model, headers=headers)
    if md.get("name") != model:
        problems.append(f"metadata name {md.get('name')!r} != {model!r}")
    for kind, ref in [("inputs", ref_inputs), ("outputs", ref_outputs)]:
        got = {t["name"]: t["datatype"] for t in md.get(kind, [])}
        if got != ref:
            problems.append(f"metadata {kind} {got} != model file {ref}")

    rs = np.random.RandomState(0)
    inputs = build_inputs(model, rs, binary)
    reference = dict(zip(output_names, sess.run(output_names, {k: ort_feed(v) for k, v in inputs.items()})))

    result = infer(client, httpclient, model, inputs, output_names, binary, headers)
    response = response_json(result, httpclient)
    if response.get("model_name") != model:
        problems.append(f"response model_name {response.get('model_name')!r} != {model!r}")
    for name in output_names:
        diff = compare(name, result.as_numpy(name), reference[name])
        if diff:
            problems.append(diff)
    problems += check_receipt(response.get("parameters"))

    extra = ""
    if model == "silero-vad":
        sub = infer(client, httpclient, model, inputs, ["stateN"], binary, headers)
        sub_response = response_json(sub, httpclient)
        names = [o["name"] for o in sub_response.get("outputs", [])]
        if names != ["stateN"]:
            problems.append(f"requesting only stateN returned outputs {names}")
        diff = compare("stateN", sub.as_numpy("stateN"), reference["stateN"])
        if diff:
            problems.append(f"(subset request) {diff}")
        problems += [f"(subset request) {p}" for p in check_receipt(sub_response.get("parameters"))]
        extra = ", subset request ok" if not problems else ""
    summary = f"{len(inputs)} inputs, {len(output_names)} outputs bit-exact vs onnxruntime {ort.__version__}, receipt ok{extra}"
    return problems, summary


def reference_only(models_dir, binary):
    for model, file in MODELS:
        path = os.path.join(models_dir, file)
        sess = reference_session(path)
        names = [o.name for o in sess.get_outputs()]
        inputs = build_inputs(model, np.random.RandomState(0), binary)
        outs = sess.run(names, {k: ort_feed(v) for k, v in inputs.items()})
        for (k, v) in inputs.items():
            triton_dtype(v)  # every input maps to a Triton datatype
        shapes = {n: list(np.asarray(o).shape) for n, o in zip(names, outs)}
        print(f"{model}: reference ok, inputs {sorted(inputs)}, outputs {shapes}")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="server URL, e.g. http://127.0.0.1:8080 (scheme optional)")
    ap.add_argument("--key", required=True, help="API key, sent as `Authorization: Bearer KEY`")
    ap.add_argument("--models-dir", required=True, help="directory with tiny_mlp.onnx, silero_vad.onnx, dtypes.onnx")
    ap.add_argument("--protocol", choices=["http", "grpc"], default="http", help="tritonclient.http or tritonclient.grpc")
    ap.add_argument("--binary", type=int, choices=[0, 1], default=1, help="HTTP: 1 binary tensor data, 0 JSON")
    ap.add_argument("--reference-only", action="store_true", help="only run the onnxruntime reference side")
    args = ap.parse_args()
    binary = bool(args.binary)

    if args.reference_only:
        return reference_only(args.models_dir, binary)

    from tritonclient.utils import InferenceServerException

    url = re.sub(r"^https?://", "", args.url).rstrip("/")
    if args.protocol == "grpc":
        import tritonclient.grpc as httpclient

        # gRPC metadata keys are lower-case.
        headers = {"authorization": f"Bearer {args.key}"}
        client = httpclient.InferenceServerClient(url=url)
    else:
        import tritonclient.http as httpclient

        headers = {"Authorization": f"Bearer {args.key}"}
        client = httpclient.InferenceServerClient(url=url, network_timeout=120.0)
    failed = False
    try:
        try:
            live = client.is_server_live(headers=headers)
        except Exception as e:  # noqa: BLE001 - connection refused and the like
            print(f"server: FAIL: {url} unreachable: {type(e).__name__}: {e}")
            return 1
        if not live:
            print("server: FAIL: is_server_live is false")
            return 1
        for model, file in MODELS:
            try:
                problems, summary = check_model(
                    client, httpclient, model, os.path.join(args.models_dir, file), binary, headers
                )
            except InferenceServerException as e:
                problems, summary = [f"server error: status {e.status()}: {e.message()}"], ""
            except Exception as e:  # noqa: BLE001 - report any client-side failure per model
                problems, summary = [f"{type(e).__name__}: {e}"], ""
            mode = "grpc" if args.protocol == "grpc" else ("binary" if binary else "json")
            if problems:
                failed = True
                print(f"{model} [{mode}]: FAIL")
                for p in problems:
                    print(f"  - {p}")
            else:
                print(f"{model} [{mode}]: ok: {summary}")
        if args.protocol == "grpc":
            # Without a key: refused, nothing runs.
            x = build_inputs("tiny-mlp", np.random.RandomState(0), True)
            try:
                infer(client, httpclient, "tiny-mlp", x, ["y"], True, {})
                failed = True
                print("auth [grpc]: FAIL: a call without a key was answered")
            except InferenceServerException as e:
                if "UNAUTHENTICATED" in str(e.status()):
                    print("auth [grpc]: ok: a call without a key is UNAUTHENTICATED")
                else:
                    failed = True
                    print(f"auth [grpc]: FAIL: without a key got {e.status()}: {e.message()}")
    finally:
        client.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
