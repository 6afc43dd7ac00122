"""bot.fetch_net, the asyncio network backend under bot.fetch: TLS, back-pressure, timeouts, idle connections the server closed."""

from __future__ import annotations

import asyncio
import http.server
import shutil
import socket
import ssl
import subprocess
import threading

import httpcore
import pytest

from bot import fetch_net
from bot.fetch import Fetcher

BODY = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        b"<item><title>One</title><link>https://e.example/1</link></item></channel></rss>")


class _Feed(http.server.BaseHTTPRequestHandler):
    """One feed at every path over HTTP/1.1; ``close_after`` requests, it drops the connection
    without saying so (no ``Connection: close``), as servers do with idle keep-alive ones."""

    protocol_version = "HTTP/1.1"
    close_after = 0

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)
        self.server.served += 1
        if self.close_after and self.server.served % self.close_after == 0:
            self.close_connection = True

    def log_message(self, *args):  # keep the test output clean
        pass


def _serve(handler, context: ssl.SSLContext | None = None):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.served = 0
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1 (made by the openssl command, offline)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


async def test_every_fetcher_pool_connects_through_the_asyncio_backend():
    """Fetcher's connection pools use bot.fetch_net's backend, so a change in httpx that stops it is seen here."""
    server = _serve(_Feed)
    try:
        async with Fetcher() as fetcher:
            url = f"http://127.0.0.1:{server.server_address[1]}/a.xml"
            result = await fetcher.fetch(url)
            assert result.status == 200 and result.body == BODY
            pools = [p for host in fetcher._pools.values() for p in host.pools]
            assert pools and all(p._pool._network_backend is fetch_net.BACKEND for p in pools)
    finally:
        server.shutdown()


async def test_fetcher_connections_take_asyncio_locks_and_a_proxy_pool_keeps_httpcores():
    """Every connection a Fetcher opened, reused for a second request, holds asyncio locks where httpcore put anyio's; a proxied transport's pool is left as httpcore built it."""
    import asyncio

    import httpx

    server = _serve(_Feed)
    try:
        async with Fetcher(per_host=2) as fetcher:
            urls = [f"http://127.0.0.1:{server.server_address[1]}/{name}.xml" for name in "abcd"]
            for _ in range(2):  # the second round goes over the connections the first opened
                results = await asyncio.gather(*(fetcher.fetch(u) for u in urls))
                assert {r.status for r in results} == {200}
            connections = [c for host in fetcher._pools.values() for p in host.pools
                           for c in p._pool.connections]
            assert connections
            for c in connections:
                assert type(c._request_lock) is asyncio.Lock
                assert type(c._connection._state_lock) is asyncio.Lock
                assert "handle_async_request" not in vars(c)  # httpcore's own method again
    finally:
        server.shutdown()
    proxied = httpx.AsyncHTTPTransport(proxy="http://127.0.0.1:9")
    assert fetch_net.use_asyncio_locks(proxied) is False
    assert "create_connection" not in vars(proxied._pool)


async def test_a_feed_over_https_is_fetched_and_a_certificate_for_another_name_is_refused(
        certificate, monkeypatch):
    """An HTTPS feed whose certificate the trust store accepts is read; the same server reached by a name its certificate does not carry fails with a certificate error."""
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = _serve(_Feed, context)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # httpx's trust store from the environment
    port = server.server_address[1]
    try:
        async with Fetcher(connect_timeout=5, total_timeout=10) as fetcher:
            good = await fetcher.fetch(f"https://127.0.0.1:{port}/a.xml")
            assert good.status == 200 and good.body == BODY, good.error
            wrong = await fetcher.fetch(f"https://localhost:{port}/a.xml")
            assert wrong.status == 0 and "certificate" in (wrong.error or "").lower(), wrong.error
    finally:
        server.shutdown()


async def test_an_idle_connection_the_server_closed_is_not_reused():
    """After the server silently drops a kept-alive connection, the next fetch opens a new one and succeeds instead of failing on the dead one."""
    handler = type("ClosingFeed", (_Feed,), {"close_after": 1})
    server = _serve(handler)
    url = f"http://127.0.0.1:{server.server_address[1]}/a.xml"
    try:
        async with Fetcher(per_host=1) as fetcher:
            for _ in range(3):
                result = await fetcher.fetch(url)
                assert result.status == 200 and result.body == BODY, result.error
                await asyncio.sleep(0.2)  # the server's FIN arrives while the connection is idle
        assert server.served == 3
    finally:
        server.shutdown()


async def test_reading_pauses_when_the_consumer_falls_behind_and_loses_no_byte():
    """A peer pushing 5 MB at a stream nobody reads fills at most the high-water mark plus one socket read, and reading it afterwards returns every byte."""
    payload = bytes(range(256)) * (5 * 1024 * 1024 // 256)
    listener = socket.create_server(("127.0.0.1", 0))

    def push():
        conn, _ = listener.accept()
        with conn:
            conn.sendall(payload)
    thread = threading.Thread(target=push, daemon=True)
    thread.start()
    stream = await fetch_net.BACKEND.connect_tcp("127.0.0.1", listener.getsockname()[1], timeout=5)
    try:
        await asyncio.sleep(0.5)  # the peer writes as fast as it can; we read nothing
        buffered = len(stream._protocol.buffer)
        assert 0 < buffered <= fetch_net.HIGH_WATER + 256 * 1024, buffered
        received = bytearray()
        while chunk := await stream.read(64 * 1024, timeout=5):
            received += chunk
        assert bytes(received) == payload
    finally:
        await stream.aclose()
        listener.close()
        thread.join(5)


async def test_a_silent_peer_gives_a_read_timeout_and_a_closed_port_a_connect_error():
    """Reading from a peer that sends nothing raises httpcore's ReadTimeout after the timeout; connecting to a closed port raises ConnectError chained to the refusal."""
    listener = socket.create_server(("127.0.0.1", 0))
    stream = await fetch_net.BACKEND.connect_tcp("127.0.0.1", listener.getsockname()[1], timeout=5)
    try:
        with pytest.raises(httpcore.ReadTimeout):
            await stream.read(1024, timeout=0.2)
    finally:
        await stream.aclose()
        listener.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with pytest.raises(httpcore.ConnectError) as refused:
        await fetch_net.BACKEND.connect_tcp("127.0.0.1", closed, timeout=5)
    assert isinstance(refused.value.__cause__, ConnectionRefusedError)
