"""httpcore's network layer on asyncio's own transports, for ``bot.fetch``'s connection pools.

httpx sends every request through httpcore, and httpcore reaches the network through a
pluggable "network backend". Its default on asyncio goes through anyio: every read and write
opens a cancel scope, checks the running task and library (sniffio), and maps anyio's
exceptions; ``is_readable`` polls the socket. For a feed poll, which is two writes and two
reads, that machinery was a fifth to a quarter of the event-loop CPU of a warm cron run
(1,000 conditional GETs: 0.91-0.99 s of CPU with anyio, 0.68-0.72 s with this backend,
measured in one process against bench/bench_poll.py's server; bench/bench_cron.py shows what a
`run --once` process gains). Here a stream is an ``asyncio.Protocol`` with a byte buffer:
the same contract (``httpcore.AsyncNetworkStream``), the same exceptions (httpcore's, which
httpx maps to its own), nothing else.

Contract kept from httpcore's own backends:

- ``read`` returns at most ``max_bytes``, ``b""`` at a clean end of stream, and raises
  ``ReadError`` when the connection broke and ``ReadTimeout`` after ``timeout`` seconds;
  ``write`` raises ``WriteError`` on a closed connection and ``WriteTimeout`` when the peer
  does not take the bytes in time; connect and TLS failures raise ``ConnectError`` (chained
  to the ``OSError``, so "connection refused" and DNS failures stay recognisable) or
  ``ConnectTimeout``.
- Reading applies back-pressure: past ``HIGH_WATER`` buffered bytes the socket is no longer
  read until the consumer drains below ``LOW_WATER``, so a server pushing a body faster than
  ``bot.fetch`` consumes it (and refuses it past its size cap) cannot grow our memory.
- ``get_extra_info("is_readable")``: True when an idle connection has data or its end of
  stream waiting, which is how the pool recognises a connection the server closed.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, Iterable

import httpcore

HIGH_WATER = 256 * 1024  # buffered bytes at which reading the socket pauses
LOW_WATER = 64 * 1024  # ... and at which it resumes
HAPPY_EYEBALLS_DELAY = 0.25  # s before trying the next address (RFC 8305), as anyio does


class _Buffered(asyncio.Protocol):
    """The receiving side of one connection: bytes and end of stream, kept for ``read``."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.transport: asyncio.Transport | None = None
        self.reading_paused = False
        self.writing_paused = False
        self._data_waiter: asyncio.Future | None = None
        self._drain_waiter: asyncio.Future | None = None

    # asyncio's side -----------------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > HIGH_WATER and not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()
        self._wake(self._data_waiter)

    def eof_received(self) -> bool:
        self.eof = True
        self._wake(self._data_waiter)
        return False  # close our side too: HTTP/1.1 never half-closes

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake(self._data_waiter)
        self._wake(self._drain_waiter)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._wake(self._drain_waiter)

    @staticmethod
    def _wake(waiter: asyncio.Future | None) -> None:
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # the stream's side --------------------------------------------------------------------
    async def wait_for_data(self) -> None:
        self._data_waiter = asyncio.get_running_loop().create_future()
        try:
            await self._data_waiter
        finally:
            self._data_waiter = None

    async def wait_for_drain(self) -> None:
        self._drain_waiter = asyncio.get_running_loop().create_future()
        try:
            await self._drain_waiter
        finally:
            self._drain_waiter = None

    def take(self, max_bytes: int) -> bytes:
        data = bytes(self.buffer[:max_bytes])
        del self.buffer[:max_bytes]
        if self.reading_paused and len(self.buffer) < LOW_WATER and self.transport is not None:
            self.reading_paused = False
            self.transport.resume_reading()
        return data


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One TCP (or TLS) connection; see the module docstring for the contract."""

    def __init__(self, transport: asyncio.Transport, protocol: _Buffered) -> None:
        self._transport = transport
        self._protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if not protocol.buffer and not protocol.eof:
            try:
                async with asyncio.timeout(timeout):
                    await protocol.wait_for_data()
            except TimeoutError:
                raise httpcore.ReadTimeout(f"no data for {timeout:g} s") from None
        if protocol.buffer:
            return protocol.take(max_bytes)
        if protocol.error is not None:
            raise httpcore.ReadError(str(protocol.error) or type(protocol.error).__name__) \
                from protocol.error
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self._transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        self._transport.write(buffer)
        if self._protocol.writing_paused:  # the kernel's send buffer is full: wait for the peer
            try:
                async with asyncio.timeout(timeout):
                    await self._protocol.wait_for_drain()
            except TimeoutError:
                raise httpcore.WriteTimeout(f"could not send for {timeout:g} s") from None
            if self._protocol.error is not None or self._transport.is_closing():
                raise httpcore.WriteError("the connection was closed while sending")

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(self._transport, self._protocol, ssl_context,
                                                 server_hostname=server_hostname)
        except TimeoutError:
            self._transport.close()
            raise httpcore.ConnectTimeout(f"TLS handshake took longer than {timeout:g} s") from None
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            self._transport.close()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        if transport is None:  # the connection closed during the handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        return AsyncioStream(transport, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return bool(self._protocol.buffer) or self._protocol.eof
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info in ("ssl_object", "socket"):
            return self._transport.get_extra_info(info)
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens ``AsyncioStream``s; stateless, so one instance serves every pool."""

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
                          ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_connection(
                    _Buffered, host, port, happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY,
                    local_addr=(local_address, 0) if local_address else None)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"no connection within {timeout:g} s") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        sock = transport.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return AsyncioStream(transport, protocol)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
                                  ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("feeds are fetched over TCP only")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


BACKEND = AsyncioBackend()


def use_asyncio_sockets(transport: Any) -> bool:
    """Make ``transport`` (an ``httpx.AsyncHTTPTransport``) connect through ``BACKEND``.

    httpx does not pass a network backend through to the httpcore pool it builds (a direct
    pool, an HTTP or a SOCKS proxy: all keep it as ``_network_backend``), so it is set on the
    pool before its first connection. Returns False, leaving httpcore's default, when a
    future httpx or httpcore keeps it elsewhere; tests/test_fetch_net.py fails then."""
    pool = getattr(transport, "_pool", None)
    if pool is None or not isinstance(getattr(pool, "_network_backend", None), httpcore.AsyncNetworkBackend):
        return False
    pool._network_backend = BACKEND
    return True


def use_asyncio_locks(transport: Any) -> bool:
    """Give the connections of ``transport``'s pool (an ``httpx.AsyncHTTPTransport`` without a
    proxy) asyncio's own locks where httpcore puts anyio's.

    httpcore guards each connection with two locks, its connect and its HTTP/1.1 state, taken
    three times per request. On asyncio they are ``anyio.Lock``: every acquisition, taken or
    free, is a checkpoint, one more trip through the event loop for the request's task. What
    a checkpoint adds, anyio cancel scopes, nothing here uses (bot.fetch's deadlines are
    asyncio's own); ``asyncio.Lock`` is the same mutual exclusion without the trip. Measured in
    one process (1,000 conditional GETs on open connections, 64 at a time, 50 ms latency,
    alternated 8 times, 2026-12-03 14:03, load 1.2-1.6): wall 1.09 -> 0.94 s, CPU 0.62 -> 0.56 s
    (medians). The connect lock is replaced when the pool creates the connection, the state
    lock once the first request on it is answered (the HTTP/1.1 connection is built inside
    that request); no request holds either then. Returns False, leaving httpcore's locks, when
    the pool is not httpcore's plain one (a proxy's) or keeps them elsewhere;
    tests/test_fetch_net.py fails then."""
    pool = getattr(transport, "_pool", None)
    if type(pool) is not httpcore.AsyncConnectionPool:
        return False
    create = pool.create_connection

    def create_connection(origin: Any) -> Any:
        connection = create(origin)
        if type(connection) is httpcore.AsyncHTTPConnection and hasattr(connection, "_request_lock"):
            connection._request_lock = asyncio.Lock()
            connection.handle_async_request = _swapping_state_lock(connection)
        return connection

    pool.create_connection = create_connection  # this pool's alone: httpx's others keep theirs
    return True


def _swapping_state_lock(connection: Any) -> Any:
    """``connection.handle_async_request`` that, once the connection's HTTP/1.1 layer exists,
    gives it an asyncio lock and removes itself (later requests call httpcore's directly)."""
    send = connection.handle_async_request

    async def handle_async_request(request: Any) -> Any:
        try:
            return await send(request)
        finally:
            inner = getattr(connection, "_connection", None)
            if inner is not None:  # connected: done (HTTP/2 or another layer keeps its locks)
                if type(inner) is httpcore.AsyncHTTP11Connection and hasattr(inner, "_state_lock"):
                    inner._state_lock = asyncio.Lock()
                del connection.handle_async_request

    return handle_async_request
