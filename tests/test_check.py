"""`watchbot check` accepts exactly what `run` accepts, and says where every problem is."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, TOKEN
from tests.servers.botapi import DEFAULT_CHAT, BotApiStandIn
from tests.servers.feedserver import FeedServer
from tests.feedgen import rss
from tests.test_pipeline import OLD


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WATCHBOT_"))}
    env.update(extra)
    return env


def project(tmp_path: Path, toml: str = "", opml_body: str = "", watchlists: Path | None = None) -> Path:
    """A config folder: watchbot.toml (shipped watchlists unless given) and feeds.opml."""
    (tmp_path / "watchbot.toml").write_text(
        f'WATCHBOT_WATCHLISTS = "{watchlists or REPO / "watchlists"}"\nWATCHBOT_STATE = "state"\n'
        f"WATCHBOT_PARSE_WORKERS = 0\n{toml}", encoding="utf-8")
    (tmp_path / "feeds.opml").write_text(f'<opml version="2.0">\n<body>\n{opml_body}</body>\n</opml>\n',
                                         encoding="utf-8")
    return tmp_path / "watchbot.toml"


def watchbot(tmp_path: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True,
                          env=env or _env(), timeout=120, cwd=tmp_path)


def lists_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "lists"
    shutil.copytree(REPO / "watchlists", folder)
    return folder


def test_check_refuses_a_digest_cron_the_daemon_would_die_on(tmp_path):
    """An impossible hour in WATCHBOT_DIGEST_CRON fails check with watchbot.toml:line:column, like run."""
    cfg = project(tmp_path, 'WATCHBOT_DIGEST_CRON = "0 25 * * *"\n')
    run = watchbot(tmp_path, "--config", str(cfg), "check")
    assert run.returncode == 2, run.stdout
    assert re.search(r"watchbot\.toml:4:24: .*WATCHBOT_DIGEST_CRON.*25", run.stderr), run.stderr
    assert "Traceback" not in run.stderr


def test_check_refuses_a_digest_period_and_watchlist_run_cannot_use(tmp_path):
    """'1 day' as WATCHBOT_DIGEST_SINCE and an unknown id in WATCHBOT_DIGEST_WATCHLISTS both fail check; run refuses the id too."""
    cfg = project(tmp_path, 'WATCHBOT_DIGEST_SINCE = "1 day"\nWATCHBOT_DIGEST_WATCHLISTS = "akkuyu, aktau_crsh"\n')
    run = watchbot(tmp_path, "--config", str(cfg), "check")
    assert run.returncode == 2
    assert re.search(r"watchbot\.toml:4:\d+: WATCHBOT_DIGEST_SINCE", run.stderr), run.stderr
    assert "unknown watchlist 'aktau_crsh' (did you mean aktau_crash?)" in run.stderr
    cfg = project(tmp_path, 'WATCHBOT_DIGEST_WATCHLISTS = "aktau_crsh"\n')
    daemon = watchbot(tmp_path, "--config", str(cfg), "run", "--once")
    assert daemon.returncode == 2 and "aktau_crsh" in daemon.stderr


def test_a_timeline_topic_typo_is_located_and_refused(tmp_path):
    """A timeline event tagged with a topic no watchlist has fails check at timeline.yaml:line:column with a suggestion."""
    folder = lists_copy(tmp_path)
    timeline = folder / "timeline.yaml"
    text = timeline.read_text(encoding="utf-8")
    timeline.write_text(text.replace("topics: [aktau_crash]", "topics: [aktau_crsh]", 1), encoding="utf-8")
    line = next(i for i, l in enumerate(timeline.read_text().splitlines(), 1) if "aktau_crsh" in l)
    cfg = project(tmp_path, watchlists=folder)
    run = watchbot(tmp_path, "--config", str(cfg), "check")
    assert run.returncode == 2
    assert re.search(rf"timeline\.yaml:{line}:\d+: .*unknown topic 'aktau_crsh' \(did you mean aktau_crash\?\)",
                     run.stderr), run.stderr


def test_a_yml_watchlist_is_loaded_not_ignored(tmp_path):
    """A watchlist saved as .yml is loaded by check and used by try, instead of being silently skipped."""
    folder = lists_copy(tmp_path)
    (folder / "akkuyu.yaml").rename(folder / "akkuyu.yml")
    cfg = project(tmp_path, watchlists=folder)
    run = watchbot(tmp_path, "--config", str(cfg), "check")
    assert run.returncode == 0, run.stderr
    assert "akkuyu" in run.stdout
    tried = watchbot(tmp_path, "--config", str(cfg), "try", "Rosatom is selling its 49% stake in Akkuyu NPP to Turkish investors")
    assert "akkuyu" in tried.stdout, tried.stdout


def test_a_feed_url_without_scheme_is_located_with_a_suggestion(tmp_path):
    """xmlUrl="www.example.com/rss" is reported at feeds.opml:line:column with "did you mean https://", not read as a file."""
    cfg = project(tmp_path, opml_body='<outline text="ok" xmlUrl="https://a.example/rss"/>\n'
                                      '  <outline text="typo" xmlUrl="www.example.com/rss"/>\n'
                                      '<outline xmlUrl="https://a.example/rss/"/>\n')
    run = watchbot(tmp_path, "--config", str(cfg), "check")
    assert run.returncode == 2
    assert re.search(r"feeds\.opml:4:3: feed www\.example\.com/rss: .*did you mean https://www\.example\.com/rss\?",
                     run.stderr), run.stderr
    assert re.search(r"feeds\.opml:5:1: feed https://a\.example/rss/: listed twice", run.stderr), run.stderr


def test_unknown_setting_names_get_did_you_mean_with_position(tmp_path):
    """TELEGRAM_CHATID in the file is reported at its line and column with the right name suggested."""
    cfg = project(tmp_path, 'TELEGRAM_CHATID = "@x"\n')
    run = watchbot(tmp_path, "--config", str(cfg), "check")
    assert run.returncode == 2
    assert "watchbot.toml:4:1: unknown setting 'TELEGRAM_CHATID' (did you mean TELEGRAM_CHAT_ID?)" in run.stderr
    env_typo = watchbot(tmp_path, "--config", str(cfg.with_name("none.toml")), "check",
                        env=_env(WATCHBOT_INTERVALL="5"))
    assert "did you mean WATCHBOT_INTERVAL?" in env_typo.stderr


def test_every_problem_is_reported_at_once(tmp_path):
    """A TOML syntax error does not hide a broken watchlist or a bad feed: one run lists them all."""
    folder = lists_copy(tmp_path)
    (folder / "akkuyu.yaml").write_text("id: akkuyu\n  bad: [indent\n", encoding="utf-8")
    cfg = project(tmp_path, "WATCHBOT_INTERVAL = = 5\n", opml_body='<outline xmlUrl="ftp://x.example/f"/>\n')
    cfg.write_text(cfg.read_text().replace(str(REPO / "watchlists"), str(folder)))
    run = watchbot(tmp_path, "--config", str(cfg), "check")
    assert run.returncode == 2
    assert re.search(r"watchbot\.toml:4:\d+: not valid TOML", run.stderr), run.stderr
    assert "akkuyu.yaml:" in run.stderr
    assert "ftp://x.example/f" in run.stderr


def test_check_json_lists_problems_with_positions(tmp_path):
    """`check --json` prints one object with ok=false and each problem's path, line and column."""
    cfg = project(tmp_path, 'WATCHBOT_DIGEST_CRON = "0 25 * * *"\n')
    run = watchbot(tmp_path, "--config", str(cfg), "check", "--json")
    assert run.returncode == 2
    out = json.loads(run.stdout)
    assert out["ok"] is False
    assert [(p["line"], p["column"]) for p in out["problems"]] == [(4, 24)]
    good = watchbot(tmp_path, "--config", str(project(tmp_path)), "check", "--json")
    assert good.returncode == 0 and json.loads(good.stdout)["ok"] is True


def test_settings_fails_on_a_broken_file_and_shows_sources(tmp_path):
    """`settings` exits 2 on a broken file instead of printing defaults, and otherwise says where each value came from."""
    cfg = project(tmp_path, "WATCHBOT_INTERVAL = -5\n")
    broken = watchbot(tmp_path, "--config", str(cfg), "settings")
    assert broken.returncode == 2 and "WATCHBOT_INTERVAL" in broken.stderr
    cfg = project(tmp_path, "WATCHBOT_INTERVAL = 300\n")
    run = watchbot(tmp_path, "--config", str(cfg), "settings", env=_env(WATCHBOT_JITTER="7"))
    assert run.returncode == 0, run.stderr
    assert re.search(r"WATCHBOT_INTERVAL = 300  \(.*watchbot\.toml:4\)", run.stdout), run.stdout
    assert "WATCHBOT_JITTER = 7  (environment)" in run.stdout
    assert "WATCHBOT_TIMEOUT = 60.0  (default)" in run.stdout


def test_check_online_and_run_refuse_a_chat_telegram_does_not_know(tmp_path):
    """Against the Bot API stand-in, `check --online` and `run` refuse @no_such_channel (exit 2); the right chat passes."""
    with FeedServer.in_thread() as srv, BotApiStandIn.in_thread() as api:
        srv.set_feed("/news.rss", rss("News", OLD))
        cfg = project(tmp_path, f'TELEGRAM_API_URL = "{api.root}"\n',
                      opml_body=f'<outline xmlUrl="{srv.url("/news.rss")}"/>\n'
                                f'<outline xmlUrl="{srv.url("/gone.rss")}"/>\n')
        bad = _env(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_CHAT_ID="@no_such_channel")
        offline = watchbot(tmp_path, "--config", str(cfg), "check", env=bad)
        assert offline.returncode == 0, offline.stderr  # neither the chat nor the feeds are asked offline
        online = watchbot(tmp_path, "--config", str(cfg), "check", "--online", env=bad)
        assert online.returncode == 2
        assert "@no_such_channel" in online.stderr and "chat not found" in online.stderr.lower()
        assert re.search(r"feeds\.opml:4:1: feed .*/gone\.rss: HTTP 404", online.stderr), online.stderr
        assert TOKEN not in online.stderr + online.stdout
        daemon = watchbot(tmp_path, "--config", str(cfg), "run", "--once", env=bad)
        assert daemon.returncode == 2 and "chat not found" in daemon.stderr.lower()
        assert api.messages() == []
        good = _env(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_CHAT_ID=str(DEFAULT_CHAT))
        project(tmp_path, f'TELEGRAM_API_URL = "{api.root}"\n', opml_body=f'<outline xmlUrl="{srv.url("/news.rss")}"/>\n')
        ok = watchbot(tmp_path, "--config", str(cfg), "check", "--online", env=good)
        assert ok.returncode == 0, ok.stderr
        assert "telegram: bot @watchbot_standin_bot can see chat" in ok.stdout
        assert srv.requests("/news.rss"), "check --online fetched the feed"


def test_a_timeline_topic_of_an_absent_watchlist_is_only_a_warning(tmp_path):
    """With a subset of the watchlists, timeline events of the others are a warning, not a refusal."""
    folder = lists_copy(tmp_path)
    (folder / "akkuyu.yaml").unlink()
    cfg = project(tmp_path, watchlists=folder)
    run = watchbot(tmp_path, "--config", str(cfg), "check")
    assert run.returncode == 0, run.stderr
    assert re.search(r"warning: .*timeline\.yaml:\d+:\d+: .*no watchlist has topic 'akkuyu'", run.stderr), run.stderr


def test_run_once_polls_while_telegram_answers_its_start_up_calls(tmp_path):
    """`run --once` sends its first feed request before Telegram has answered getMe, and still refuses an unknown chat (exit 2, nothing sent)."""
    latency = 1.0  # every Bot API answer: far longer than starting the fetches takes
    with FeedServer.in_thread() as srv, BotApiStandIn.in_thread(latency=latency) as api:
        srv.set_feed("/news.rss", rss("News", OLD))
        cfg = project(tmp_path, f'TELEGRAM_API_URL = "{api.root}"\n',
                      opml_body=f'<outline xmlUrl="{srv.url("/news.rss")}"/>\n')
        good = watchbot(tmp_path, "--config", str(cfg), "run", "--once",
                        env=_env(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_CHAT_ID=str(DEFAULT_CHAT)))
        assert good.returncode == 0, good.stderr
        first_get_me = api.call_times[api.calls.index("getMe")]
        assert srv.requests("/news.rss")[0].time < first_get_me + latency
        bad = watchbot(tmp_path, "--config", str(cfg), "run", "--once",
                       env=_env(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_CHAT_ID="@no_such_channel"))
        assert bad.returncode == 2 and "chat not found" in bad.stderr.lower()
        assert api.messages() == []


def test_impossible_timeline_dates_and_one_file_listed_twice_are_located(tmp_path):
    """An impossible timeline date is reported at its line and column, and a file listed as a path and as file:// is one feed listed twice."""
    folder = lists_copy(tmp_path)
    timeline = folder / "timeline.yaml"
    timeline.write_text(timeline.read_text(encoding="utf-8").replace('date: "2024-12-25"', 'date: "2024-02-30"', 1),
                        encoding="utf-8")
    line = next(i for i, l in enumerate(timeline.read_text().splitlines(), 1) if "2024-02-30" in l)
    feed = tmp_path / "feed.xml"
    feed.write_bytes(b"<rss/>")
    cfg = project(tmp_path, watchlists=folder,
                  opml_body=f'<outline xmlUrl="feed.xml"/>\n<outline xmlUrl="file://{feed}"/>\n')
    run = watchbot(tmp_path, "--config", str(cfg), "check")
    assert run.returncode == 2
    assert re.search(rf"timeline\.yaml:{line}:11: events\[0\] \(aktau-crash\): date: day is out of range", run.stderr), run.stderr
    assert re.search(rf"feeds\.opml:4:1: feed file://{re.escape(str(feed))}: listed twice", run.stderr), run.stderr


def test_check_refuses_a_local_feed_that_run_would_not_read(tmp_path):
    """A local feed file outside WATCHBOT_LOCAL_FEEDS fails check at its outline, as run refuses it; inside, it passes."""
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "feed.xml").write_bytes(rss("Archived", OLD))
    cfg = project(tmp_path, opml_body='<outline xmlUrl="archive/feed.xml"/>\n')
    run = watchbot(tmp_path, "--config", str(cfg), "check")
    assert run.returncode == 2
    assert re.search(r"feeds\.opml:3:1: feed .*archive/feed\.xml: a local file outside WATCHBOT_LOCAL_FEEDS "
                     rf".*\(add {re.escape(str(archive.resolve()))} to WATCHBOT_LOCAL_FEEDS\)", run.stderr), run.stderr
    daemon = watchbot(tmp_path, "--config", str(cfg), "run", "--once")
    assert "WATCHBOT_LOCAL_FEEDS" in daemon.stderr
    cfg = project(tmp_path, 'WATCHBOT_LOCAL_FEEDS = "archive"\n', opml_body='<outline xmlUrl="archive/feed.xml"/>\n')
    assert watchbot(tmp_path, "--config", str(cfg), "check").returncode == 0
    assert watchbot(tmp_path, "--config", str(cfg), "run", "--once").returncode == 0
