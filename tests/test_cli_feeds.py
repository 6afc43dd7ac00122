"""`watchbot feeds import/add/list/remove`: the feed list keeps what the operator gave it."""

from __future__ import annotations

import json
import re

from bot.config import load_feeds
from tests.feedgen import rss
from tests.servers.feedserver import FeedServer
from tests.test_check import project, watchbot
from tests.test_pipeline import OLD

INCOMING = """<?xml version="1.0"?>
<opml version="1.0">
<head><title>From another reader</title></head>
<body>
  <outline text="Caucasus">
    <outline TEXT="Outlet A" XMLURL="https://a.example/rss/" htmlUrl="https://a.example/" type="rss"/>
    <outline text="Outlet B" xmlurl="https://b.example/feed" htmlurl="https://b.example/"/>
  </outline>
  <outline text="Typo" xmlUrl="www.typo.example/rss"/>
  <outline text="No URL at all" type="rss"/>
</body>
</opml>
"""


def test_import_keeps_folders_titles_html_urls_and_invalid_outlines(tmp_path):
    """Import reads attributes case-insensitively, keeps folders, titles and htmlUrl, treats /rss and /rss/ as one feed, reports invalid outlines at file:line:column and keeps them, and writes a backup."""
    cfg = project(tmp_path, opml_body='<outline text="A" xmlUrl="https://a.example/rss"/>\n')
    before = (tmp_path / "feeds.opml").read_text()
    (tmp_path / "other.opml").write_text(INCOMING, encoding="utf-8")
    run = watchbot(tmp_path, "--config", str(cfg), "feeds", "import", "other.opml")
    assert run.returncode == 0, run.stderr
    assert "3 feeds added (2 with problems, kept), 1 already listed" in run.stdout
    assert re.search(r"other\.opml:9:3: feed www\.typo\.example/rss: .*did you mean https://www\.typo\.example/rss\?",
                     run.stderr), run.stderr
    assert re.search(r"other\.opml:10:3: outline of type rss has no xmlUrl", run.stderr), run.stderr
    assert (tmp_path / "feeds.opml.bak").read_text() == before
    text = (tmp_path / "feeds.opml").read_text()
    assert 'htmlurl="https://b.example/"' in text and 'text="Caucasus"' in text
    assert "www.typo.example/rss" in text and "No URL at all" in text
    listed = watchbot(tmp_path, "--config", str(cfg), "feeds", "list", "--json")
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["url"], r["folder"]) for r in rows] == [
        ("https://a.example/rss", None), ("https://b.example/feed", "Caucasus"),
        ("www.typo.example/rss", None), ("", None)]
    assert rows[1]["title"] == "Outlet B" and rows[1]["html_url"] == "https://b.example/"
    feeds, problems = load_feeds(tmp_path / "feeds.opml")
    assert [f.url for f in feeds] == ["https://a.example/rss", "https://b.example/feed"]
    assert len(problems) == 2  # check keeps pointing at the kept, broken outlines


def test_import_dry_run_shows_the_change_and_writes_nothing(tmp_path):
    """`feeds import --dry-run` lists what would be added and leaves the feed list untouched."""
    cfg = project(tmp_path)
    before = (tmp_path / "feeds.opml").read_text()
    (tmp_path / "other.opml").write_text(INCOMING, encoding="utf-8")
    run = watchbot(tmp_path, "--config", str(cfg), "feeds", "import", "--dry-run", "other.opml")
    assert run.returncode == 0, run.stderr
    assert "+ https://b.example/feed  Outlet B  [Caucasus]" in run.stdout
    assert "dry run: would add 4 feeds (2 with problems), 0 already listed" in run.stdout
    assert (tmp_path / "feeds.opml").read_text() == before
    assert not (tmp_path / "feeds.opml.bak").exists()


def test_add_finds_the_feed_of_a_web_page_then_list_and_remove(tmp_path):
    """`feeds add PAGE` adds the feed the page announces with its title; `list` shows it; `remove` takes it out; removing an unlisted URL exits 1."""
    with FeedServer.in_thread() as srv:
        srv.set_feed("/news/rss.xml", rss("Outlet News", OLD))
        srv.set_feed("/", '<html><head><title>Outlet</title><link rel="alternate" '
                          'type="application/rss+xml" title="RSS" href="/news/rss.xml"></head><body>hi</body></html>',
                     content_type="text/html; charset=utf-8")
        cfg = project(tmp_path)
        run = watchbot(tmp_path, "--config", str(cfg), "feeds", "add", srv.url("/"), "--folder", "Caucasus/Baku")
        assert run.returncode == 0, run.stderr
        assert f"it announces the feed {srv.url('/news/rss.xml')}" in run.stderr
        assert f"added {srv.url('/news/rss.xml')} (Outlet News)" in run.stdout
        again = watchbot(tmp_path, "--config", str(cfg), "feeds", "add", srv.url("/news/rss.xml/"))
        assert again.returncode == 0 and "already listed" in again.stdout
        srv.set_feed("/plain", "<html><body>no feed here</body></html>", content_type="text/html")
        none = watchbot(tmp_path, "--config", str(cfg), "feeds", "add", srv.url("/plain"))
        assert none.returncode == 1 and "announces none" in none.stderr
    listed = watchbot(tmp_path, "--config", str(cfg), "feeds", "list")
    assert listed.stdout.strip() == f"{srv.url('/news/rss.xml')}  Outlet News  [Caucasus / Baku]"
    gone = watchbot(tmp_path, "--config", str(cfg), "feeds", "remove", srv.url("/news/rss.xml"))
    assert gone.returncode == 0, gone.stderr
    assert watchbot(tmp_path, "--config", str(cfg), "feeds", "list").stdout == ""
    missing = watchbot(tmp_path, "--config", str(cfg), "feeds", "remove", "https://nowhere.example/rss")
    assert missing.returncode == 1 and "is not in" in missing.stderr
