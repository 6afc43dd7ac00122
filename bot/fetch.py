"""Fetching: one feed URL + remembered validators -> FetchResult. The only HTTP boundary.

Contract: ``Fetcher.fetch`` never raises for network or HTTP problems; every failure comes back
as data (``status`` 0 when no response arrived, ``error`` a one-line reason). Politeness and
self-defence live here, so no other stage has to think about them:

- bounded concurrency overall and per host (semaphores), an honest User-Agent, conditional GET
  with If-None-Match / If-Modified-Since (RFC 9110 §13.1), Retry-After honoured (§10.2.3);
- connect and read timeouts plus a TOTAL deadline per fetch: a server trickling one byte a second
  never trips a read timeout, so only a wall-clock deadline bounds it;
- a body size cap enforced while streaming, on DECODED bytes: we advertise only gzip/deflate and
  inflate ourselves with ``max_length`` so a 10 KB gzip bomb cannot expand to gigabytes in one
  ``decompress`` call (httpx's own decoder has no output bound per chunk);
- redirects followed by hand: only http/https targets (a feed must never be able to make us read
  ``file:///etc/passwd``), loops detected, and the stored URL updated only when EVERY hop was
  permanent (301/308; RFC 9110 §15.4: 302/307 are temporary and must not move the subscription).

Local files: a ``url`` that is not http(s) (a plain path, or ``file://`` written by the operator in
the feed list — never one reached through a redirect) is read from disk with the same size cap;
its mtime and size act as validators, so an unchanged file reads as 304 on the next poll. With
``local_roots`` (the daemon and ``run --once`` pass WATCHBOT_LOCAL_FEEDS), only files inside those
folders are read, after resolving symlinks and ``..``: a feed list naming ``/etc/passwd`` or
``/proc/self/environ`` gets an error and nothing is opened (issue 13, class 15).
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import os
import ssl
import time
import urllib.parse
import urllib.request
import zlib
from collections import Counter
from collections.abc import Mapping
from datetime import timezone
import sys
from typing import Sequence

# httpx's __init__ imports its optional command-line client (httpx._main, which loads rich and
# pygments when they are installed, as they are here for `status`) only to offer `httpx.main`:
# ~0.08 s of CPU before every cron run's first request (issue 15). watchbot never runs httpx's
# CLI; marked missing, httpx falls back to its stub, exactly as without the [cli] extra. A no-op
# if httpx was imported before.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

import httpx  # noqa: E402

from bot.fetch_net import use_asyncio_locks, use_asyncio_sockets
from bot.limits import server_seconds
from bot.models import DEFAULT_USER_AGENT, FetchResult, Validators

ACCEPT = ("application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
          "application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5")
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
PERMANENT_CODES = frozenset({301, 308})
CHUNK = 64 * 1024


def _mb(n: int) -> str:
    """Human size for error messages: 10485760 -> '10 MB'."""
    return f"{n / (1024 * 1024):g} MB" if n >= 1024 * 1024 else f"{n} bytes"


def _secs(x: float) -> str:
    return f"{x:g} s"


DRAIN_LIMIT = 64 * 1024  # bytes of a non-200 body read to keep its connection alive
# Most connections one httpx pool holds. httpcore checks every connection of its pool (idle?
# expired? a socket call each) several times per request, so its CPU per request grows with
# the pool: 1,000 feeds on one host with per_host 64 cost 4.5 ms of CPU per 304 poll in one
# pool against 1.4 ms at per_host 4 (issue 15). A host's connections are split into pools of
# at most this many instead.
POOL_CONNECTIONS = 4


class _BodyTooLarge(Exception):
    pass


class _Inflater:
    """Content-Encoding decoder with a hard bound on output (gzip, x-gzip, deflate, identity).

    ``feed(data, room)`` returns at most ``room + 1`` decoded bytes, so the caller notices the cap
    being exceeded without the decoder ever materialising more than that.
    """

    def __init__(self, encoding: str):
        enc = encoding.strip().lower()
        self.identity = enc in ("", "identity")
        self.deflate = enc == "deflate"
        self._first = True
        if enc in ("gzip", "x-gzip"):
            self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.deflate:
            self._d = zlib.decompressobj()  # zlib-wrapped; raw deflate handled on first error
        elif not self.identity:
            raise ValueError(f"unsupported content-encoding {encoding!r}")

    def feed(self, data: bytes, room: int) -> bytes:
        if self.identity:
            return data
        try:
            # max_length bounds the output of this one call; 0 would mean "unbounded".
            out = self._d.decompress(data, room + 1)
        except zlib.error:
            if not (self.deflate and self._first):
                raise
            # Some servers send raw DEFLATE (no zlib header) as "deflate"; retry once.
            self._d = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._d.decompress(data, room + 1)
        self._first = False
        return out

    def flush(self, room: int) -> bytes:
        return b"" if self.identity else self._d.flush()[: room + 1]


def _parse_retry_after(value: str | None, now: float) -> float | None:
    """Retry-After (RFC 9110 §10.2.3): delta-seconds or an HTTP-date; seconds from now, clamped
    to [0, MAX_SERVER_WAIT] (a server's absurd value must not overflow our arithmetic)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return server_seconds(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return server_seconds(when.timestamp() - now)


def _http_date(ts: float) -> str:
    return email.utils.formatdate(ts, usegmt=True)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _is_http(url: str) -> bool:
    return urllib.parse.urlsplit(url).scheme.lower() in ("http", "https")


class Fetcher:
    """Polite, bounded HTTP(S) fetcher; see the module docstring for the contract.

    ``transport`` is the I/O boundary: an ``httpx.AsyncBaseTransport`` (tests may pass their own;
    it is left open for its owner). We talk to httpx's transport API directly rather than through
    ``AsyncClient``: redirects are ours anyway, and the client's per-request machinery (redirect
    and auth flows, cookies, hooks, eager parsing of every Location header — which raises on a
    ``javascript:`` target before we can refuse it) roughly doubled the event-loop CPU per
    request in bench/bench_poll.py.
    """

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None, *, max_concurrency: int = 64,
                 per_host: int = 4, max_bytes: int = 10 * 1024 * 1024,
                 connect_timeout: float = 10, read_timeout: float = 20,
                 total_timeout: float = 60, max_redirects: int = 5,
                 user_agent: str = DEFAULT_USER_AGENT, proxies: Mapping[str, str] | None = None,
                 pool_connections: int = POOL_CONNECTIONS,
                 local_roots: Sequence[str | os.PathLike] | None = None):
        """``pool_connections``: most connections in one httpx pool (see POOL_CONNECTIONS;
        bench/bench_poll.py compares it with one pool per host). ``local_roots``: folders local
        files may be read from; None: any (``try``, tests), empty: none."""
        self.max_bytes = max_bytes
        self.pool_connections = max(1, pool_connections)
        self.local_roots = None if local_roots is None else tuple(
            os.path.realpath(os.fspath(r)) for r in local_roots)
        self.total_timeout = total_timeout
        self.max_redirects = max_redirects
        self.user_agent = user_agent or DEFAULT_USER_AGENT  # never an anonymous client
        self.per_host = per_host
        # Per-phase timeouts travel with each request (httpx's "timeout" extension); the pool
        # timeout is the total budget because our semaphores already queue requests.
        self._timeout = {"connect": connect_timeout, "read": read_timeout,
                         "write": read_timeout, "pool": total_timeout}
        self._transport = transport  # injected: used for every host, closed by its owner
        # Small pools per host: httpcore's pool scans all its connections on every request,
        # so one shared pool of hundreds of connections costs O(n) per request (measured: the
        # dominant CPU cost of a warm cycle). We bound concurrency per host anyway.
        self._pools: dict[str, _HostPools] = {}
        self._ssl: ssl.SSLContext | None = None  # one CA bundle load (~90 ms) for all pools
        self._no_tls: ssl.SSLContext | None = None  # see _host_pools
        self._all = asyncio.Semaphore(max_concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._holders: dict[str, Counter] = {}  # host -> feeds holding its slots (for errors)
        # Built once, copied per request: header validation and URL parsing are a visible part
        # of a warm (all 304) cycle's CPU, and neither changes between cycles.
        self._base_headers = httpx.Headers({"User-Agent": self.user_agent, "Accept": ACCEPT,
                                            "Accept-Encoding": "gzip, deflate"})
        self._urls: dict[str, httpx.URL] = {}
        # {"http": URL, "https": URL, "no": "host,.domain"} as urllib.request.getproxies()
        # returns them; None or {}: direct connections (see bot.config.fetch_proxies).
        self._proxies = dict(proxies or {})

    async def __aenter__(self) -> "Fetcher":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pools this Fetcher created (an injected transport stays open)."""
        hosts, self._pools = list(self._pools.values()), {}
        for host in hosts:
            for pool in host.pools:
                await pool.aclose()

    def _host_pools(self, url: httpx.URL) -> "_HostPools":
        key = f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}"
        host = self._pools.get(key)
        if host is None:
            if url.scheme == "https":
                if self._ssl is None:
                    self._ssl = httpx.create_ssl_context()
                context = self._ssl
            else:
                # This origin is plain http (the key includes the scheme), so no certificate
                # is ever checked: loading the CA bundle (25-90 ms, before the first request
                # of every cron run) is not needed. A context that trusts nothing fails
                # closed should TLS ever be attempted through it.
                if self._no_tls is None:  # one for every plain-http origin (~0.2 ms each)
                    self._no_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context = self._no_tls
            limit, per_pool = max(1, self.per_host), self.pool_connections
            sizes = [per_pool] * (limit // per_pool) + ([limit % per_pool] if limit % per_pool else [])
            # A transport reads no HTTP(S)_PROXY from the environment itself: the proxy, if
            # any, is the one the settings chose for this origin (proxy_for).
            proxy = proxy_for(url.scheme, url.host, self._proxies)
            pools = [httpx.AsyncHTTPTransport(verify=context, proxy=proxy, limits=httpx.Limits(
                max_connections=size, max_keepalive_connections=size)) for size in sizes]
            for pool in pools:  # asyncio's sockets and locks without anyio in between (bot.fetch_net)
                use_asyncio_sockets(pool)
                use_asyncio_locks(pool)
            host = self._pools[key] = _HostPools(pools, sizes)
        return host

    # -----------------------------------------------------------------------------------------

    async def fetch(self, url: str, validators: Validators = Validators()) -> FetchResult:
        """Fetch ``url`` once (following redirects); never raises for I/O or HTTP problems."""
        try:
            if _is_http(url):
                result = await self._fetch_http(url, validators)
            else:
                result = await self._fetch_local(url, validators)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or an exotic failure: still data, never an exception
            result = FetchResult(url=url, status=0, error=f"{type(exc).__name__}: {_one_line(exc)}")
        return result

    def _host_semaphore(self, url: str) -> asyncio.Semaphore:
        host = (urllib.parse.urlsplit(url).hostname or "").lower()
        sem = self._hosts.get(host)
        if sem is None:
            sem = self._hosts[host] = asyncio.Semaphore(self.per_host)
        return sem

    def _request_headers(self, validators: Validators) -> httpx.Headers:
        headers = httpx.Headers(self._base_headers)
        if validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        return headers

    async def _fetch_http(self, url: str, validators: Validators) -> FetchResult:
        loop = asyncio.get_running_loop()
        # The deadline starts when the fetch is asked for, so it also bounds the wait for one of
        # the host's connection slots: 12 slow feeds on one host used to delay a good feed there
        # by minutes, because its clock started only once a slot was free (issue 13, class 3).
        # Waiting for a global slot (our own WATCHBOT_CONCURRENCY) is added back: that queue is
        # not the host's doing.
        deadline = loop.time() + self.total_timeout
        current = url
        seen = {url}
        all_permanent = True
        hops = 0
        while True:
            # Host slot first, then a global slot: a task waiting for a busy host must not
            # hold one of the global slots that other hosts could use meanwhile.
            host = (urllib.parse.urlsplit(current).hostname or "").lower()
            host_slots = self._host_semaphore(current)
            # Who held the slots when the wait began: the holders often time out at the same
            # instant as this wait (same deadline), and the message must still name them.
            holders_then = set(self._holders.get(host, ())) if host_slots.locked() else set()
            try:
                async with asyncio.timeout_at(deadline):
                    await host_slots.acquire()
            except TimeoutError:
                held = sorted(self._holders.get(host) or holders_then)
                shown = ", ".join(held[:3]) + (f" and {len(held) - 3} more" if len(held) > 3 else "")
                return FetchResult(url=url, status=0, error=(
                    f"timeout after {_secs(self.total_timeout)} waiting for one of the "
                    f"{self.per_host} connections to {host}, held by {shown or 'other feeds'}"))
            holders = self._holders.setdefault(host, Counter())
            holders[url] += 1
            try:
                queued = loop.time()
                await self._all.acquire()
                deadline += loop.time() - queued
                try:
                    async with asyncio.timeout_at(deadline):
                        outcome = await self._one_request(current, validators)
                except TimeoutError:
                    return FetchResult(url=url, status=0,
                                       error=f"timeout after {_secs(self.total_timeout)}")
                except _BodyTooLarge:
                    return FetchResult(url=url, status=0,
                                       error=f"body larger than {_mb(self.max_bytes)}")
                except httpx.ConnectTimeout:
                    return FetchResult(url=url, status=0,
                                       error=f"connect timeout after {_secs(self._timeout['connect'])}")
                except httpx.ReadTimeout:
                    return FetchResult(url=url, status=0,
                                       error=f"read timeout after {_secs(self._timeout['read'])}")
                except httpx.TimeoutException as exc:
                    return FetchResult(url=url, status=0, error=f"timeout: {_one_line(exc)}")
                except httpx.ConnectError as exc:
                    return FetchResult(url=url, status=0, error=_connect_error(exc))
                except (httpx.RemoteProtocolError, httpx.LocalProtocolError) as exc:
                    return FetchResult(url=url, status=0, error=f"protocol error: {_one_line(exc)}")
                except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                    return FetchResult(url=url, status=0, error=f"invalid URL: {_one_line(exc)}")
                except httpx.HTTPError as exc:
                    return FetchResult(url=url, status=0,
                                       error=f"{type(exc).__name__}: {_one_line(exc)}")
                except (zlib.error, ValueError) as exc:
                    return FetchResult(url=url, status=0, error=f"bad body encoding: {_one_line(exc)}")
                finally:
                    self._all.release()
            finally:
                host_slots.release()
                holders[url] -= 1
                if holders[url] <= 0:
                    del holders[url]

            status, headers, body = outcome
            if status in REDIRECT_CODES and headers.get("location"):
                target = urllib.parse.urljoin(current, headers["location"].strip())
                scheme = urllib.parse.urlsplit(target).scheme.lower()
                if scheme not in ("http", "https"):
                    return FetchResult(url=url, status=0, headers=headers, error=(
                        f"refused redirect to {scheme or '(no scheme)'}:// (only http/https)"))
                if target in seen:
                    return FetchResult(url=url, status=0, headers=headers, error="redirect loop")
                hops += 1
                if hops > self.max_redirects:
                    return FetchResult(url=url, status=0, headers=headers,
                                       error=f"too many redirects (more than {self.max_redirects})")
                all_permanent = all_permanent and status in PERMANENT_CODES
                seen.add(target)
                current = target
                continue
            break

        # Only move the subscription when every hop was permanent AND the target works:
        # a 301 to a 404 is more likely a broken site than a new feed address.
        permanent = current if (hops and all_permanent and current != url
                                and status in (200, 304)) else None
        new_validators = Validators(etag=headers.get("etag") or None,
                                    last_modified=headers.get("last-modified") or None)
        if status == 304:
            keep = new_validators if (new_validators.etag or new_validators.last_modified) \
                else validators
            return FetchResult(url=url, status=304, headers=headers, validators=keep,
                               permanent_url=permanent)
        if status == 200:
            return FetchResult(url=url, status=200, body=body, headers=headers,
                               validators=new_validators, permanent_url=permanent,
                               body_hash=hashlib.sha256(body).hexdigest())
        retry_after = _parse_retry_after(headers.get("retry-after"), time.time()) \
            if status >= 400 else None
        reason = httpx.codes.get_reason_phrase(status)
        return FetchResult(url=url, status=status, headers=headers, permanent_url=permanent,
                           retry_after=retry_after,
                           error=f"HTTP {status}{' ' + reason if reason else ''}")

    async def _one_request(self, url: str, validators: Validators
                           ) -> tuple[int, dict[str, str], bytes | None]:
        """One GET without redirects; reads the body (capped) only for a 200."""
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) > 100_000:  # feed lists are far smaller; stay bounded anyway
                self._urls.clear()
            parsed = self._urls[url] = httpx.URL(url)
        request = httpx.Request("GET", parsed, headers=self._request_headers(validators),
                                extensions={"timeout": self._timeout})
        if self._transport is not None:
            return await self._exchange(self._transport, request)
        host = self._host_pools(request.url)
        index = host.acquire()
        try:
            return await self._exchange(host.pools[index], request)
        finally:
            host.release(index)

    async def _exchange(self, transport: httpx.AsyncBaseTransport, request: httpx.Request
                        ) -> tuple[int, dict[str, str], bytes | None]:
        response = await transport.handle_async_request(request)
        try:
            headers = {k.lower(): v for k, v in response.headers.items()}
            if response.status_code != 200:
                # Read the (usually empty) body of a 304/3xx/4xx so the connection goes back to
                # the pool: httpcore closes a connection whose response was not read to the end,
                # and re-connecting cost more CPU than the rest of a warm poll. Bounded, so an
                # error page cannot make us read megabytes.
                drained = 0
                async for chunk in response.aiter_raw(CHUNK):
                    drained += len(chunk)
                    if drained > DRAIN_LIMIT:
                        break
                return response.status_code, headers, None
            declared = headers.get("content-length", "")
            encoding = headers.get("content-encoding", "")
            if declared.isdigit() and not encoding and int(declared) > self.max_bytes:
                raise _BodyTooLarge  # refuse before reading a byte
            inflater = _Inflater(encoding)
            body = bytearray()
            async for chunk in response.aiter_raw(CHUNK):
                room = self.max_bytes - len(body)
                out = inflater.feed(chunk, room)
                if len(out) > room:
                    raise _BodyTooLarge
                body += out
            tail = inflater.flush(self.max_bytes - len(body))
            if len(tail) > self.max_bytes - len(body):
                raise _BodyTooLarge
            body += tail
            return 200, headers, bytes(body)
        finally:
            await response.aclose()

    # -----------------------------------------------------------------------------------------

    async def _fetch_local(self, url: str, validators: Validators) -> FetchResult:
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "file":
            if parts.netloc not in ("", "localhost"):
                return FetchResult(url=url, status=0, error="file:// URL with a remote host")
            path = urllib.request.url2pathname(parts.path)
        elif scheme and len(scheme) > 1:  # "C:\..." has a one-letter "scheme"; others are URLs
            return FetchResult(url=url, status=0,
                               error=f"unsupported scheme {scheme}:// (only http/https or a path)")
        else:
            path = url
        path = os.path.expanduser(path)
        if self.local_roots is not None:
            real = os.path.realpath(path)
            if not any(real == root or real.startswith(root.rstrip(os.sep) + os.sep)
                       for root in self.local_roots):
                where = ", ".join(self.local_roots) or "none are allowed"
                return FetchResult(url=url, status=0, error=(
                    f"refused to read local file {path}: not inside a folder named in "
                    f"WATCHBOT_LOCAL_FEEDS ({where})"))
            path = real  # what was checked is what is opened (no symlink swap in between)
        return await asyncio.to_thread(self._read_local, url, path, validators)

    def _read_local(self, url: str, path: str, validators: Validators) -> FetchResult:
        try:
            st = os.stat(path)
        except OSError as exc:
            return FetchResult(url=url, status=0, error=f"cannot read {path}: {exc.strerror}")
        # The file's identity for "changed?": mtime in ns plus size, as an ETag (RFC 9110 §8.8.3).
        etag = f'"{st.st_mtime_ns:x}-{st.st_size:x}"'
        current = Validators(etag=etag, last_modified=_http_date(st.st_mtime))
        if validators.etag == etag:
            return FetchResult(url=url, status=304, validators=current)
        if st.st_size > self.max_bytes:
            return FetchResult(url=url, status=0, error=f"body larger than {_mb(self.max_bytes)}")
        try:
            with open(path, "rb") as fh:
                body = fh.read(self.max_bytes + 1)
        except OSError as exc:
            return FetchResult(url=url, status=0, error=f"cannot read {path}: {exc.strerror}")
        if len(body) > self.max_bytes:
            return FetchResult(url=url, status=0, error=f"body larger than {_mb(self.max_bytes)}")
        return FetchResult(url=url, status=200, body=body, validators=current,
                           headers={"last-modified": current.last_modified or ""},
                           body_hash=hashlib.sha256(body).hexdigest())


def proxy_for(scheme: str, host: str, proxies: Mapping[str, str]) -> str | None:
    """The proxy URL for an origin, or None for a direct connection: ``proxies[scheme]`` (else
    ``proxies["all"]``) unless ``proxies["no"]`` (NO_PROXY syntax: comma-separated hosts and
    .domains, ``*`` for all) names the host."""
    proxy = proxies.get(scheme) or proxies.get("all")
    if not proxy:
        return None
    if proxies.get("no") and urllib.request.proxy_bypass_environment(host, {"no": proxies["no"]}):
        return None
    return proxy


class _HostPools:
    """One origin's connections as several httpx pools of at most POOL_CONNECTIONS each.

    A request goes to the pool with the most free connections, and holds its place until its
    response is closed. The per-host semaphore admits at most ``sum(sizes)`` requests for the
    host at once, so the chosen pool always has a free connection: nothing queues inside
    httpcore, and its per-request scans stay over a handful of connections.
    """

    def __init__(self, pools: list[httpx.AsyncHTTPTransport], sizes: list[int]):
        self.pools = pools
        self.free = list(sizes)

    def acquire(self) -> int:
        index = max(range(len(self.free)), key=self.free.__getitem__)
        self.free[index] -= 1
        return index

    def release(self, index: int) -> None:
        self.free[index] += 1


def _connect_error(exc: httpx.ConnectError) -> str:
    """One line for a failed connection: 'connection refused', 'DNS lookup failed', ..."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if type(cause).__name__ == "gaierror":
            return f"DNS lookup failed: {_one_line(cause)}"
        cause = cause.__cause__ or cause.__context__
    text = _one_line(exc)
    if "refused" in text.lower():
        return "connection refused"
    if "name or service not known" in text.lower() or "nodename" in text.lower():
        return f"DNS lookup failed: {text}"
    return f"connect error: {text}"

