"""The digest's picture: a timeline of the period, one lane per watchlist.

Each story is a filled circle at its first-seen time, its area growing with its number of
sources; baseline timeline events that fall inside the period are hollow grey diamonds, and the
most recent baseline event before the period is named at the lane's left edge, so the reader
sees what the new developments follow on from. Times are in the digest time zone.

matplotlib is optional (``pip install 'watchbot[chart]'``). It is imported only here and only
when a chart is drawn; rendering uses the Agg canvas directly (no pyplot, no display, no global
backend state), so it works on a headless server and inside the daemon.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

from bot.digest import Digest

INSTALL_HINT = "the chart needs matplotlib: pip install 'watchbot[chart]'"


class ChartUnavailable(RuntimeError):
    """matplotlib is not installed; ``str()`` says how to install it."""


def chart_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _label(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def render_chart(digest: Digest, path: Path | str, *, width_px: int = 1200, dpi: int = 100) -> Path:
    """Draw the digest's timeline to a PNG at ``path`` and return the path.

    Raises ChartUnavailable when matplotlib is missing.
    """
    try:
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D
    except ImportError:
        raise ChartUnavailable(INSTALL_HINT) from None

    zone = digest.since.tzinfo
    lanes = list(digest.watchlists)
    height_in = 1.6 + 0.7 * max(1, len(lanes))
    fig = Figure(figsize=(width_px / dpi, height_in), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    fig.subplots_adjust(left=0.24, right=0.97, top=0.86, bottom=0.2 if len(lanes) <= 2 else 0.12)
    x0, x1 = date2num(digest.since), date2num(digest.until)
    pad = (x1 - x0) * 0.02
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(-0.7, max(1, len(lanes)) - 0.3)
    ax.invert_yaxis()  # first watchlist on top
    ax.set_title(f"watchbot digest · {digest.since:%Y-%m-%d %H:%M} – {digest.until:%Y-%m-%d %H:%M} "
                 f"({digest.tz}) · {digest.stories} new developments", fontsize=10, loc="left", pad=22)

    max_sources = max((s.sources for w in lanes for s in w.stories), default=1)
    for y, section in enumerate(lanes):
        ax.axhline(y, color="#dddddd", linewidth=1, zorder=0)
        if section.stories:
            xs = [date2num(s.first_seen) for s in section.stories]
            sizes = [60 + 340 * (s.sources / max_sources) for s in section.stories]
            ax.scatter(xs, [y] * len(xs), s=sizes, color="#1f77b4", alpha=0.75,
                       edgecolors="#0b3d66", linewidths=0.8, zorder=3)
            for s, x in zip(section.stories, xs):
                if s.sources > 1:
                    ax.annotate(str(s.sources), (x, y), ha="center", va="center", fontsize=7,
                                color="white", zorder=4)
        inside, before = [], []
        for event in section.baseline:
            start = datetime.combine(event.start, time(0), tzinfo=zone)
            end = datetime.combine(event.end, time(0), tzinfo=zone) + timedelta(days=1)
            (inside if end > digest.since and start < digest.until else before).append((event, start))
        for event, start in inside:
            x = date2num(max(start, digest.since))
            ax.scatter([x], [y], marker="D", s=70, facecolors="none", edgecolors="#777777",
                       linewidths=1.5, zorder=2)
        if before:
            event = max(before, key=lambda pair: pair[1])[0]
            ax.annotate(f"◂ baseline {event.start.isoformat()}: {_label(event.id, 34)}",
                        (x0, y), xytext=(4, -11), textcoords="offset points", fontsize=7,
                        color="#777777", va="center")
    if not lanes:
        ax.text((x0 + x1) / 2, 0, "no new developments", ha="center", va="center", color="#777777")

    ax.set_yticks(range(len(lanes)))
    ax.set_yticklabels([_label(w.title, 36) for w in lanes], fontsize=9)
    locator = AutoDateLocator(tz=zone)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=zone))
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.legend(handles=[
        Line2D([], [], marker="o", linestyle="", color="#1f77b4", markersize=8,
               label="new development (size = sources)"),
        Line2D([], [], marker="D", linestyle="", markerfacecolor="none", markeredgecolor="#777777",
               markersize=7, label="baseline event"),
    ], loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, fontsize=8, frameon=False,
        borderaxespad=0.2)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


__all__ = ["render_chart", "chart_available", "ChartUnavailable", "INSTALL_HINT"]
