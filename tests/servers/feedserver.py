"""A local HTTP feed server for tests and benchmarks (aiohttp, loopback only).

Three ways to run it:

- in-process, inside a running event loop::

      async with FeedServer() as srv:
          srv.set_feed("/a.xml", body)
          ... await fetcher.fetch(srv.url("/a.xml")) ...

- in a background thread, for synchronous tests or tests that start subprocesses::

      with FeedServer.in_thread() as srv:
          srv.set_feed("/a.xml", body)
          subprocess.run(["watchbot", ...])

- as its own process, for benchmarks (so the server's CPU does not share the bench's GIL)::

      python -m tests.servers.feedserver --bench-feeds 1000 --latency 0.05 --hosts 50
      # prints "PORT <n>" on stdout, serves /feed/0.xml ... /feed/999.xml on 127.0.0.1-50
      # until stdin closes (``bench_url`` gives each feed's URL)

Routes are configured at run time and are thread-safe: ``set_feed`` (ETag/Last-Modified, latency,
validators honoured or not, gzip), ``set_status``, ``redirect``, ``trickle`` (one byte per
interval), ``huge`` (a streamed body of any size generated on the fly). ``requests(path)`` returns
what each request carried (the conditional headers and User-Agent in particular).

A control route lets a benchmark flip behaviour of a server in another process:
``POST /__control__/honour_validators/0`` (or ``/1``) applies to every feed route, and
``GET /__control__/stats`` returns the request count and the times of the first and last request
as JSON, ``POST /__control__/clear_log`` forgets the requests logged so far.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.utils
import gzip
import hashlib
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

from aiohttp import web

HOST = "127.0.0.1"


@dataclass
class RequestRecord:
    """What one request carried, for assertions about politeness and conditional GET."""

    path: str
    method: str
    headers: dict[str, str]
    time: float

    @property
    def if_none_match(self) -> str | None:
        return self.headers.get("if-none-match")

    @property
    def if_modified_since(self) -> str | None:
        return self.headers.get("if-modified-since")

    @property
    def user_agent(self) -> str | None:
        return self.headers.get("user-agent")


@dataclass
class _Route:
    kind: str  # feed | status | redirect | trickle | huge
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    latency: float = 0.0
    honour_validators: bool = True
    content_type: str = "application/rss+xml; charset=utf-8"
    gzip: bool = False
    location: str = ""
    interval: float = 1.0
    size: int = 0
    declare_length: bool = True


class FeedServer:
    """Configurable loopback feed server; see the module docstring."""

    def __init__(self, host: str = HOST, port: int = 0, *, aliases: tuple[str, ...] = ()):
        """``aliases``: more loopback addresses (127.x.y.z) to serve on the same port, so a
        benchmark can spread feeds over many "hosts" as real outlets are (per-host limits)."""
        self.host = host
        self.port = port
        self.aliases = tuple(aliases)
        self._routes: dict[str, _Route] = {}
        self._log: dict[str, list[RequestRecord]] = {}
        self._lock = threading.Lock()
        self._runner: web.AppRunner | None = None
        self.honour_override: bool | None = None  # set through the control route
        self.in_flight = 0  # requests being answered right now (all paths)
        self.max_in_flight = 0  # the most ever answered at once, for concurrency limits

    # ---------------------------------------------------------------- configuration (any thread)

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` on this server."""
        if not path.startswith("/"):
            path = "/" + path
        return f"http://{self.host}:{self.port}{path}"

    def set_feed(self, path: str, body: bytes | str, *, etag: bool | str = True,
                 last_modified: bool | str = True, latency: float = 0.0,
                 honour_validators: bool = True,
                 content_type: str = "application/rss+xml; charset=utf-8",
                 gzip: bool = False, headers: dict[str, str] | None = None) -> None:
        """Serve ``body`` at ``path`` with 200, or 304 when the request's validators match.

        ``etag``/``last_modified``: True derives them from the body (a content hash; now),
        a string uses it verbatim, False omits the header. ``honour_validators=False`` always
        answers 200 with the full body, like servers that ignore conditional GET.
        """
        if isinstance(body, str):
            body = body.encode("utf-8")
        tag = (f'"{hashlib.sha1(body).hexdigest()[:16]}"' if etag is True
               else (etag or None))
        lm = (email.utils.formatdate(time.time(), usegmt=True) if last_modified is True
              else (last_modified or None))
        self._set(path, _Route("feed", body=body, etag=tag, last_modified=lm, latency=latency,
                               honour_validators=honour_validators, content_type=content_type,
                               gzip=gzip, headers=dict(headers or {})))

    def set_status(self, path: str, code: int, headers: dict[str, str] | None = None,
                   body: bytes | str = b"", latency: float = 0.0) -> None:
        """Answer every request to ``path`` with ``code`` (e.g. 410, 429 + Retry-After, 500)."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        self._set(path, _Route("status", status=code, headers=dict(headers or {}), body=body,
                               latency=latency))

    def redirect(self, path: str, to: str, code: int = 301) -> None:
        """Redirect ``path`` to ``to`` (a path on this server or any absolute URL)."""
        self._set(path, _Route("redirect", status=code, location=to))

    def trickle(self, path: str, body: bytes | str = b"<rss>" + b" " * 10_000 + b"</rss>", *,
                interval: float = 1.0) -> None:
        """Send ``body`` one byte every ``interval`` seconds (a slowloris-style server)."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        self._set(path, _Route("trickle", body=body, interval=interval))

    def huge(self, path: str, size: int = 60 * 1024 * 1024, *, declare_length: bool = True,
             gzip: bool = False) -> None:
        """Stream ``size`` bytes generated on the fly (never held in memory).

        ``declare_length=False`` sends it chunked, so only a streaming cap can stop it.
        ``gzip=True`` sends a small gzip stream that inflates to ``size`` bytes (a gzip bomb).
        """
        self._set(path, _Route("huge", size=size, declare_length=declare_length, gzip=gzip))

    def remove(self, path: str) -> None:
        with self._lock:
            self._routes.pop(path, None)

    def requests(self, path: str) -> list[RequestRecord]:
        """Requests received for ``path`` so far, oldest first."""
        with self._lock:
            return list(self._log.get(path, []))

    def request_count(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._log.values())

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def _set(self, path: str, route: _Route) -> None:
        if not path.startswith("/"):
            path = "/" + path
        with self._lock:
            self._routes[path] = route

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> "FeedServer":
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # access_log=None: logging every request would dominate a 1000-feed benchmark.
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=1024)
        await site.start()
        sockets = site._server.sockets  # type: ignore[union-attr]
        self.port = sockets[0].getsockname()[1]
        for alias in self.aliases:
            await web.TCPSite(self._runner, alias, self.port, backlog=1024).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "FeedServer":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    @classmethod
    @contextlib.contextmanager
    def in_thread(cls, host: str = HOST, port: int = 0, *,
                  aliases: tuple[str, ...] = ()) -> Iterator["FeedServer"]:
        """Run a server on its own event loop in a daemon thread; stop it on exit."""
        srv = cls(host, port, aliases=aliases)
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(srv.start())
            except BaseException as exc:  # pragma: no cover - reported to the caller below
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(srv.stop())
            loop.close()

        thread = threading.Thread(target=run, name="feedserver", daemon=True)
        thread.start()
        started.wait(10)
        if failure:
            raise failure[0]
        try:
            yield srv
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)

    # ---------------------------------------------------------------- request handling

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/__control__/"):
            return self._control(path)
        with self._lock:
            self._log.setdefault(path, []).append(RequestRecord(
                path=path, method=request.method,
                headers={k.lower(): v for k, v in request.headers.items()}, time=time.time()))
            route = self._routes.get(path)
        if route is None:
            return web.Response(status=404, text="no such feed")
        self.in_flight += 1  # only touched on the server's loop: no lock needed
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(request, route)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request, route: _Route) -> web.StreamResponse:
        if route.latency:
            await asyncio.sleep(route.latency)
        if route.kind == "feed":
            return self._feed(request, route)
        if route.kind == "status":
            return web.Response(status=route.status, body=route.body, headers=route.headers)
        if route.kind == "redirect":
            return web.Response(status=route.status, headers={"Location": route.location})
        if route.kind == "trickle":
            return await self._trickle(request, route)
        if route.kind == "huge":
            return await self._huge(request, route)
        return web.Response(status=500)  # pragma: no cover

    def _control(self, path: str) -> web.Response:
        parts = path.strip("/").split("/")
        if parts[1:2] == ["honour_validators"] and len(parts) == 3:
            self.honour_override = parts[2] == "1"
            return web.json_response({"honour_validators": self.honour_override})
        if parts[1:2] == ["stats"]:
            with self._lock:
                times = [r.time for records in self._log.values() for r in records]
                # Wall-clock (time.time) of the first and last request logged: a benchmark in
                # another process measures "time to first request" of a process it started.
                return web.json_response({"requests": len(times), "routes": len(self._routes),
                                          "first_request_at": min(times, default=None),
                                          "last_request_at": max(times, default=None)})
        if parts[1:2] == ["clear_log"]:
            self.clear_log()
            return web.json_response({"cleared": True})
        return web.Response(status=404)

    def _feed(self, request: web.Request, route: _Route) -> web.Response:
        headers = dict(route.headers)
        if route.etag:
            headers["ETag"] = route.etag
        if route.last_modified:
            headers["Last-Modified"] = route.last_modified
        honour = route.honour_validators if self.honour_override is None else self.honour_override
        if honour and _not_modified(request, route):
            return web.Response(status=304, headers=headers)
        body = route.body
        if route.gzip and "gzip" in request.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        headers["Content-Type"] = route.content_type
        return web.Response(status=200, body=body, headers=headers)

    async def _trickle(self, request: web.Request, route: _Route) -> web.StreamResponse:
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/rss+xml"})
        resp.content_length = len(route.body)
        await resp.prepare(request)
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            for i in range(len(route.body)):
                await resp.write(route.body[i:i + 1])
                await asyncio.sleep(route.interval)
        return resp

    async def _huge(self, request: web.Request, route: _Route) -> web.StreamResponse:
        headers = {"Content-Type": "application/rss+xml"}
        chunk = (b"<!-- padding padding padding padding padding padding padding -->\n" * 1024)
        if route.gzip:
            # A gzip bomb: a few hundred KB on the wire that inflate to route.size bytes.
            comp = zlib_gzip_stream(chunk, route.size)
            headers["Content-Encoding"] = "gzip"
            resp = web.StreamResponse(status=200, headers=headers)
            await resp.prepare(request)
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                for piece in comp:
                    await resp.write(piece)
            return resp
        resp = web.StreamResponse(status=200, headers=headers)
        if route.declare_length:
            resp.content_length = route.size
        else:
            resp.enable_chunked_encoding()
        await resp.prepare(request)
        sent = 0
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while sent < route.size:
                piece = chunk[: route.size - sent]
                await resp.write(piece)
                sent += len(piece)
        return resp


def zlib_gzip_stream(chunk: bytes, size: int) -> Iterator[bytes]:
    """Yield a gzip stream whose decompressed form is ``chunk`` repeated up to ``size`` bytes."""
    import zlib
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    sent = 0
    while sent < size:
        piece = chunk[: size - sent]
        out = comp.compress(piece)
        sent += len(piece)
        if out:
            yield out
    yield comp.flush()


def _not_modified(request: web.Request, route: _Route) -> bool:
    """RFC 9110 §13.1: If-None-Match wins over If-Modified-Since when both are present."""
    inm = request.headers.get("If-None-Match")
    if inm is not None:
        if route.etag is None:
            return False
        tags = [t.strip() for t in inm.split(",")]
        return "*" in tags or route.etag in tags or f"W/{route.etag}" in tags
    ims = request.headers.get("If-Modified-Since")
    if ims and route.last_modified:
        try:
            since = email.utils.parsedate_to_datetime(ims)
            modified = email.utils.parsedate_to_datetime(route.last_modified)
        except (TypeError, ValueError):
            return False
        return modified <= since
    return False


# ---------------------------------------------------------------------------------------------
# Synthetic outlet feeds for benchmarks: ~20 KB, 30 items, deterministic per index.
# ---------------------------------------------------------------------------------------------

_WORDS_EN = ("government minister parliament port oil gas pipeline Caspian ferry crash "
             "investigation officials said statement talks agreement border trade railway "
             "election court report energy exports summit delegation visit security").split()
_WORDS_RU = ("правительство министр парламент порт нефть газ трубопровод Каспий паром "
             "авария расследование заявил соглашение граница торговля железная дорога выборы "
             "суд доклад энергетика экспорт саммит делегация визит безопасность").split()


def outlet_feed(index: int, items: int = 30, target_size: int = 20_000, ttl: int = 15) -> bytes:
    """A realistic RSS 2.0 outlet feed (HTML descriptions, GUIDs, dates, tracking params)."""
    rnd = random.Random(index)
    words = _WORDS_RU if index % 3 == 0 else _WORDS_EN
    lang = "ru" if index % 3 == 0 else "en"
    base = f"https://outlet{index}.example.com"
    per_item = max(400, (target_size - 400) // items)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:media="http://search.yahoo.com/mrss/">\n<channel>\n'
        f"<title>Outlet {index} News</title>\n<link>{base}/</link>\n"
        f"<description>News from outlet {index}</description>\n<language>{lang}</language>\n"
        + (f"<ttl>{ttl}</ttl>\n" if ttl else "")
    ]
    t0 = 1_700_000_000 - index * 600
    for i in range(items):
        title = " ".join(rnd.choice(words) for _ in range(rnd.randint(6, 12))).capitalize()
        slug = f"{index}-{i}-{rnd.randrange(10**6)}"
        date = email.utils.formatdate(t0 - i * 1800, usegmt=True)
        head = (f"<item>\n<title>{title}</title>\n"
                f"<link>{base}/news/{slug}.html?utm_source=rss&amp;utm_medium=feed</link>\n"
                f'<guid isPermaLink="false">{base}/a/{slug}</guid>\n'
                f"<pubDate>{date}</pubDate>\n<dc:creator>Staff</dc:creator>\n")
        tail = f'<media:content url="{base}/img/{slug}.jpg" medium="image"/>\n</item>\n'
        # Sentences until the item's encoded size reaches its share of the target size
        # (Cyrillic takes two bytes a letter, so count bytes, not characters).
        budget = per_item - len((head + tail).encode("utf-8")) - 60
        sentences: list[str] = []
        used = 0
        while used < budget:
            s = " ".join(rnd.choice(words) for _ in range(rnd.randint(8, 16))).capitalize() + "."
            sentences.append(s)
            used += len(s.encode("utf-8")) + 1
        half = len(sentences) // 2
        desc = ("<p>" + " ".join(sentences[:half]) + "</p><p><b>" + " ".join(sentences[half:])
                + "</b> &amp; more.</p>")
        out.append(f"{head}<description><![CDATA[{desc}]]></description>\n{tail}")
    out.append("</channel>\n</rss>\n")
    return "".join(out).encode("utf-8")


def bench_paths(n: int) -> list[str]:
    return [f"/feed/{i}.xml" for i in range(n)]


def bench_hosts(count: int) -> tuple[str, ...]:
    """``count`` loopback addresses 127.0.0.1, 127.0.0.2, ... (Linux routes all of 127/8 to lo)."""
    return tuple(f"127.0.{(i + 1) // 256}.{(i + 1) % 256}" for i in range(count))


def bench_url(i: int, port: int, hosts: int) -> str:
    """URL of outlet feed ``i`` on a server started with ``hosts`` loopback addresses."""
    return f"http://{bench_hosts(hosts)[i % hosts]}:{port}/feed/{i}.xml"


def populate_bench(srv: FeedServer, n: int, *, latency: float = 0.05, items: int = 30,
                   size: int = 20_000, ttl: int = 15) -> list[str]:
    """Register ``n`` outlet feeds on ``srv``; returns their paths."""
    paths = bench_paths(n)
    for i, p in enumerate(paths):
        srv.set_feed(p, outlet_feed(i, items, size, ttl), latency=latency,
                     last_modified="Tue, 14 Nov 2023 22:13:20 GMT")
    return paths


def _main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--bench-feeds", type=int, default=0, help="serve N outlet feeds")
    ap.add_argument("--latency", type=float, default=0.05, help="seconds before each answer")
    ap.add_argument("--items", type=int, default=30)
    ap.add_argument("--size", type=int, default=20_000)
    ap.add_argument("--ttl", type=int, default=15, help="<ttl> of the outlet feeds in minutes (0: none)")
    ap.add_argument("--hosts", type=int, default=1,
                    help="serve on this many loopback addresses (127.0.0.1, .2, ...)")
    args = ap.parse_args(argv)

    async def serve() -> None:
        hosts = bench_hosts(max(1, args.hosts))
        srv = FeedServer(hosts[0], port=args.port, aliases=hosts[1:])
        if args.bench_feeds:
            populate_bench(srv, args.bench_feeds, latency=args.latency, items=args.items,
                           size=args.size, ttl=args.ttl)
        await srv.start()
        print(f"PORT {srv.port}", flush=True)
        loop = asyncio.get_running_loop()
        # Serve until stdin closes (the parent exited or closed the pipe): never outlives it.
        await loop.run_in_executor(None, sys.stdin.read)
        await srv.stop()

    asyncio.run(serve())


if __name__ == "__main__":
    _main()
