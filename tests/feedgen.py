"""Build small RSS 2.0 documents for tests and the demo (escaping done right, dates RFC 822)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class Entry:
    title: str
    link: str
    published: datetime
    summary: str = ""
    guid: str | None = None


def rss(title: str, entries: list[Entry], *, link: str = "https://example.org/", language: str = "en",
        ttl: int | None = None) -> bytes:
    """An RSS 2.0 document with the given entries, newest first as outlets publish them."""
    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
             f"<title>{escape(title)}</title><link>{escape(link)}</link><language>{language}</language>"
             f"<description>{escape(title)}</description>"]
    if ttl:
        parts.append(f"<ttl>{ttl}</ttl>")
    for e in sorted(entries, key=lambda e: e.published, reverse=True):
        parts.append(
            f"<item><title>{escape(e.title)}</title><link>{escape(e.link)}</link>"
            f"<guid isPermaLink=\"false\">{escape(e.guid or e.link)}</guid>"
            f"<pubDate>{format_datetime(e.published)}</pubDate>"
            f"<description>{escape(e.summary)}</description></item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")
