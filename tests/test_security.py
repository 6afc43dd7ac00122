"""Security: the bot token never leaks; feed text cannot inject Telegram markup or links; only
http(s) or operator-configured local paths are ever read."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import pytest

from bot.config import load_feeds
from bot.channels.telegram import TelegramChannel
from bot.fetch import Fetcher
from bot.pipeline import Pipeline
from tests.conftest import DEFAULT_CHAT, REPO, TOKEN, make_settings
from tests.feedgen import Entry, rss
from tests.servers.botapi import BotApiStandIn
from tests.servers.feedserver import FeedServer

SECRET = "987654321:AAH-very-secret_token-Zz9"  # the shape of a real BotFather token


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _forms(secret: str) -> list[str]:
    """The token as text, URL-encoded, and its secret half alone."""
    return [secret, quote(secret, safe=""), secret.split(":", 1)[1]]


def _run_cli(tmp_path: Path, api_url: str, feed_url: str) -> subprocess.CompletedProcess:
    (tmp_path / "feeds.opml").write_text(f'<opml version="2.0"><body><outline xmlUrl="{feed_url}"/></body></opml>',
                                         encoding="utf-8")
    cfg = tmp_path / "watchbot.toml"
    cfg.write_text(f'WATCHBOT_WATCHLISTS = "{REPO / "watchlists"}"\nWATCHBOT_STATE = "state"\n'
                   f"WATCHBOT_PARSE_WORKERS = 0\nWATCHBOT_BACKFILL = 5\nWATCHBOT_LOG_LEVEL = \"DEBUG\"\n",
                   encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WATCHBOT_"))}
    env.update(TELEGRAM_BOT_TOKEN=SECRET, TELEGRAM_CHAT_ID=str(DEFAULT_CHAT), TELEGRAM_API_URL=api_url,
               TELEGRAM_ADMIN_CHAT_ID=str(DEFAULT_CHAT))
    return subprocess.run([sys.executable, "-m", "bot", "--config", str(cfg), "run", "--once"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)


def _assert_no_token(tmp_path: Path, *texts: str) -> None:
    state = b"".join(p.read_bytes() for p in (tmp_path / "state").glob("*") if p.is_file())
    for form in _forms(SECRET):
        for text in texts:
            assert form not in text, f"token form {form!r} leaked:\n{text[-2000:]}"
        assert form.encode() not in state, f"token form {form!r} stored in the state folder"


@pytest.mark.parametrize("api", ["rejects-token", "down"])
def test_token_never_appears_in_output_or_state(tmp_path, api):
    """With a Bot API that rejects the token or is unreachable, no output, traceback or stored error contains the token."""
    recent = datetime.now(timezone.utc) - timedelta(hours=1)
    entry = Entry("Sputnik Azerbaijan editor-in-chief Yevgeny Belousov released in Baku",
                  "https://news.example/belousov-released?utm_source=rss", recent,
                  "Security forces released Sputnik Azerbaijan editor-in-chief Yevgeny Belousov, who flew to Moscow.")
    with FeedServer.in_thread() as srv:
        srv.set_feed("/news.rss", rss("News", [entry]))
        if api == "rejects-token":
            with BotApiStandIn.in_thread(token="111:another-token") as stand_in:
                run = _run_cli(tmp_path, stand_in.root, srv.url("/news.rss"))
                assert stand_in.calls, "the CLI did talk to the API"
        else:
            run = _run_cli(tmp_path, f"http://127.0.0.1:{_free_port()}", srv.url("/news.rss"))
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    if api == "rejects-token":  # unusable configuration: exit 2 with a clear message
        assert run.returncode == 2 and "refused" in run.stderr
    else:  # transient: the cycle runs and the alert waits in the outbox
        assert run.returncode == 0, run.stderr[-2000:]
        assert "unreachable" in run.stderr
        db = sqlite3.connect(tmp_path / "state" / "watchbot.sqlite3")
        alerts = db.execute("SELECT count(*) FROM items WHERE decision='alert'").fetchone()[0]
        assert alerts == 1  # so a send was attempted against the dead API
        assert db.execute("SELECT count(*) FROM outbox WHERE status='pending'").fetchone()[0] == alerts
        db.close()
    _assert_no_token(tmp_path, run.stdout, run.stderr)


async def test_token_is_redacted_from_delivery_errors_and_logs(tmp_path, caplog):
    """Every SendOutcome error and log record of a channel whose API is down is free of the token."""
    import logging

    port = _free_port()
    channel = TelegramChannel(SECRET, DEFAULT_CHAT, api_url=f"http://127.0.0.1:{port}", min_interval=0,
                              network_retries=1, backoff=0.0)
    with caplog.at_level(logging.DEBUG):
        outcome = await channel.send_html("<b>x</b>", "x")
        await channel.aclose()
    assert outcome.status == "retry" and outcome.error
    everything = outcome.error + "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    for form in _forms(SECRET):
        assert form not in everything


HOSTILE_TITLE = ('Sputnik Azerbaijan editor-in-chief Yevgeny Belousov released in Baku '
                 '&lt;a href="https://evil.example/phish"&gt;claim prize&lt;/a&gt; &lt;b&gt;&amp;&lt;/b&gt;')
HOSTILE_SUMMARY = ('<![CDATA[Belousov <a href="https://evil.example/x">flew</a> to <b>Moscow</b> '
                   '<script>alert(1)</script> &lt;tg-spoiler&gt;s&lt;/tg-spoiler&gt; [link](https://evil.example/md) '
                   '<a href="javascript:alert(2)">js</a>]]>')


async def test_feed_text_cannot_inject_markup_or_links_end_to_end(tmp_path, feed_server, bot_api, clock):
    """A feed item full of HTML, Telegram tags, Markdown and javascript: links arrives as plain text with only our own link."""
    body = (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Evil &lt;i&gt;Outlet</title>'
            f"<link>https://evil.example/</link><item><title>{HOSTILE_TITLE}</title>"
            f"<link>javascript:alert(3)</link><guid>evil-1</guid><pubDate>Sat, 25 Oct 2025 10:00:00 GMT</pubDate>"
            f"<description>{HOSTILE_SUMMARY}</description></item></channel></rss>").encode()
    feed_server.set_feed("/evil.rss", body)
    settings = make_settings(tmp_path, [feed_server.url("/evil.rss")], watchbot_backfill=5)
    channel = TelegramChannel(TOKEN, DEFAULT_CHAT, api_url=bot_api.root, min_interval=0)
    await channel.start()
    pipeline = Pipeline.build(settings, channel=channel, clock=clock)
    try:
        report = await pipeline.run_once()
        assert report.sent == 1, report
    finally:
        await pipeline.aclose()
        await channel.aclose()
        pipeline.store.close()
    [message] = bot_api.messages(DEFAULT_CHAT)
    assert message["parse_mode"] == "HTML"  # accepted as HTML: the escaping held
    urls = [e.get("url", "") for e in message["entities"]]
    assert not any("evil" in u or "javascript" in u for u in urls), urls
    assert {e["type"] for e in message["entities"]} <= {"bold", "italic", "text_link", "blockquote"}
    visible = message["visible"]
    assert "claim prize" in visible  # the would-be link's words stay, without the link
    assert "<tg-spoiler>s</tg-spoiler>" in visible  # a literal Telegram tag is shown as text, not interpreted
    assert "alert(1)" not in visible  # script content dropped with the tag


def test_feed_list_accepts_only_http_or_local_paths(tmp_path):
    """The feed list refuses ftp:, gopher:, smb: and other schemes; http(s), file:// and paths are kept."""
    local = tmp_path / "archive.xml"
    local.write_bytes(rss("Archive", []))
    opml = tmp_path / "feeds.opml"
    refused = ["ftp://example.org/feed.xml", "gopher://example.org/1", "smb://server/share/feed.xml",
               "ldap://example.org/x", "jar:http://example.org/x.jar!/feed.xml"]
    kept = ["https://example.org/rss", "http://example.org/atom", f"file://{local}", str(local.with_name("other.xml"))]
    opml.write_text('<opml version="2.0"><body>' + "".join(f'<outline xmlUrl="{u}"/>' for u in refused + kept)
                    + "</body></opml>", encoding="utf-8")
    feeds, problems = load_feeds(opml)
    assert [f.url for f in feeds] == kept
    assert all(any(u in str(p) for p in problems) for u in refused)


@pytest.mark.parametrize("url, expect", [
    ("ftp://127.0.0.1/feed.xml", "unsupported scheme"),
    ("gopher://127.0.0.1/1", "unsupported scheme"),
    ("file://evil.example/etc/passwd", "remote host"),
])
async def test_fetcher_reads_nothing_but_http_and_local_files(url, expect):
    """The fetcher itself refuses other schemes and remote file:// hosts, returning an error instead of bytes."""
    async with Fetcher() as fetcher:
        result = await fetcher.fetch(url)
    assert result.status == 0 and result.body is None and expect in (result.error or "")


async def test_redirect_to_a_local_file_is_never_followed(feed_server, tmp_path):
    """A redirect to file:// (a path that exists) or another scheme is refused; the file's bytes are never returned."""
    secret = tmp_path / "secret.xml"
    secret.write_bytes(rss("Secret", []))
    feed_server.redirect("/to-file.rss", f"file://{secret}", 302)
    feed_server.redirect("/to-data.rss", "data:application/rss+xml,<rss/>", 301)
    async with Fetcher() as fetcher:
        for path in ("/to-file.rss", "/to-data.rss"):
            result = await fetcher.fetch(feed_server.url(path))
            assert result.status == 0 and result.body is None
            # httpx itself rejects some Location values (data:...) before our scheme check.
            assert "refused redirect" in (result.error or "") or "invalid URL" in (result.error or "")
        assert b"Secret" not in (result.body or b"")
