"""The Bot API stand-in itself: Telegram's HTML rules, and the subprocess entry point."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import telegram
from telegram.error import BadRequest

from tests.servers.botapi import DEFAULT_CHAT, EntityError, parse_html

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("text", [
    "a < b", "fish & chips", "<script>x</script>", "<b>open", "<b><i>x</b></i>", "</b>",
    '<a href="">x</a>', "&nbsp;", "<code><b>x</b></code>", '<a href="https://a"><a href="https://b">x</a></a>',
    '<span class="other">x</span>',
])
def test_html_that_telegram_refuses_is_refused(text):
    """Unsupported tags, bad nesting, bare < or &, unknown entities raise EntityError."""
    with pytest.raises(EntityError):
        parse_html(text)


def test_supported_html_parses_to_visible_text_and_utf16_entities():
    """Supported tags become entities with UTF-16 offsets; entities decode to characters."""
    visible, entities = parse_html(
        '😀 <b>bold &amp; <a href="https://x.org/?a=1&amp;b=2">link</a></b> '
        '<tg-spoiler>s</tg-spoiler> <pre><code class="language-py">1 &lt; 2</code></pre> &#128512;')
    assert visible == "😀 bold & link s 1 < 2 😀"
    assert {"type": "text_link", "offset": 10, "length": 4,
            "url": "https://x.org/?a=1&b=2"} in entities
    assert {"type": "bold", "offset": 3, "length": 11} in entities


def test_entry_point_serves_and_dumps_messages_on_sigterm(tmp_path):
    """`python -m tests.servers.botapi` prints its root, serves PTB and dumps JSON on SIGTERM."""
    dump = tmp_path / "messages.json"
    proc = subprocess.Popen([sys.executable, "-m", "tests.servers.botapi", "--port", "0",
                             "--dump", str(dump)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        root = proc.stdout.readline().strip()
        assert root.startswith("http://127.0.0.1:")

        async def send() -> None:
            bot = telegram.Bot("1:abc", base_url=f"{root}/bot", base_file_url=f"{root}/file/bot")
            async with bot:
                await bot.send_message(DEFAULT_CHAT, "<i>hello</i>", parse_mode="HTML")
                with pytest.raises(BadRequest, match="(?i)chat not found"):
                    await bot.send_message(-5, "x")

        import asyncio
        asyncio.run(send())
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    data = json.loads(dump.read_text(encoding="utf-8"))
    [msg] = data[str(DEFAULT_CHAT)]
    assert msg["visible"] == "hello" and msg["text"] == "<i>hello</i>"
