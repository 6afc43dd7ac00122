"""fetch against the local feed server: validators, caps, deadlines, redirects, errors, local files."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import time

import httpx
import psutil
import pytest

from bot.fetch import DEFAULT_USER_AGENT, Fetcher, _parse_retry_after
from bot.models import Validators

BODY = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        b"<item><title>One</title><link>https://e.example/1</link></item></channel></rss>")


@pytest.fixture
async def fetcher():
    f = Fetcher(total_timeout=5, connect_timeout=2, read_timeout=3, max_bytes=1024 * 1024)
    yield f
    await f.aclose()


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_200_then_304_with_validators(feed_server, fetcher):
    """A 200 returns body, hash and validators; the next fetch sends them and gets 304 with no body."""
    feed_server.set_feed("/a.xml", BODY, etag='"v1"', last_modified="Sat, 25 Oct 2025 09:00:00 GMT")
    first = await fetcher.fetch(feed_server.url("/a.xml"))
    assert first.ok and first.body == BODY
    assert first.body_hash == hashlib.sha256(BODY).hexdigest()
    assert first.validators == Validators('"v1"', "Sat, 25 Oct 2025 09:00:00 GMT")
    assert first.headers["content-type"].startswith("application/rss+xml")
    second = await fetcher.fetch(feed_server.url("/a.xml"), first.validators)
    assert second.status == 304 and second.not_modified and second.body is None
    assert second.validators == first.validators and second.error is None
    seen = feed_server.requests("/a.xml")[-1]
    assert seen.if_none_match == '"v1"' and seen.if_modified_since == "Sat, 25 Oct 2025 09:00:00 GMT"


async def test_last_modified_alone_gives_304(feed_server, fetcher):
    """A server with only Last-Modified still answers 304 to If-Modified-Since."""
    feed_server.set_feed("/lm.xml", BODY, etag=False, last_modified="Sat, 25 Oct 2025 09:00:00 GMT")
    first = await fetcher.fetch(feed_server.url("/lm.xml"))
    assert first.validators.etag is None
    assert (await fetcher.fetch(feed_server.url("/lm.xml"), first.validators)).status == 304


async def test_server_ignoring_validators_gives_same_hash(feed_server, fetcher):
    """A server that ignores validators returns 200 again, with the same body_hash (so parse can be skipped)."""
    feed_server.set_feed("/same.xml", BODY, honour_validators=False)
    first = await fetcher.fetch(feed_server.url("/same.xml"))
    second = await fetcher.fetch(feed_server.url("/same.xml"), first.validators)
    assert second.status == 200 and second.body_hash == first.body_hash


async def test_honest_user_agent(feed_server, fetcher):
    """Every request names the bot and where to learn about it."""
    feed_server.set_feed("/ua.xml", BODY)
    await fetcher.fetch(feed_server.url("/ua.xml"))
    assert feed_server.requests("/ua.xml")[0].user_agent == DEFAULT_USER_AGENT
    assert "watchbot" in DEFAULT_USER_AGENT and "+http" in DEFAULT_USER_AGENT


async def test_gzip_body_is_decoded(feed_server, fetcher):
    """A gzip-encoded feed comes back decoded, hashed on the decoded bytes."""
    feed_server.set_feed("/gz.xml", BODY * 50, gzip=True)
    result = await fetcher.fetch(feed_server.url("/gz.xml"))
    assert result.ok and result.body == BODY * 50
    assert result.body_hash == hashlib.sha256(BODY * 50).hexdigest()


@pytest.mark.parametrize("declare_length, use_gzip", [(True, False), (False, False), (False, True)],
                         ids=["content-length", "chunked", "gzip-bomb"])
async def test_size_cap_aborts_big_bodies(feed_server, declare_length, use_gzip):
    """A 60 MB body (declared, chunked, or a gzip bomb) stops at the cap without being buffered."""
    feed_server.huge("/big", 60 * 1024 * 1024, declare_length=declare_length, gzip=use_gzip)
    rss_before = psutil.Process().memory_info().rss
    async with Fetcher(max_bytes=2 * 1024 * 1024, total_timeout=20) as f:
        result = await f.fetch(feed_server.url("/big"))
    assert result.status == 0 and result.body is None
    assert result.error == "body larger than 2 MB"
    assert psutil.Process().memory_info().rss - rss_before < 40 * 1024 * 1024


async def test_trickle_is_bounded_by_total_timeout(feed_server):
    """A server sending one byte every 0.2 s is cut off at the total deadline, not after the whole body."""
    feed_server.trickle("/slow", b"<rss>" + b" " * 1000 + b"</rss>", interval=0.2)
    async with Fetcher(total_timeout=1.5, read_timeout=1.0) as f:
        start = time.monotonic()
        result = await f.fetch(feed_server.url("/slow"))
    assert result.status == 0 and result.error == "timeout after 1.5 s"
    assert time.monotonic() - start < 4


async def test_read_timeout_on_silent_server(feed_server):
    """A server that accepts and then says nothing trips the read timeout."""
    feed_server.set_feed("/silent", BODY, latency=1.2)
    async with Fetcher(total_timeout=10, read_timeout=0.3) as f:
        result = await f.fetch(feed_server.url("/silent"))
    assert result.status == 0 and result.error == "read timeout after 0.3 s"


async def test_redirect_loop(feed_server, fetcher):
    """A redirect cycle ends with a 'redirect loop' error and no body."""
    feed_server.redirect("/loop1", "/loop2", 302)
    feed_server.redirect("/loop2", "/loop1", 301)
    result = await fetcher.fetch(feed_server.url("/loop1"))
    assert result.status == 0 and result.error == "redirect loop"


async def test_too_many_redirects(feed_server):
    """A chain longer than max_redirects is abandoned."""
    for i in range(4):
        feed_server.redirect(f"/r{i}", f"/r{i + 1}", 301)
    feed_server.set_feed("/r4", BODY)
    async with Fetcher(max_redirects=3) as f:
        assert (await f.fetch(feed_server.url("/r0"))).error == "too many redirects (more than 3)"
    async with Fetcher(max_redirects=4) as f:
        assert (await f.fetch(feed_server.url("/r0"))).ok


@pytest.mark.parametrize("codes, permanent", [((301,), True), ((308,), True), ((302,), False),
                                              ((307,), False), ((301, 302), False), ((301, 308), True)])
async def test_permanent_url_only_when_every_hop_is_permanent(feed_server, fetcher, codes, permanent):
    """permanent_url is set only if every hop was 301/308 (RFC 9110 §15.4); 302/307 keep the stored URL."""
    target = "/final.xml"
    feed_server.set_feed(target, BODY)
    path = target
    for i, code in reversed(list(enumerate(codes))):
        feed_server.redirect(f"/hop{i}", path, code)
        path = f"/hop{i}"
    result = await fetcher.fetch(feed_server.url("/hop0"))
    assert result.ok and result.body == BODY
    assert result.permanent_url == (feed_server.url(target) if permanent else None)
    assert result.url == feed_server.url("/hop0")


async def test_permanent_redirect_to_broken_target_does_not_move(feed_server, fetcher):
    """A 301 to a 404 reports the 404 and does not propose the broken URL as the new address."""
    feed_server.redirect("/moved", "/missing", 301)
    result = await fetcher.fetch(feed_server.url("/moved"))
    assert result.status == 404 and result.permanent_url is None


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://ftp.example/feed.xml", "javascript:alert(1)"])
async def test_redirect_to_non_http_scheme_is_refused(feed_server, fetcher, location):
    """A redirect to file://, ftp:// or anything but http(s) is refused and nothing is read."""
    feed_server.redirect("/evil", location, 302)
    result = await fetcher.fetch(feed_server.url("/evil"))
    assert result.status == 0 and result.body is None
    assert result.error.startswith("refused redirect to ") and "(only http/https)" in result.error
    if location.startswith("file:"):
        assert result.error == "refused redirect to file:// (only http/https)"


async def test_410_gone(feed_server, fetcher):
    """410 comes back as status 410 (gone) with an error line and no body."""
    feed_server.set_status("/gone", 410)
    result = await fetcher.fetch(feed_server.url("/gone"))
    assert result.status == 410 and result.gone and result.body is None and result.error == "HTTP 410 Gone"


async def test_429_retry_after_seconds(feed_server, fetcher):
    """429 with Retry-After in seconds is parsed into retry_after."""
    feed_server.set_status("/busy", 429, {"Retry-After": "120"})
    result = await fetcher.fetch(feed_server.url("/busy"))
    assert result.status == 429 and result.retry_after == 120.0


async def test_503_retry_after_http_date(feed_server, fetcher):
    """503 with Retry-After as an HTTP-date becomes seconds from now."""
    when = time.time() + 600
    from email.utils import formatdate
    feed_server.set_status("/down", 503, {"Retry-After": formatdate(when, usegmt=True)})
    result = await fetcher.fetch(feed_server.url("/down"))
    assert result.status == 503 and 590 <= result.retry_after <= 601


def test_retry_after_parsing_edge_cases():
    """Past dates clamp to 0; garbage and absent headers give None."""
    assert _parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", time.time()) == 0.0
    assert _parse_retry_after("soon", time.time()) is None
    assert _parse_retry_after(None, time.time()) is None
    assert _parse_retry_after(" 5 ", time.time()) == 5.0


async def test_500_is_an_error(feed_server, fetcher):
    """500 is reported as status 500 with a one-line error, no body."""
    feed_server.set_status("/boom", 500, body="Traceback...\nmore lines")
    result = await fetcher.fetch(feed_server.url("/boom"))
    assert result.status == 500 and result.body is None and result.error == "HTTP 500 Internal Server Error"


async def test_connection_refused(fetcher):
    """A closed port gives status 0 and 'connection refused', never an exception."""
    result = await fetcher.fetch(f"http://127.0.0.1:{closed_port()}/feed.xml")
    assert result.status == 0 and result.error == "connection refused"


@pytest.mark.parametrize("url", ["http://", "http://[::1", "https://exa mple.com/x"])
async def test_malformed_urls_are_errors_not_exceptions(fetcher, url):
    """A malformed URL in the feed list yields status 0 and an error line."""
    result = await fetcher.fetch(url)
    assert result.status == 0 and result.error


async def test_local_file_then_not_modified(tmp_path, fetcher):
    """An operator's local file reads as 200 with a hash, then 304 until it changes."""
    path = tmp_path / "feed.xml"
    path.write_bytes(BODY)
    first = await fetcher.fetch(str(path))
    assert first.ok and first.body == BODY and first.body_hash == hashlib.sha256(BODY).hexdigest()
    second = await fetcher.fetch(str(path), first.validators)
    assert second.status == 304 and second.body is None
    path.write_bytes(BODY + b"\n")
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    third = await fetcher.fetch(str(path), first.validators)
    assert third.ok and third.body == BODY + b"\n"


async def test_local_file_url_and_errors(tmp_path, fetcher):
    """file:// URLs from the operator work; missing and oversized files and odd schemes are errors."""
    path = tmp_path / "feed.xml"
    path.write_bytes(BODY)
    assert (await fetcher.fetch(path.as_uri())).body == BODY
    missing = await fetcher.fetch(str(tmp_path / "nope.xml"))
    assert missing.status == 0 and "cannot read" in missing.error
    big = tmp_path / "big.xml"
    big.write_bytes(b" " * (1024 * 1024 + 1))
    assert (await fetcher.fetch(str(big))).error == "body larger than 1 MB"
    assert "unsupported scheme" in (await fetcher.fetch("gopher://x.example/feed")).error


async def test_per_host_concurrency_is_bounded(feed_server):
    """No more than per_host requests are in flight to one host, however many feeds it serves."""
    for i in range(12):
        feed_server.set_feed(f"/c{i}.xml", BODY, latency=0.15)
    async with Fetcher(per_host=3, max_concurrency=32) as f:
        results = await asyncio.gather(*(f.fetch(feed_server.url(f"/c{i}.xml")) for i in range(12)))
    assert all(r.ok for r in results)
    assert feed_server.max_in_flight == 3


async def test_a_busy_host_keeps_its_concurrency_and_reuses_its_connections(feed_server):
    """With per_host above one httpx pool's size, a host still gets per_host requests at once, over at most per_host connections that the next round reuses."""
    port = int(feed_server.url("/").rsplit(":", 1)[1].split("/")[0])

    def our_connections() -> set[int]:
        return {c.laddr.port for c in psutil.Process().net_connections(kind="tcp")
                if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED}

    for i in range(40):
        feed_server.set_feed(f"/busy{i}.xml", BODY, latency=0.05)
    urls = [feed_server.url(f"/busy{i}.xml") for i in range(40)]
    async with Fetcher(per_host=10, max_concurrency=64) as f:
        first = await asyncio.gather(*(f.fetch(u) for u in urls))
        opened = our_connections()
        second = await asyncio.gather(*(f.fetch(u, r.validators) for u, r in zip(urls, first)))
        reused = our_connections()
    assert [r.status for r in first] == [200] * 40 and [r.status for r in second] == [304] * 40
    assert feed_server.max_in_flight == 10
    assert 0 < len(opened) <= 10
    assert reused == opened  # keep-alive: the second round opened no connection


async def test_caller_supplied_transport_is_used_and_not_closed(feed_server):
    """An injected httpx transport carries the requests (redirects and gzip still handled here) and stays open."""
    feed_server.set_feed("/inj.xml", BODY * 20, gzip=True)
    feed_server.redirect("/inj-moved", "/inj.xml", 301)
    calls = []

    class Recording(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request):
            calls.append(str(request.url))
            return await super().handle_async_request(request)

    transport = Recording()
    f = Fetcher(transport)
    result = await f.fetch(feed_server.url("/inj-moved"))
    await f.aclose()
    assert result.ok and result.body == BODY * 20
    assert result.permanent_url == feed_server.url("/inj.xml")
    assert calls == [feed_server.url("/inj-moved"), feed_server.url("/inj.xml")]
    async with httpx.AsyncClient(transport=transport) as still_open:  # aclose left it usable
        assert (await still_open.get(feed_server.url("/inj.xml"))).status_code == 200


def test_feed_server_in_thread_serves_synchronous_clients():
    """FeedServer.in_thread serves plain synchronous clients (for subprocess tests) and logs requests."""
    from tests.servers.feedserver import FeedServer
    with FeedServer.in_thread() as srv:
        srv.set_feed("/t.xml", BODY)
        response = httpx.get(srv.url("/t.xml"))
        assert response.status_code == 200 and response.content == BODY
        assert len(srv.requests("/t.xml")) == 1
        gz = httpx.get(srv.url("/t.xml"), headers={"If-None-Match": response.headers["etag"]})
        assert gz.status_code == 304
