"""Reading and editing OPML feed lists while keeping everything an operator wrote.

Feed readers export OPML with every spelling of the attributes (``xmlUrl``, ``xmlurl``,
``XMLURL``), folders as nested outlines, titles and ``htmlUrl``. ``read_outlines`` reads them
case-insensitively and remembers the line and column of each outline (expat reports positions;
ElementTree drops them), so problems point at ``feeds.opml:12:5``. ``OpmlDocument`` edits a list
in place (add, remove, merge): attributes, folders and outlines the bot cannot use are kept, so
an import or a removal never silently drops what a human put there.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit
from xml.parsers import expat

__all__ = ["Outline", "OpmlError", "read_outlines", "feed_key", "OpmlDocument", "attr", "write_atomically",
           "discover_feed_links"]


class OpmlError(Exception):
    """The file is not XML; ``line``/``column`` are 1-based."""

    def __init__(self, message: str, line: int | None, column: int | None):
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


@dataclass(frozen=True)
class Outline:
    """One ``<outline>``: attributes with lower-cased names, position, enclosing folders."""

    attrs: dict[str, str]
    line: int
    column: int
    folders: tuple[str, ...] = ()
    has_children: bool = False
    original: dict[str, str] | None = None  # the attributes as written (names in their case)

    def get(self, name: str, default: str = "") -> str:
        return self.attrs.get(name.lower(), default)


def attr(element: ET.Element, name: str) -> str | None:
    """An attribute of an OPML element, whatever the case of its name."""
    wanted = name.lower()
    for key, value in element.attrib.items():
        if key.lower() == wanted:
            return value
    return None


def read_outlines(data: bytes) -> list[Outline]:
    """Every outline of an OPML document in document order. Raises OpmlError on bad XML."""
    parser = expat.ParserCreate()
    outlines: list[dict] = []
    stack: list[dict | None] = []  # open elements; dicts for outlines

    def start(name: str, attrs: dict[str, str]) -> None:
        if name.lower() != "outline":
            stack.append(None)
            return
        lowered = {k.lower(): v for k, v in attrs.items()}
        folders = tuple((o["attrs"].get("title") or o["attrs"].get("text") or "")
                        for o in stack if o is not None)
        record = {"attrs": lowered, "original": dict(attrs), "line": parser.CurrentLineNumber,
                  "column": parser.CurrentColumnNumber + 1, "folders": folders, "children": False}
        for o in reversed(stack):
            if o is not None:
                o["children"] = True
                break
        outlines.append(record)
        stack.append(record)

    def end(name: str) -> None:
        stack.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise OpmlError(f"not valid OPML/XML: {expat.ErrorString(exc.code)}", exc.lineno,
                        exc.offset + 1) from None
    return [Outline(o["attrs"], o["line"], o["column"], o["folders"], o["children"], o["original"])
            for o in outlines]


_HOSTLIKE = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+(:\d+)?$", re.IGNORECASE)


def looks_like_host(path_text: str) -> bool:
    """'www.example.com/rss' was meant as a URL: its first segment is a host name."""
    first = path_text.split("/", 1)[0]
    return bool(_HOSTLIKE.match(first)) and not first.lower().endswith(
        (".xml", ".rss", ".atom", ".opml", ".json", ".txt"))


def feed_key(url: str) -> str:
    """The identity of a feed URL for "listed twice": scheme and host case-insensitive, default
    port dropped, and a trailing slash ignored (``/rss`` and ``/rss/`` are one feed)."""
    if "://" not in url:
        return url.rstrip("/") or url
    parts = urlsplit(url)
    if parts.scheme.lower() == "file":  # file:///a/b.xml and /a/b.xml are one file
        return unquote(parts.path).rstrip("/") or "/"
    host = (parts.hostname or "").lower()
    port = parts.port
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    netloc = host if port in (None, default) else f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), netloc, path, parts.query, ""))


class OpmlDocument:
    """An OPML file as an element tree, edited in place and written back whole."""

    def __init__(self, root: ET.Element):
        self.root = root
        body = root.find("body")
        if body is None:
            body = ET.SubElement(root, "body")
        self.body = body

    @classmethod
    def empty(cls, title: str = "watchbot feeds") -> "OpmlDocument":
        root = ET.Element("opml", version="2.0")
        ET.SubElement(ET.SubElement(root, "head"), "title").text = title
        ET.SubElement(root, "body")
        return cls(root)

    @classmethod
    def parse(cls, data: bytes) -> "OpmlDocument":
        read_outlines(data)  # the same errors, with positions, as every other reader
        return cls(ET.fromstring(data))

    @classmethod
    def load(cls, path: Path) -> "OpmlDocument":
        return cls.parse(Path(path).read_bytes()) if Path(path).exists() else cls.empty()

    def feed_elements(self) -> list[tuple[ET.Element, ET.Element]]:
        """(parent, outline) for each outline with an xmlUrl, in document order."""
        found = []

        def walk(parent: ET.Element) -> None:
            for child in list(parent):
                if child.tag.lower() != "outline":
                    continue
                if (attr(child, "xmlUrl") or "").strip():
                    found.append((parent, child))
                walk(child)
        walk(self.body)
        return found

    def urls(self) -> dict[str, ET.Element]:
        return {feed_key((attr(e, "xmlUrl") or "").strip()): e for _, e in self.feed_elements()}

    def folder(self, names: tuple[str, ...]) -> ET.Element:
        """The (nested) folder outline with these titles, created if missing."""
        node = self.body
        for name in names:
            match = next((c for c in node if c.tag.lower() == "outline"
                          and not (attr(c, "xmlUrl") or "").strip()
                          and (attr(c, "title") or attr(c, "text") or "") == name), None)
            if match is None:
                match = ET.SubElement(node, "outline", {"text": name, "title": name})
            node = match
        return node

    def add(self, attrs: dict[str, str], folders: tuple[str, ...] = ()) -> ET.Element:
        return ET.SubElement(self.folder(folders), "outline", attrs)

    def remove(self, url: str) -> ET.Element | None:
        """Remove the outline of ``url`` (same identity as ``feed_key``); None if not listed."""
        key = feed_key(url.strip())
        for parent, element in self.feed_elements():
            if feed_key((attr(element, "xmlUrl") or "").strip()) == key:
                parent.remove(element)
                return element
        return None

    def text(self) -> str:
        root = self.root
        for element in root.iter():  # re-indent cleanly: old whitespace would pile up
            if element.text is not None and not element.text.strip():
                element.text = None
            if element.tail is not None and not element.tail.strip():
                element.tail = None
        ET.indent(root)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_atomically(path: Path, text: str, *, backup: bool = True) -> Path | None:
    """Replace ``path`` with ``text`` in one rename (a crash leaves the old or the new file,
    never half of one); the previous version is kept as ``<name>.bak``. Returns the backup."""
    path = Path(path)
    saved = None
    if backup and path.exists():
        saved = path.with_name(path.name + ".bak")
        saved.write_bytes(path.read_bytes())
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return saved


_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json",
               "application/rdf+xml", "text/xml", "application/xml")


def discover_feed_links(html_text: str, base_url: str) -> list[tuple[str, str]]:
    """(absolute URL, title) of each ``<link rel="alternate" type="application/rss+xml">`` (or
    Atom) in a web page, in page order: how browsers and feed readers find a site's feed."""
    from html.parser import HTMLParser
    from urllib.parse import urljoin

    found: list[tuple[str, str]] = []

    class Links(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag.lower() != "link":
                return
            a = {k.lower(): (v or "") for k, v in attrs}
            rels = a.get("rel", "").lower().split()
            if "alternate" in rels and a.get("type", "").lower().split(";")[0].strip() in _FEED_TYPES \
                    and a.get("href"):
                found.append((urljoin(base_url, a["href"].strip()), a.get("title", "")))

    parser = Links(convert_charrefs=True)
    parser.feed(html_text)
    parser.close()
    return found
