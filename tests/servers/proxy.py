"""A tiny forward HTTP proxy for tests: absolute-form requests (``GET http://host:port/path``),
every host name sent to 127.0.0.1, so ``http://feeds.example:PORT/x`` reaches the local feed
server only through the proxy (without it the name does not resolve). Records what it relayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Iterator
from urllib.parse import urlsplit


class ForwardProxy:
    def __init__(self) -> None:
        self.requests: list[str] = []  # absolute URLs relayed, in order
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, target, version = request_line.split(" ", 2)
            self.requests.append(target)
            parts = urlsplit(target)
            headers = [h for h in header_lines if h and not h.lower().startswith(("proxy-", "connection"))]
            upstream_r, upstream_w = await asyncio.open_connection("127.0.0.1", parts.port or 80)
            path = parts.path or "/"
            if parts.query:
                path += "?" + parts.query
            upstream_w.write((f"{method} {path} {version}\r\n" + "\r\n".join(headers) +
                              "\r\nConnection: close\r\n\r\n").encode("latin-1"))
            await upstream_w.drain()
            response = await upstream_r.read()
            upstream_w.close()
            writer.write(response)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    @classmethod
    @contextlib.contextmanager
    def in_thread(cls) -> Iterator["ForwardProxy"]:
        proxy = cls()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(proxy._loop)

            async def start() -> None:
                proxy._server = await asyncio.start_server(proxy._handle, "127.0.0.1", 0)
                proxy.port = proxy._server.sockets[0].getsockname()[1]
                started.set()

            proxy._loop.run_until_complete(start())
            proxy._loop.run_forever()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        started.wait(10)
        try:
            yield proxy
        finally:
            proxy._loop.call_soon_threadsafe(proxy._server.close)
            proxy._loop.call_soon_threadsafe(proxy._loop.stop)
            thread.join(5)
