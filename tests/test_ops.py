"""The operator's side of `run`: exit codes, the cycle's log line, retries, where --config goes."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.store import Store
from tests.feedgen import rss
from tests.servers.feedserver import FeedServer
from tests.test_check import project, watchbot
from tests.test_pipeline import OLD


def test_run_once_logs_one_cycle_line_and_retries_a_failed_feed_soon(tmp_path):
    """One INFO line sums up the cycle (polled, new, seeded, alerts, updates, failing), and a first failure is retried after a minute, not two intervals."""
    with FeedServer.in_thread() as srv:
        srv.set_feed("/good.rss", rss("Good", OLD))
        srv.set_status("/bad.rss", 500)
        cfg = project(tmp_path, "WATCHBOT_INTERVAL = 900\n",
                      opml_body=f'<outline xmlUrl="{srv.url("/good.rss")}"/><outline xmlUrl="{srv.url("/bad.rss")}"/>\n')
        run = watchbot(tmp_path, "run", "--once", "--config", str(cfg))
    assert run.returncode == 0, run.stderr
    lines = [l for l in run.stderr.splitlines() if " INFO " in l and "cycle:" in l]
    assert len(lines) == 1, run.stderr
    assert re.search(rf"cycle: 2 feeds polled, 0 new items, {len(OLD)} seeded on first sight, 0 alerts, "
                     r"0 updates, 1 feeds failing \(.*/bad\.rss\); 0 sent, 0 pending", lines[0]), lines[0]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00 INFO ", lines[0]), lines[0]
    store = Store(tmp_path / "state" / "watchbot.sqlite3")
    try:
        bad = next(fs for fs in store.feed_states() if fs.url.endswith("/bad.rss"))
    finally:
        store.close()
    assert bad.consecutive_errors == 1
    assert bad.next_check - bad.last_fetch == timedelta(seconds=60)


def test_run_once_exits_1_when_every_feed_failed(tmp_path):
    """A cycle in which every feed failed is a failed cycle: exit 1, not 0."""
    with FeedServer.in_thread() as srv:
        srv.set_status("/bad.rss", 500)
        cfg = project(tmp_path, opml_body=f'<outline xmlUrl="{srv.url("/bad.rss")}"/>\n')
        run = watchbot(tmp_path, "--config", str(cfg), "run", "--once")
    assert run.returncode == 1, run.stderr
    assert "every feed failed" in run.stderr


def test_usage_errors_have_their_own_exit_code(tmp_path):
    """An unknown option exits 64, distinct from 2 (unusable configuration)."""
    cfg = project(tmp_path)
    run = watchbot(tmp_path, "--config", str(cfg), "check", "--no-such-option")
    assert run.returncode == 64, run.stderr
    assert "No such option" in run.stderr


def test_config_is_accepted_after_the_subcommand(tmp_path):
    """`watchbot check --config FILE` reads FILE just like `watchbot --config FILE check`."""
    cfg = project(tmp_path / "elsewhere" if (tmp_path / "elsewhere").mkdir() is None else tmp_path)
    run = watchbot(tmp_path, "check", "--config", str(cfg))
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("ok: 0 feeds")
    missing = watchbot(tmp_path, "check", "--config", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "nope.toml: configuration file not found" in missing.stderr


def test_json_log_format_prints_one_object_per_line(tmp_path):
    """WATCHBOT_LOG_FORMAT=json turns every log line into a JSON object with time, level and message."""
    import json

    cfg = project(tmp_path, 'WATCHBOT_LOG_FORMAT = "json"\n')
    run = watchbot(tmp_path, "--config", str(cfg), "run", "--once")
    assert run.returncode == 0, run.stderr
    records = [json.loads(l) for l in run.stderr.splitlines() if l.startswith("{")]
    cycle = [r for r in records if r["message"].startswith("cycle:")]
    assert len(cycle) == 1 and cycle[0]["level"] == "INFO" and cycle[0]["time"].endswith("+00:00")


def test_status_fits_100_columns_in_feed_list_order_without_removed_feeds(tmp_path):
    """`status` lines are at most 100 columns, feeds come in feed-list order, and a feed removed from the list is left out; --json agrees."""
    import json

    with FeedServer.in_thread() as srv:
        srv.set_feed("/z-first.rss", rss("Zulu outlet", OLD))
        srv.set_feed("/a-second.rss", rss("Alpha outlet", OLD))
        long = "/" + "very-long-path-segment/" * 6 + "feed.rss"
        srv.set_status(long, 503)
        urls = [srv.url("/z-first.rss"), srv.url("/a-second.rss"), srv.url(long), srv.url("/dropped.rss")]
        srv.set_feed("/dropped.rss", rss("Dropped outlet", OLD))
        cfg = project(tmp_path, opml_body="".join(f'<outline xmlUrl="{u}"/>\n' for u in urls))
        assert watchbot(tmp_path, "--config", str(cfg), "run", "--once").returncode == 0
    (tmp_path / "feeds.opml").write_text((tmp_path / "feeds.opml").read_text().replace(
        f'<outline xmlUrl="{urls[3]}"/>', ""), encoding="utf-8")
    run = watchbot(tmp_path, "--config", str(cfg), "status", env=None)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert max(len(l) for l in lines) <= 100, "\n".join(l for l in lines if len(l) > 100)
    assert "Dropped outlet" not in run.stdout
    assert run.stdout.index("Zulu outlet") < run.stdout.index("Alpha outlet")
    assert "HTTP 503" in " ".join(run.stdout.split())
    data = json.loads(watchbot(tmp_path, "--config", str(cfg), "status", "--json").stdout)
    assert [f["url"] for f in data["feeds"]] == urls[:3]
    assert data["feeds"][2]["http_status"] == 503 and data["feeds"][2]["errors"] == 1
    assert data["outbox"]["pending"] == 0


def test_try_json_gives_matches_terms_and_decision(tmp_path):
    """`try --json` prints one object per item with the matched watchlist, its terms and the decision's reasons."""
    import json

    cfg = project(tmp_path)
    run = watchbot(tmp_path, "--config", str(cfg), "try", "--json",
                   "Картавых освобождён и направляется в Россию из Баку")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert [m["watchlist"] for m in out["matches"]] == ["sputnik_azerbaijan"]
    assert any(h["text"] == "Картавых" for h in out["matches"][0]["hits"])
    assert out["decision"]["kind"] in ("alert", "known", "update") and out["decision"]["reasons"]


def test_feeds_are_fetched_through_watchbot_proxy_or_the_environment_proxy(tmp_path):
    """A feed on a host only the proxy can reach is fetched through WATCHBOT_PROXY, and through HTTP_PROXY when that is unset; NO_PROXY sends a host direct."""
    from tests.servers.proxy import ForwardProxy
    from tests.test_check import _env

    with FeedServer.in_thread() as srv, ForwardProxy.in_thread() as proxy:
        srv.set_feed("/news.rss", rss("Proxied outlet", OLD))
        url = f"http://feeds.example:{srv.port}/news.rss"
        cfg = project(tmp_path, f'WATCHBOT_PROXY = "{proxy.url}"\n', opml_body=f'<outline xmlUrl="{url}"/>\n')
        run = watchbot(tmp_path, "--config", str(cfg), "run", "--once")
        assert run.returncode == 0, run.stderr
        assert proxy.requests == [url]
        cfg = project(tmp_path, opml_body=f'<outline xmlUrl="{url}"/>\n')
        check = watchbot(tmp_path, "--config", str(cfg), "check", "--online", env=_env(HTTP_PROXY=proxy.url))
        assert check.returncode == 0, check.stderr
        assert proxy.requests == [url, url]
        direct = watchbot(tmp_path, "--config", str(cfg), "check", "--online",
                          env=_env(HTTP_PROXY=proxy.url, NO_PROXY="feeds.example"))
        assert direct.returncode == 2 and len(proxy.requests) == 2  # not proxied: the name does not resolve


def test_run_once_summary_and_status_agree_on_pending(tmp_path):
    """With Telegram unreachable, the cycle's line and `status --json` report the same pending count, and the cycle still exits 0 (transient)."""
    import json
    import socket
    from datetime import datetime, timezone

    from tests.conftest import TOKEN
    from tests.feedgen import Entry
    from tests.test_check import _env

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    recent = datetime.now(timezone.utc) - timedelta(hours=1)
    entry = Entry("Sputnik Azerbaijan editor-in-chief Yevgeny Belousov released in Baku",
                  "https://news.example/belousov", recent,
                  "Security forces released Sputnik Azerbaijan editor-in-chief Yevgeny Belousov, who flew to Moscow.")
    with FeedServer.in_thread() as srv:
        srv.set_feed("/news.rss", rss("News", [entry]))
        cfg = project(tmp_path, f'TELEGRAM_API_URL = "http://127.0.0.1:{dead}"\nWATCHBOT_BACKFILL = 5\n',
                      opml_body=f'<outline xmlUrl="{srv.url("/news.rss")}"/>\n')
        env = _env(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_CHAT_ID="-1001")
        run = watchbot(tmp_path, "--config", str(cfg), "run", "--once", env=env)
    assert run.returncode == 0, run.stderr
    line = next(l for l in run.stderr.splitlines() if "cycle:" in l)
    pending = int(re.search(r"(\d+) pending", line).group(1))
    status = json.loads(watchbot(tmp_path, "--config", str(cfg), "status", "--json", env=env).stdout)
    assert pending == status["outbox"]["pending"] == 1, line
