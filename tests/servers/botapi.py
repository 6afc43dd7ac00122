"""A local stand-in for the Telegram Bot API, spoken to by the REAL python-telegram-bot client.

    async with BotApiStandIn() as api:              # same event loop as the test
        bot = telegram.Bot(token, base_url=f"{api.root}/bot", base_file_url=f"{api.root}/file/bot")
    with BotApiStandIn.in_thread() as api:          # own loop in a thread; usable from any loop
        api.messages(chat_id)
    python -m tests.servers.botapi --port 8081 --dump messages.json   # for subprocess tests

What it enforces, as Telegram does (https://core.telegram.org/bots/api):
- answers in Telegram's JSON shapes, so PTB raises its real exceptions
  ({"ok":false,"error_code":400,"description":"Bad Request: ..."} → BadRequest, 403 → Forbidden,
  429 with parameters.retry_after → RetryAfter, 502 → NetworkError);
- message text 1..4096 characters and captions up to 1024, counted AFTER entity parsing in
  UTF-16 code units ("Formatting options": entity offsets/lengths are UTF-16);
- parse_mode=HTML: only the documented tags, properly nested and closed, only &lt; &gt; &amp;
  &quot; and numeric character references; anything else is "can't parse entities";
- unknown chat → 400 "chat not found"; kicked → 403; editing to identical content → 400
  "message is not modified".

Fault injection (thread-safe setters; take effect on the next request):
- ``api.fail_429(k, retry_after)``: the next k method calls answer 429;
- ``api.fail_502_every(n)``: every n-th method call answers 502 (0 turns it off);
- ``api.delay_next(seconds, k=1)``: the next k sends are STORED, then answered only after
  ``seconds`` (longer than the client's read timeout → the ambiguous "maybe sent" case);
- ``api.down()`` / ``api.up()``: stop listening and drop open connections (connection refused),
  then listen again on the same port.
- ``api.answer_raw_next(body, status=200, content_type=..., k=1)``: the next k sends get
  exactly this answer and are NOT carried out (a proxy's HTML page, ``{"ok": false}`` with no
  error code, ``result: null``, a result without ``message_id``);
- ``api.echo_path_next(k=1)``: the next k sends answer 400 "Bad Request: ..." quoting the
  request path, which holds the bot token (as some Bot API front ends do).

Every accepted message is recorded per chat (message_id, text as sent, parse_mode, visible text,
entities, timestamp, and every edit) — see :meth:`BotApiStandIn.messages`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import itertools
import json
import re
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator
from urllib.parse import urlsplit

from aiohttp import web

_SENDS = ("sendmessage", "editmessagetext", "sendphoto")  # what the raw/echo faults answer
DEFAULT_CHAT = -1001234567890  # a channel id shape (-100 prefix) that exists unless removed
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024

# Telegram's HTML subset (Bot API "HTML style"). Attributes allowed per tag.
_TAGS: dict[str, set[str]] = {
    "b": set(), "strong": set(), "i": set(), "em": set(), "u": set(), "ins": set(),
    "s": set(), "strike": set(), "del": set(), "span": {"class"}, "tg-spoiler": set(),
    "a": {"href"}, "code": {"class"}, "pre": set(), "blockquote": {"expandable"},
    "tg-emoji": {"emoji-id"},
}
_ENTITY_TYPE = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
    "del": "strikethrough", "span": "spoiler", "tg-spoiler": "spoiler", "a": "text_link",
    "code": "code", "pre": "pre", "blockquote": "blockquote", "tg-emoji": "custom_emoji",
}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ATTR_RE = re.compile(r"""\s*([A-Za-z][\w-]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")


class EntityError(ValueError):
    """HTML that Telegram refuses; ``str()`` is the text after "can't parse entities: "."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: what Telegram counts (astral characters count 2)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _decode_entities(raw: str, base: int) -> str:
    """Decode the four named entities and numeric references; anything else is an error."""
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        m = re.match(r"&(?:#(\d{1,7})|#[xX]([0-9A-Fa-f]{1,6})|([A-Za-z]+));", raw[i:])
        offset = base + len(raw[:i].encode("utf-8", "surrogatepass"))
        if not m:
            raise EntityError(f"Character entity expected at byte offset {offset}")
        if m.group(3) is not None:
            name = m.group(3)
            if name not in _NAMED:
                raise EntityError(f'Unsupported HTML entity "&{name};" at byte offset {offset}')
            out.append(_NAMED[name])
        else:
            code = int(m.group(1)) if m.group(1) else int(m.group(2), 16)
            if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise EntityError(f"Invalid character reference at byte offset {offset}")
            out.append(chr(code))
        i += m.end()
    return "".join(out)


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into (visible text, entities with UTF-16 offsets) or raise EntityError.

    Rules: tags only from the supported set, each closed by the matching end tag in LIFO order;
    no tags inside <code>/<pre> except <code> directly in <pre>; <a> needs an href and is not
    nested; a bare "<" or "&" that does not start a tag or an entity is an error.
    """
    visible: list[str] = []
    vis_len = 0  # UTF-16 units emitted so far
    entities: list[dict[str, Any]] = []
    stack: list[tuple[str, int, dict[str, str]]] = []  # (tag, start offset, attrs)
    pos = 0
    tag_re = re.compile(r"<(/?)([A-Za-z][\w-]*)([^<>]*)>")
    while pos < len(text):
        lt = text.find("<", pos)
        chunk = text[pos:] if lt < 0 else text[pos:lt]
        if chunk:
            byte_base = len(text[:pos].encode("utf-8", "surrogatepass"))
            decoded = _decode_entities(chunk, byte_base)
            visible.append(decoded)
            vis_len += utf16_len(decoded)
        if lt < 0:
            break
        offset = len(text[:lt].encode("utf-8", "surrogatepass"))
        m = tag_re.match(text, lt)
        if not m:
            raise EntityError(f"Unclosed start tag at byte offset {offset}")
        closing, name, rest = m.group(1), m.group(2).lower(), m.group(3)
        if closing:
            if rest.strip():
                raise EntityError(f'Unexpected end tag "{name}" at byte offset {offset}')
            if not stack:
                raise EntityError(f"Unexpected end tag at byte offset {offset}")
            top, start, attrs = stack.pop()
            if top != name:
                raise EntityError(
                    f'Can\'t find end tag corresponding to start tag "{top}"' if name in _TAGS
                    else f'Unexpected end tag "{name}" at byte offset {offset}'
                )
            if vis_len > start:
                ent: dict[str, Any] = {"type": _ENTITY_TYPE[top], "offset": start,
                                       "length": vis_len - start}
                if top == "a":
                    ent["url"] = attrs["href"]
                if top == "span" and attrs.get("class") != "tg-spoiler":
                    raise EntityError(f'Unsupported start tag "span" at byte offset {offset}')
                if top == "code" and "class" in attrs:
                    ent["language"] = attrs["class"].removeprefix("language-")
                entities.append(ent)
        else:
            if name not in _TAGS:
                raise EntityError(f'Unsupported start tag "{name}" at byte offset {offset}')
            body = rest.rstrip()
            if body.endswith("/"):
                raise EntityError(f'Unsupported start tag "{name}/" at byte offset {offset}')
            attrs: dict[str, str] = {}
            apos = 0
            while body[apos:].strip():
                am = _ATTR_RE.match(body, apos)
                if not am or am.end() == apos:
                    raise EntityError(f"Expected equal sign in declaration of an attribute of "
                                      f"the tag at byte offset {offset}")
                value = next((g for g in am.group(2, 3, 4) if g is not None), "")
                attrs[am.group(1).lower()] = _decode_entities(value, offset)
                apos = am.end()
            attrs = {k: v for k, v in attrs.items() if k in _TAGS[name]}
            if stack and stack[-1][0] in ("code", "pre") and not (
                    stack[-1][0] == "pre" and name == "code"):
                raise EntityError(f'Unsupported start tag "{name}" inside "{stack[-1][0]}" '
                                  f"at byte offset {offset}")
            if name == "a":
                if any(t == "a" for t, _, _ in stack):
                    raise EntityError(f"Nested links are not allowed at byte offset {offset}")
                href = attrs.get("href", "")
                parts = urlsplit(href) if href else None
                if not href or not parts or not parts.scheme or re.search(r"\s", href):
                    raise EntityError(f'Wrong HTTP URL "{href}"')
            stack.append((name, vis_len, attrs))
        pos = m.end()
    if stack:
        raise EntityError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(visible), entities


@dataclass
class _Chat:
    id: int
    title: str
    kicked: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)


class _Rejection(Exception):
    def __init__(self, code: int, description: str, parameters: dict | None = None):
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


class BotApiStandIn:
    """The stand-in server. State lives here; the aiohttp app is rebuilt on every ``up()``."""

    def __init__(self, *, token: str | None = None, host: str = "127.0.0.1", port: int = 0,
                 chats: tuple[int, ...] = (DEFAULT_CHAT,), latency: float = 0.0) -> None:
        """``token``: if given, other tokens get 401 Unauthorized (PTB: InvalidToken).
        ``latency``: seconds before every answer (Telegram's round trip, for benchmarks)."""
        self.latency = latency
        self.token = token
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._chats: dict[int, _Chat] = {}
        self._ids = itertools.count(1)
        self._calls = 0
        self._fail_429: list[int] = []
        self._every_502 = 0
        self._delays: list[float] = []
        self._raw: list[tuple[int, str, str]] = []  # (status, content type, body)
        self._echo_path = 0
        self._runner: web.AppRunner | None = None
        self.calls: list[str] = []  # method names in arrival order (incl. rejected)
        self.call_times: list[float] = []  # time.time() of each arrival, same order as calls
        for chat in chats:
            self.add_chat(chat)

    # -- knobs --------------------------------------------------------------------------------
    def add_chat(self, chat_id: int | None = None, title: str = "Watchbot test channel") -> int:
        """Register a channel the bot may post to; returns its id (a fresh one if None)."""
        with self._lock:
            if chat_id is None:
                chat_id = -1002000000000 - len(self._chats)
            self._chats.setdefault(int(chat_id), _Chat(int(chat_id), title))
            return int(chat_id)

    def kick(self, chat_id: int) -> None:
        """The bot was removed from the channel: further calls get 403 Forbidden."""
        with self._lock:
            self._chats[int(chat_id)].kicked = True

    def fail_429(self, k: int, retry_after: int = 5, *, method: str | None = None) -> None:
        """The next k method calls (only calls of ``method``, e.g. "sendMessage", if given) get 429."""
        with self._lock:
            self._fail_429 = [retry_after] * k
            self._fail_429_method = method.lower() if method else None

    def fail_502_every(self, n: int) -> None:
        with self._lock:
            self._every_502 = n
            self._calls = 0

    def delay_next(self, seconds: float, k: int = 1) -> None:
        with self._lock:
            self._delays = [seconds] * k

    def answer_raw_next(self, body: str, *, status: int = 200,
                        content_type: str = "application/json", k: int = 1) -> None:
        with self._lock:
            self._raw = [(status, content_type, body)] * k

    def echo_path_next(self, k: int = 1) -> None:
        with self._lock:
            self._echo_path = k

    def reset_faults(self) -> None:
        with self._lock:
            self._fail_429, self._every_502, self._delays, self._calls = [], 0, [], 0
            self._raw, self._echo_path = [], 0

    # -- records ------------------------------------------------------------------------------
    def messages(self, chat_id: int = DEFAULT_CHAT) -> list[dict[str, Any]]:
        """Accepted messages of a chat, oldest first (deep copies; edits under "edits")."""
        with self._lock:
            chat = self._chats.get(int(chat_id))
            return json.loads(json.dumps(chat.messages)) if chat else []

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        with self._lock:
            return {str(c.id): json.loads(json.dumps(c.messages)) for c in self._chats.values()}

    @property
    def root(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- lifecycle ----------------------------------------------------------------------------
    async def up(self) -> None:
        """Listen (again) on ``port`` (the OS picks one the first time if it is 0)."""
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/file/bot{token}/{path:.*}", self._file)
        runner = web.AppRunner(app, shutdown_timeout=0.2, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        if self.port == 0:
            sock: socket.socket = site._server.sockets[0]  # type: ignore[union-attr]
            self.port = sock.getsockname()[1]
        self._runner = runner

    async def down(self) -> None:
        """Stop listening and drop keep-alive connections: clients now get connection refused."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> "BotApiStandIn":
        await self.up()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.down()

    @classmethod
    @contextlib.contextmanager
    def in_thread(cls, **kwargs: Any) -> Iterator["ThreadedBotApi"]:
        """Run a stand-in on its own event loop in a daemon thread (for sync or module fixtures)."""
        runner = ThreadedBotApi(cls(**kwargs))
        try:
            yield runner
        finally:
            runner.close()

    # -- protocol -----------------------------------------------------------------------------
    @staticmethod
    def _reply(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(code: int, description: str, parameters: dict | None = None) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=code)

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                params[key] = value if not isinstance(value, str) else value
        return params

    async def _file(self, request: web.Request) -> web.Response:
        return self._error(404, "Not Found")

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        token = request.match_info["token"]
        with self._lock:
            self.calls.append(method)
            self.call_times.append(time.time())
            self._calls += 1
            n = self._calls
            every = self._every_502
            only = getattr(self, "_fail_429_method", None)
            retry_after = self._fail_429.pop(0) if self._fail_429 and only in (None, method.lower()) else None
            raw = self._raw.pop(0) if self._raw and method.lower() in _SENDS else None
            echo = self._echo_path > 0 and method.lower() in _SENDS
            if echo:
                self._echo_path -= 1
        if raw is not None:
            return web.Response(status=raw[0], text=raw[2], content_type=raw[1])
        if echo:
            return self._error(400, f"Bad Request: unsupported request path {request.path}")
        if self.latency:
            await asyncio.sleep(self.latency)
        if every and n % every == 0:
            # Telegram's front end answers 502 with an HTML page, not JSON.
            return web.Response(status=502, text="<html><body><h1>502 Bad Gateway</h1></body></html>",
                                content_type="text/html")
        if self.token is not None and token != self.token:
            return self._error(401, "Unauthorized")
        if retry_after is not None:
            return self._error(429, f"Too Many Requests: retry after {retry_after}",
                               {"retry_after": retry_after})
        params = await self._params(request)
        handler = getattr(self, f"_m_{method.lower()}", None)
        if handler is None:
            return self._error(404, "Not Found: method not found")
        try:
            result = handler(params)
        except _Rejection as rej:
            return self._error(rej.code, rej.description, rej.parameters)
        if method.lower() in ("sendmessage", "editmessagetext", "sendphoto"):
            with self._lock:
                delay = self._delays.pop(0) if self._delays else 0.0
            if delay:
                # The message is already stored: the client's read timeout makes it ambiguous.
                await asyncio.sleep(delay)
        return self._reply(result)

    def _chat(self, params: dict[str, Any]) -> _Chat:
        raw = params.get("chat_id")
        try:
            chat_id = int(str(raw))
        except ValueError:
            raise _Rejection(400, "Bad Request: chat not found") from None
        chat = self._chats.get(chat_id)
        if chat is None:
            raise _Rejection(400, "Bad Request: chat not found")
        if chat.kicked:
            raise _Rejection(403, "Forbidden: bot was kicked from the channel chat")
        return chat

    @staticmethod
    def _parse(text: str, parse_mode: str | None, what: str = "message text"
               ) -> tuple[str, list[dict[str, Any]]]:
        if parse_mode and parse_mode.upper() == "HTML":
            try:
                visible, entities = parse_html(text)
            except EntityError as err:
                raise _Rejection(400, f"Bad Request: can't parse entities: {err}") from None
        elif parse_mode:
            if parse_mode not in ("Markdown", "MarkdownV2"):
                raise _Rejection(400, f"Bad Request: unsupported parse_mode {parse_mode}")
            visible, entities = text, []  # not used by watchbot; accepted as plain
        else:
            visible, entities = text, []
        # Telegram strips leading/trailing whitespace of the visible text; entities shift.
        stripped = visible.strip()
        lead = utf16_len(visible) - utf16_len(visible.lstrip())
        size = utf16_len(stripped)
        shifted = []
        for ent in entities:
            start = max(ent["offset"] - lead, 0)
            end = min(ent["offset"] + ent["length"] - lead, size)
            if end > start:
                shifted.append({**ent, "offset": start, "length": end - start})
        entities = shifted
        if not stripped and what == "message text":
            raise _Rejection(400, "Bad Request: message text is empty")
        return stripped, entities

    def _checked(self, params: dict[str, Any], field: str) -> tuple[str, str | None, str, list]:
        """The text or caption of a request, parsed and held to Telegram's length limit (which
        counts the visible text, after entity parsing, in UTF-16 units)."""
        text = str(params.get(field, ""))
        parse_mode = params.get("parse_mode") or None
        if field == "caption":
            visible, entities = self._parse(text, parse_mode, what="caption")
            if utf16_len(visible) > CAPTION_LIMIT:
                raise _Rejection(400, "Bad Request: message caption is too long")
        else:
            visible, entities = self._parse(text, parse_mode)
            if utf16_len(visible) > TEXT_LIMIT:
                raise _Rejection(400, "Bad Request: message is too long")
        return text, parse_mode, visible, entities

    def _message(self, chat: _Chat, mid: int, date: int, visible: str,
                 entities: list[dict[str, Any]], key: str = "text") -> dict[str, Any]:
        msg: dict[str, Any] = {
            "message_id": mid, "date": date,
            "chat": {"id": chat.id, "type": "channel", "title": chat.title},
            "sender_chat": {"id": chat.id, "type": "channel", "title": chat.title},
            key: visible,
        }
        if entities:
            msg["entities" if key == "text" else "caption_entities"] = entities
        return msg

    # Methods. Each returns the "result" or raises _Rejection.
    def _m_getme(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"id": 7000000001, "is_bot": True, "first_name": "Watchbot stand-in",
                "username": "watchbot_standin_bot", "can_join_groups": True,
                "can_read_all_group_messages": False, "supports_inline_queries": False}

    def _m_getchat(self, params: dict[str, Any]) -> dict[str, Any]:
        # Like Telegram: an unknown chat (or @name) is 400 "chat not found", a kicked bot 403.
        chat = self._chat(params)
        # ChatFullInfo: Bot API 7.3+ always sends accent_color_id and max_reaction_count.
        return {"id": chat.id, "type": "channel", "title": chat.title, "accent_color_id": 0,
                "max_reaction_count": 11}

    def _m_deletewebhook(self, params: dict[str, Any]) -> bool:
        return True

    def _m_getupdates(self, params: dict[str, Any]) -> list:
        return []

    def _m_sendmessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        text, parse_mode, visible, entities = self._checked(params, "text")
        with self._lock:
            mid, now = next(self._ids), time.time()
            chat.messages.append({
                "message_id": mid, "kind": "text", "text": text, "parse_mode": parse_mode,
                "visible": visible, "entities": entities, "timestamp": now, "edits": [],
            })
        return self._message(chat, mid, int(now), visible, entities)

    def _m_editmessagetext(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        try:
            mid = int(str(params.get("message_id")))
        except ValueError:
            raise _Rejection(400, "Bad Request: message identifier is not specified") from None
        text, parse_mode, visible, entities = self._checked(params, "text")
        with self._lock:
            msg = next((m for m in chat.messages if m["message_id"] == mid), None)
            if msg is None or msg["kind"] != "text":
                raise _Rejection(400, "Bad Request: message to edit not found")
            if msg["visible"] == visible and msg["entities"] == entities:
                raise _Rejection(400, "Bad Request: message is not modified: specified new "
                                      "message content and reply markup are exactly the same "
                                      "as a current content and reply markup of the message")
            now = time.time()
            msg["edits"].append({"text": text, "parse_mode": parse_mode, "visible": visible,
                                 "entities": entities, "timestamp": now})
            msg.update(text=text, parse_mode=parse_mode, visible=visible, entities=entities)
        out = self._message(chat, mid, int(msg["timestamp"]), visible, entities)
        out["edit_date"] = int(now)
        return out

    def _m_sendphoto(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        photo = params.get("photo")
        if photo is None or photo == "":
            raise _Rejection(400, "Bad Request: there is no photo in the request")
        if isinstance(photo, str):
            if photo.startswith("attach://"):
                raise _Rejection(400, "Bad Request: wrong file identifier/HTTP URL specified")
            data = b""
        else:
            data = photo.file.read()
            if not data:
                raise _Rejection(400, "Bad Request: file must be non-empty")
        caption, parse_mode, visible, entities = self._checked(params, "caption")
        with self._lock:
            mid, now = next(self._ids), time.time()
            chat.messages.append({
                "message_id": mid, "kind": "photo", "text": caption, "parse_mode": parse_mode,
                "visible": visible, "entities": entities, "timestamp": now, "edits": [],
                "photo_bytes": len(data),
            })
        msg = self._message(chat, mid, int(now), visible, entities, key="caption")
        msg["photo"] = [{"file_id": f"photo{mid}", "file_unique_id": f"u{mid}",
                         "width": 800, "height": 600, "file_size": len(data)}]
        return msg


class ThreadedBotApi:
    """A BotApiStandIn running on its own event loop in a daemon thread.

    Attribute access falls through to the stand-in (``api.root``, ``api.messages(...)``,
    knobs); ``down()``/``up()`` are synchronous here.
    """

    def __init__(self, standin: BotApiStandIn) -> None:
        self.standin = standin
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="botapi-standin")
        self._thread.start()
        self._run(standin.up())

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    def down(self) -> None:
        self._run(self.standin.down())

    def up(self) -> None:
        self._run(self.standin.up())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._run(self.standin.down())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.standin, name)


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGTERM/SIGINT; print the root URL; optionally dump messages to JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--token", default=None, help="accept only this token")
    parser.add_argument("--chat", type=int, action="append", help="known chat id (repeatable)")
    parser.add_argument("--dump", default=None, help="write accepted messages here on exit")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before every answer")
    args = parser.parse_args(argv)

    async def serve() -> None:
        api = BotApiStandIn(token=args.token, host=args.host, port=args.port,
                            chats=tuple(args.chat or (DEFAULT_CHAT,)), latency=args.latency)
        await api.up()
        print(api.root, flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await api.down()
        if args.dump:
            with open(args.dump, "w", encoding="utf-8") as fh:
                json.dump(api.dump(), fh, ensure_ascii=False, indent=1)

    asyncio.run(serve())


if __name__ == "__main__":
    main()
