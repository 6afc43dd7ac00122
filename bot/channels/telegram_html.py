"""Telegram HTML: render an alert, measure and split messages the way Telegram counts them.

Rendering contract (``render_alert``): every string that came from a feed is HTML-escaped
(``html.escape``; ``quote=True`` inside attributes), only http(s) links become ``<a href>``
(anything else — ``javascript:``, ``data:``, relative — is shown as text or dropped), and the
result is at most 4096 characters after entity parsing, counted in UTF-16 code units, which is
how Telegram measures (Bot API, "sendMessage": "1-4096 characters after entities parsing";
entity offsets are UTF-16). A feed therefore cannot inject markup, links or oversize text.
``fit_html`` packs longer texts (the digest) into several messages, never splitting a tag.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timezone
from typing import Sequence

from bot.models import Alert, Source, StoryMessage
from bot.text import cut, one_line, safe_url, utf16_len

TEXT_LIMIT = 4096  # Bot API sendMessage: 1-4096 characters after entities parsing
CAPTION_LIMIT = 1024  # Bot API sendPhoto: 0-1024 characters after entities parsing

# Field budgets (UTF-16 units) so the head of an alert stays well under the limit whatever a
# feed sends; the rest of the budget is for the "Also reported by" list.
_WATCHLIST_MAX = 150
_TITLE_MAX = 400
_OUTLET_MAX = 100
_EXCERPT_MAX = 300
_TERMS_MAX = 400

_TAG_OR_ENTITY = re.compile(r"<[^<>]*>|&(?:#\d+|#[xX][0-9A-Fa-f]+|[A-Za-z]+);")


def esc(text: str) -> str:
    """Feed text escaped for Telegram HTML outside attributes."""
    return html.escape(text, quote=False)


def html_link(text_html: str, url: str | None) -> str:
    """``text_html`` linked to ``url`` if it is a plain http(s) URL (``safe_url``), else as is."""
    safe = safe_url(url)
    if safe is None:
        return text_html
    return f'<a href="{html.escape(safe, quote=True)}">{text_html}</a>'


def visible_length(html_text: str) -> int:
    """Length of Telegram HTML after entity parsing, in UTF-16 code units.

    Tags count 0; ``&lt;``/``&#NNN;`` count as the character they stand for. Leading and
    trailing whitespace is included (Telegram trims it, so this never under-counts).
    """
    return utf16_len(html_to_plain(html_text))


def html_to_plain(html_text: str) -> str:
    """The visible text of Telegram HTML (tags removed, entities decoded)."""
    return html.unescape(re.sub(r"<[^<>]*>", "", html_text))


def _fmt_time(published: datetime | None) -> str:
    if published is None:
        return ""
    if published.tzinfo is None:
        published = published.replace(tzinfo=timezone.utc)
    return published.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


def render_alert(message: StoryMessage) -> tuple[str, str]:
    """(html, plain) of a story's message: its first post, or the edit that lists its sources.

    Layout: watchlist title(s); the linked item title; outlet · publication time (UTC); a short
    excerpt cut at a word; the matched terms; then, when ``message.others`` is not empty, "Also
    reported by:" with one linked outlet (+language) per source, trimmed with "and N more" so
    both versions stay within 4096 UTF-16 units. ``others`` may include the item's own report;
    it is skipped (same link or same outlet+title).
    """
    item, matches, sources = message.item, message.matches, message.others
    html_lines: list[str] = []
    plain_lines: list[str] = []

    def add(h: str, p: str) -> None:
        html_lines.append(h)
        plain_lines.append(p)

    names = list(dict.fromkeys(one_line(m.title or m.watchlist) for m in matches))
    if not names and message.watchlist:
        names = [one_line(message.watchlist)]
    heading = cut(" · ".join(n for n in names if n), _WATCHLIST_MAX)
    # No "(update)" label: an edit re-renders the story's ORIGINAL message, which stays the
    # first report; the "Also reported by" list is what changes.
    if heading:
        add(f"🔔 <b>{esc(heading)}</b>", f"🔔 {heading}")

    title_line, outlet_line = one_line(item.title), one_line(item.outlet)
    title = cut(title_line, _TITLE_MAX) or "(untitled)"
    url = safe_url(item.link)
    add(f"<b>{html_link(esc(title), url)}</b>", title)

    outlet = cut(outlet_line, _OUTLET_MAX)
    when = _fmt_time(item.published)
    meta = " · ".join(x for x in (outlet, when) if x)
    if meta:
        add(f"<i>{esc(meta)}</i>", meta)
    if url:
        plain_lines.append(url)

    summary = one_line(item.summary)
    if summary and summary != title_line:
        excerpt = cut(summary, _EXCERPT_MAX)
        add("", "")
        add(esc(excerpt), excerpt)

    terms = [t for t in dict.fromkeys(one_line(t) for m in matches for t in m.terms) if t]
    if terms:
        shown = cut(", ".join(terms), _TERMS_MAX)
        add("", "")
        add(f"<i>Matched:</i> {esc(shown)}", f"Matched: {shown}")

    own = (outlet_line, title_line)
    others = [s for s in sources
              if not ((url and safe_url(s.link) == url)
                      or (one_line(s.outlet), one_line(s.title)) == own)]
    seen: set[tuple[str, str | None]] = set()
    uniq: list[Source] = []
    for s in others:
        key = (one_line(s.outlet) or one_line(s.title), safe_url(s.link))
        if key not in seen:
            seen.add(key)
            uniq.append(s)

    if uniq:
        head_html = "\n".join(html_lines)
        head_plain = "\n".join(plain_lines)
        header = "\n\n<b>Also reported by:</b>"
        header_plain = "\n\nAlso reported by:"
        reserve = 40  # room for "\n…and NNNN more"
        used_h = visible_length(head_html) + visible_length(header)
        used_p = utf16_len(head_plain) + utf16_len(header_plain)
        # The two versions are trimmed independently: plain carries the URLs, so it fits
        # fewer sources, and the HTML (the one normally shown) should not pay for that.
        lines_h: list[str] = []
        lines_p: list[str] = []
        full_h = full_p = False
        for i, s in enumerate(uniq):
            name = cut(one_line(s.outlet) or one_line(s.title) or "source", _OUTLET_MAX)
            lang = cut(one_line(s.language), 12)
            suffix = f" ({lang})" if lang else ""
            link = safe_url(s.link)
            line_h = f"\n• {html_link(esc(name), link)}{esc(suffix)}"
            line_p = f"\n• {name}{suffix}" + (f" {link}" if link else "")
            room = TEXT_LIMIT - (0 if i == len(uniq) - 1 else reserve)
            if not full_h and used_h + visible_length(line_h) <= room:
                lines_h.append(line_h)
                used_h += visible_length(line_h)
            else:
                full_h = True
            if not full_p and used_p + utf16_len(line_p) <= room:
                lines_p.append(line_p)
                used_p += utf16_len(line_p)
            else:
                full_p = True
            if full_h and full_p:
                break
        tail_h = header + "".join(lines_h)
        tail_p = header_plain + "".join(lines_p)
        if len(uniq) > len(lines_h):
            tail_h += f"\n…and {len(uniq) - len(lines_h)} more"
        if len(uniq) > len(lines_p):
            tail_p += f"\n…and {len(uniq) - len(lines_p)} more"
        return head_html + tail_h, head_plain + tail_p
    return "\n".join(html_lines), "\n".join(plain_lines)


def alert_text(alert: Alert) -> tuple[str, str]:
    """(html, plain) an outbox entry sends: the text it carries (the pipeline's render just
    before sending, or an older state file's row), else its story rendered now."""
    if alert.content is not None and not (alert.text or alert.plain):
        return render_alert(alert.content)
    return alert.text, alert.plain


def _tokens(block: str) -> list[tuple[str, str]]:
    """Split Telegram HTML into ("tag", "<b>") / ("text", "word ") / ("ent", "&amp;") tokens."""
    out: list[tuple[str, str]] = []
    pos = 0
    for m in _TAG_OR_ENTITY.finditer(block):
        if m.start() > pos:
            out.extend(("text", w) for w in re.findall(r"\S+\s*|\s+", block[pos:m.start()]))
        out.append(("tag" if m.group().startswith("<") else "ent", m.group()))
        pos = m.end()
    if pos < len(block):
        out.extend(("text", w) for w in re.findall(r"\S+\s*|\s+", block[pos:]))
    return out


def _split_block(block: str, limit: int) -> list[str]:
    """Split one oversize block between words (or characters), closing and reopening tags."""
    chunks: list[str] = []
    stack: list[tuple[str, str]] = []  # (name, opening tag)
    cur: list[str] = []
    used = 0

    def flush() -> None:
        nonlocal cur, used
        closers = "".join(f"</{name}>" for name, _ in reversed(stack))
        body = "".join(cur)
        if html_to_plain(body).strip():
            chunks.append(body + closers)
        cur = [open_tag for _, open_tag in stack]
        used = 0

    for kind, tok in _tokens(block):
        if kind == "tag":
            m = re.match(r"<(/?)([A-Za-z][\w-]*)", tok)
            if m and m.group(1):
                if stack:
                    stack.pop()
            elif m:
                stack.append((m.group(2).lower(), tok))
            cur.append(tok)
            continue
        width = visible_length(tok)
        if used + width <= limit:
            cur.append(tok)
            used += width
            continue
        if used:
            flush()
        if width <= limit:
            cur.append(tok)
            used += width
            continue
        for ch in tok:  # a single "word" longer than a message: cut by characters
            w = utf16_len(ch)
            if used + w > limit:
                flush()
            cur.append(ch)
            used += w
    body = "".join(cur)
    if html_to_plain(body).strip():
        chunks.append(body)
    return chunks


def fit_html(blocks: Sequence[str], limit: int = TEXT_LIMIT, *, sep: str = "\n") -> list[str]:
    """Pack HTML blocks into as few messages as possible, each <= ``limit`` visible units.

    Blocks are joined with ``sep`` and never split while they fit; a block that alone exceeds
    the limit is split between words (characters as a last resort), never inside a tag or an
    entity, with open tags closed at the end of a part and reopened at the start of the next.
    Every block is assumed to be well-formed Telegram HTML on its own.
    """
    messages: list[str] = []
    current = ""
    sep_len = visible_length(sep)
    for block in blocks:
        if not html_to_plain(block).strip():
            continue
        parts = [block] if visible_length(block) <= limit else _split_block(block, limit)
        for part in parts:
            if not current:
                current = part
            elif visible_length(current) + sep_len + visible_length(part) <= limit:
                current = current + sep + part
            else:
                messages.append(current)
                current = part
    if current:
        messages.append(current)
    return messages

