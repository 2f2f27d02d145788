#!/usr/bin/env python3
"""Deterministic generator of small ONNX test models for imo-oracle.

Usage: .tools/venv/bin/python scripts/gen_models.py OUTDIR

Every run writes byte-identical files (fixed seeds, no timestamps, fixed ir_version/opset):

  tiny_mlp.onnx            x[N,4] -> MatMul(W 4x3) + Add(b 3) -> Relu -> y[N,3]
                           W is stored in raw_data, b in float_data (typed field).
  dtypes.onnx              one in_<dtype>/out_<dtype> pair ([N,2]) per dtype. out = Slice(Concat(in, c, axis 0),
                           0, -1): a round trip that touches only type-agnostic kernels, while every
                           c_<dtype> constant ([1,2]) is stored through the typed fields (int32_data,
                           int64_data, uint64_data, float_data, double_data, string_data), not raw_data.
  with_subgraph.onnx       an If node whose branches carry their own initializers (and a Constant),
                           plus a top-level Constant node with a tensor-valued attribute.
  external_data.onnx       a model whose initializer lives in external_data.weights (external data).
  external_data.weights
  not_a_model.pb           a valid protobuf that is not a model (a serialized TensorProto).

Hostile models (service hardening tests):
  shape_bomb.onnx          ConstantOfShape([32768, 32768]) -> ReduceSum: under 200 bytes, 4 GiB at run time.
  shape_from_input.onnx    ConstantOfShape(shape input) -> ReduceSum: harmless on the zero sample,
                           4 GiB when a caller sends shape [32768, 32768].
  endless.onnx             Loop(trip count input, body adds 1): runs as long as a caller asks.
  silero_drop.onnx         silero VAD behind Slice(input, 0, 1 - drop): drop = 1 empties the batch,
                           and ONNX Runtime aborts the process (needs silero_vad.onnx in OUTDIR).
  quant_mlp.onnx           int8 MLP for the judge (docs/PROTOCOL.md, "Verifiable inference"): a float MLP
                           x[N,16] -> 3 x (MatMul + Add bias) with Relu between (16-64-64-10), quantized by
                           onnxruntime.quantization.quantize_static (QOperator, uint8 activations, int8
                           weights reduced to 7 bits so that no x86 kernel saturates, MinMax over a fixed
                           calibration set). Only MatMul/Conv/MaxPool/Flatten are quantized, so the graph is
                           QuantizeLinear, QLinearMatMul, DequantizeLinear, float Add and Relu: no com.microsoft
                           ops (QLinearAdd has no exact ONNX semantics).
  quant_cnn.onnx           int8 CNN for the judge, same quantization: x[N,1,8,8] -> Conv 8x3x3 (pad 1) + Relu
                           -> MaxPool 2 -> Conv 16x3x3 + Relu -> MaxPool 2 -> Flatten -> MatMul 64x10 + Add:
                           QuantizeLinear, QLinearConv (int32 bias, Relu folded into its output range), MaxPool
                           and Flatten on uint8, QLinearMatMul, DequantizeLinear, float Add.
"""

import os
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 8
OPSET = 17
PRODUCER = "imo-oracle gen_models"
PRODUCER_VERSION = "1"


def make_model(graph: onnx.GraphProto) -> onnx.ModelProto:
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name=PRODUCER,
        producer_version=PRODUCER_VERSION,
    )
    model.ir_version = IR_VERSION
    return model


def write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
    print(f"wrote {path} ({len(data)} bytes)")


def tiny_mlp() -> onnx.ModelProto:
    rng = np.random.RandomState(7)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal((3,)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["xw"], name="matmul"),
            helper.make_node("Add", ["xw", "b"], ["xwb"], name="add"),
            helper.make_node("Relu", ["xwb"], ["y"], name="relu"),
        ],
        "tiny_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
        initializer=[
            numpy_helper.from_array(w, "W"),  # raw_data
            helper.make_tensor("b", TensorProto.FLOAT, [3], b.tolist(), raw=False),  # float_data
        ],
    )
    return make_model(graph)


# (suffix, TensorProto type, two constant values stored through the type's typed field)
DTYPES = [
    ("bool", TensorProto.BOOL, [True, False]),
    ("int8", TensorProto.INT8, [-5, 7]),
    ("int16", TensorProto.INT16, [-300, 1234]),
    ("int32", TensorProto.INT32, [-70000, 123456]),
    ("int64", TensorProto.INT64, [-(2**40), 2**50 + 3]),
    ("uint8", TensorProto.UINT8, [200, 3]),
    ("uint16", TensorProto.UINT16, [65000, 7]),
    ("uint32", TensorProto.UINT32, [4000000000, 9]),
    ("uint64", TensorProto.UINT64, [2**63 + 5, 11]),
    ("float16", TensorProto.FLOAT16, [np.float16(1.5), np.float16(-0.25)]),
    ("float", TensorProto.FLOAT, [3.25, -1.0e-3]),
    ("double", TensorProto.DOUBLE, [2.5e100, -7.125]),
    ("string", TensorProto.STRING, [b"hello", "w\u00f6rld".encode()]),
]


def dtypes() -> onnx.ModelProto:
    nodes, inputs, outputs = [], [], []
    inits = [
        helper.make_tensor("slice_starts", TensorProto.INT64, [1], [0]),
        helper.make_tensor("slice_ends", TensorProto.INT64, [1], [-1]),
        helper.make_tensor("slice_axes", TensorProto.INT64, [1], [0]),
    ]
    for suffix, ty, vals in DTYPES:
        inputs.append(helper.make_tensor_value_info(f"in_{suffix}", ty, ["N", 2]))
        outputs.append(helper.make_tensor_value_info(f"out_{suffix}", ty, ["N", 2]))
        inits.append(helper.make_tensor(f"c_{suffix}", ty, [1, 2], vals, raw=False))
        nodes.append(
            helper.make_node(
                "Concat", [f"in_{suffix}", f"c_{suffix}"], [f"cat_{suffix}"], axis=0, name=f"concat_{suffix}"
            )
        )
        nodes.append(
            helper.make_node(
                "Slice",
                [f"cat_{suffix}", "slice_starts", "slice_ends", "slice_axes"],
                [f"out_{suffix}"],
                name=f"slice_{suffix}",
            )
        )
    for t in inits:
        assert not t.HasField("raw_data"), t.name
    return make_model(helper.make_graph(nodes, "dtypes", inputs, outputs, initializer=inits))


def with_subgraph() -> onnx.ModelProto:
    rng = np.random.RandomState(11)
    then_w = rng.standard_normal((2,)).astype(np.float32)
    else_w = rng.standard_normal((2,)).astype(np.float32)
    then_branch = helper.make_graph(
        [helper.make_node("Add", ["x", "then_w"], ["then_out"], name="then_add")],
        "then_branch",
        [],
        [helper.make_tensor_value_info("then_out", TensorProto.FLOAT, [2])],
        initializer=[numpy_helper.from_array(then_w, "then_w")],
    )
    else_branch = helper.make_graph(
        [
            # A Constant inside a branch whose tensor has no name at all.
            helper.make_node(
                "Constant",
                [],
                ["else_c"],
                name="else_const",
                value=helper.make_tensor("", TensorProto.FLOAT, [2], [0.5, -0.5]),
            ),
            helper.make_node("Mul", ["x", "else_w"], ["else_tmp"], name="else_mul"),
            helper.make_node("Add", ["else_tmp", "else_c"], ["else_out"], name="else_add"),
        ],
        "else_branch",
        [],
        [helper.make_tensor_value_info("else_out", TensorProto.FLOAT, [2])],
        initializer=[numpy_helper.from_array(else_w, "else_w")],
    )
    graph = helper.make_graph(
        [
            helper.make_node(
                "Constant",
                [],
                ["k"],
                name="const_k",
                value=numpy_helper.from_array(np.array([1.0, 2.0], dtype=np.float32), "k_value"),
            ),
            helper.make_node("Add", ["x_in", "k"], ["x"], name="add_k"),
            helper.make_node(
                "If", ["cond"], ["y"], name="if", then_branch=then_branch, else_branch=else_branch
            ),
        ],
        "with_subgraph",
        [
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x_in", TensorProto.FLOAT, [2]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        initializer=[numpy_helper.from_array(np.array([3.0, 4.0], dtype=np.float32), "top_w")],
    )
    # top_w is an (unused) top-level initializer so that all three placements appear in one model.
    return make_model(graph)


def external_data(outdir: str) -> None:
    rng = np.random.RandomState(13)
    w = rng.standard_normal((4, 4)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"], name="matmul")],
        "external_data",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        initializer=[numpy_helper.from_array(w, "W")],
    )
    model = make_model(graph)
    onnx.checker.check_model(model)
    model_path = os.path.join(outdir, "external_data.onnx")
    weights = "external_data.weights"
    weights_path = os.path.join(outdir, weights)
    # onnx appends to an existing external data file: remove it so reruns stay byte-identical.
    for p in (model_path, weights_path):
        if os.path.exists(p):
            os.remove(p)
    onnx.save_model(
        model,
        model_path,
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=weights,
        size_threshold=0,
    )
    onnx.checker.check_model(model_path)
    print(f"wrote {model_path} ({os.path.getsize(model_path)} bytes)")
    print(f"wrote {weights_path} ({os.path.getsize(weights_path)} bytes)")


def reshape_fail() -> onnx.ModelProto:
    """x FLOAT [N] -> Reshape to [2, -1] -> y. Valid for even N; ONNX Runtime fails at run time
    for odd N. Exercises the service's run-time failure path (500, nothing charged)."""
    shape = numpy_helper.from_array(np.array([2, -1], dtype=np.int64), "target_shape")
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["x", "target_shape"], ["y"], name="reshape")],
        "reshape_fail",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, None])],
        initializer=[shape],
    )
    return make_model(graph)


def shape_bomb() -> onnx.ModelProto:
    value = helper.make_tensor("value", TensorProto.FLOAT, [1], [1.0])
    graph = helper.make_graph(
        [
            helper.make_node("ConstantOfShape", ["shape"], ["big"], value=value),
            helper.make_node("ReduceSum", ["big"], ["y"], keepdims=0),
        ],
        "shape_bomb",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])],
        initializer=[helper.make_tensor("shape", TensorProto.INT64, [2], [32768, 32768])],
    )
    return make_model(graph)


def shape_from_input() -> onnx.ModelProto:
    value = helper.make_tensor("value", TensorProto.FLOAT, [1], [1.0])
    graph = helper.make_graph(
        [
            helper.make_node("ConstantOfShape", ["shape"], ["big"], value=value),
            helper.make_node("ReduceSum", ["big"], ["y"], keepdims=0),
        ],
        "shape_from_input",
        [helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])],
    )
    return make_model(graph)


def endless() -> onnx.ModelProto:
    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Add", ["acc_in", "one"], ["acc_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("iter", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, [1]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [1]),
        ],
        initializer=[one],
    )
    graph = helper.make_graph(
        [helper.make_node("Loop", ["n", "cond", "x"], ["y"], body=body)],
        "endless",
        [
            helper.make_tensor_value_info("n", TensorProto.INT64, []),
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
        initializer=[helper.make_tensor("cond", TensorProto.BOOL, [], [True])],
    )
    return make_model(graph)


def _rename_uses(graph: onnx.GraphProto, names: dict) -> None:
    """Renames the uses of outer-scope values in `graph` and all its subgraphs."""
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in names:
                node.input[i] = names[name]
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                _rename_uses(attr.g, names)
            for g in attr.graphs:
                _rename_uses(g, names)


def silero_variants(outdir: str) -> None:
    src = os.path.join(outdir, "silero_vad.onnx")
    if not os.path.exists(src):
        print(f"skipping the silero variants: {src} is missing", file=sys.stderr)
        return
    # drop = 1 slices the batch away inside the graph; drop = 0 (the sample) is harmless.
    m = onnx.load(src)
    _rename_uses(m.graph, {"input": "input_kept", "state": "state_kept"})
    drop = helper.make_tensor_value_info("drop", TensorProto.INT64, [1])
    m.graph.input.append(drop)
    consts = [
        helper.make_tensor("drop_zero", TensorProto.INT64, [1], [0]),
        helper.make_tensor("drop_one", TensorProto.INT64, [1], [1]),
        helper.make_tensor("drop_axis0", TensorProto.INT64, [1], [0]),
        helper.make_tensor("drop_axis1", TensorProto.INT64, [1], [1]),
    ]
    m.graph.initializer.extend(consts)
    pre = [
        helper.make_node("Sub", ["drop_one", "drop"], ["drop_end"], name="drop_end"),
        helper.make_node("Slice", ["input", "drop_zero", "drop_end", "drop_axis0"], ["input_kept"], name="drop_input"),
        helper.make_node("Slice", ["state", "drop_zero", "drop_end", "drop_axis1"], ["state_kept"], name="drop_state"),
    ]
    nodes = pre + list(m.graph.node)
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    write(os.path.join(outdir, "silero_drop.onnx"), m.SerializeToString())


def float_mlp() -> onnx.ModelProto:
    rng = np.random.RandomState(21)
    dims = [16, 64, 64, 10]
    nodes, inits, cur = [], [], "x"
    for i in range(3):
        w = (rng.standard_normal((dims[i], dims[i + 1])) / np.sqrt(dims[i])).astype(np.float32)
        b = (rng.standard_normal((dims[i + 1],)) * 0.1).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"W{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes.append(helper.make_node("MatMul", [cur, f"W{i}"], [f"mm{i}"], name=f"matmul{i}"))
        out = "y" if i == 2 else f"h{i}"
        if i < 2:
            nodes.append(helper.make_node("Add", [f"mm{i}", f"b{i}"], [f"a{i}"], name=f"add{i}"))
            nodes.append(helper.make_node("Relu", [f"a{i}"], [out], name=f"relu{i}"))
        else:
            nodes.append(helper.make_node("Add", [f"mm{i}", f"b{i}"], [out], name=f"add{i}"))
        cur = out
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])],
        initializer=inits,
    )
    return make_model(graph)


def float_cnn() -> onnx.ModelProto:
    rng = np.random.RandomState(23)
    w1 = (rng.standard_normal((8, 1, 3, 3)) / 3).astype(np.float32)
    b1 = (rng.standard_normal(8) * 0.1).astype(np.float32)
    w2 = (rng.standard_normal((16, 8, 3, 3)) / 8).astype(np.float32)
    b2 = (rng.standard_normal(16) * 0.1).astype(np.float32)
    w3 = (rng.standard_normal((64, 10)) / 8).astype(np.float32)
    b3 = (rng.standard_normal(10) * 0.1).astype(np.float32)
    conv = dict(pads=[1, 1, 1, 1], kernel_shape=[3, 3])
    pool = dict(kernel_shape=[2, 2], strides=[2, 2])
    nodes = [
        helper.make_node("Conv", ["x", "W1", "B1"], ["c1"], name="conv1", **conv),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", **pool),
        helper.make_node("Conv", ["p1", "W2", "B2"], ["c2"], name="conv2", **conv),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("MaxPool", ["r2"], ["p2"], name="pool2", **pool),
        helper.make_node("Flatten", ["p2"], ["f"], name="flatten", axis=1),
        helper.make_node("MatMul", ["f", "W3"], ["mm"], name="fc"),
        helper.make_node("Add", ["mm", "B3"], ["y"], name="fc_bias"),
    ]
    inits = [
        numpy_helper.from_array(a, n)
        for a, n in [(w1, "W1"), (b1, "B1"), (w2, "W2"), (b2, "B2"), (w3, "W3"), (b3, "B3")]
    ]
    graph = helper.make_graph(
        nodes,
        "cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])],
        initializer=inits,
    )
    return make_model(graph)


def quantized(float_model: onnx.ModelProto, input_shape, seed: int) -> bytes:
    """int8 QOperator model from onnxruntime.quantization.quantize_static with a fixed calibration set."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Calibration(CalibrationDataReader):
        def __init__(self):
            rng = np.random.RandomState(seed)
            self.batches = iter([{"x": rng.standard_normal(input_shape).astype(np.float32)} for _ in range(16)])

        def get_next(self):
            return next(self.batches, None)

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "float.onnx"), os.path.join(tmp, "int8.onnx")
        onnx.save_model(float_model, src)
        quantize_static(
            src,
            dst,
            Calibration(),
            quant_format=QuantFormat.QOperator,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            # 7-bit weights: on AVX2 without VNNI, ONNX Runtime multiplies uint8 by int8 with
            # vpmaddubsw, which saturates a pair of products at 16 bits; its results then differ
            # from the operator's definition and the judge (rightly) blocks the model. With
            # weights in [-64, 64] no pair can saturate (2 x 255 x 64 < 32,768), so these models
            # are exact on every x86 CPU (onnxruntime's documented remedy, `reduce_range`).
            reduce_range=True,
            op_types_to_quantize=["MatMul", "Conv", "MaxPool", "Flatten", "Relu"],
        )
        model = onnx.load(dst)
    onnx.checker.check_model(model, full_check=True)
    for node in model.graph.node:
        assert node.domain in ("", "ai.onnx"), f"{node.op_type} is in domain {node.domain}"
    return model.SerializeToString()


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: gen_models.py OUTDIR", file=sys.stderr)
        return 2
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    for name, build in [
        ("tiny_mlp.onnx", tiny_mlp),
        ("dtypes.onnx", dtypes),
        ("with_subgraph.onnx", with_subgraph),
        ("reshape_fail.onnx", reshape_fail),
        ("shape_bomb.onnx", shape_bomb),
        ("shape_from_input.onnx", shape_from_input),
        ("endless.onnx", endless),
    ]:
        model = build()
        onnx.checker.check_model(model, full_check=True)
        write(os.path.join(outdir, name), model.SerializeToString())
    external_data(outdir)
    silero_variants(outdir)
    write(os.path.join(outdir, "quant_mlp.onnx"), quantized(float_mlp(), (1, 16), 5))
    write(os.path.join(outdir, "quant_cnn.onnx"), quantized(float_cnn(), (1, 1, 8, 8), 6))
    not_a_model = numpy_helper.from_array(np.arange(6, dtype=np.int32).reshape(2, 3), "not_a_model")
    write(os.path.join(outdir, "not_a_model.pb"), not_a_model.SerializeToString())
    return 0


if __name__ == "__main__":
    sys.exit(main())
