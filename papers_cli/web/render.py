"""HTML fragments the pages build in Python, every stored text escaped first: the
upvote chart (SVG drawn here: no script, no CDN), matches marked in a snippet, and a
full text's Markdown (raw HTML in it shown as text, unsafe links dropped, TeX kept
readable as TeX)."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
from html import escape
from typing import Any

from markupsafe import Markup

from papers_cli.core.sanitize import MARK_CLOSE, MARK_OPEN, neutralise_formula

CHART_W, CHART_H, PAD_L, PAD_R, PAD_T, PAD_B = 560, 180, 44, 16, 14, 30
# Characters that would reorder the text around them (bidi controls): shown as visible
# escapes, so a title cannot disguise what follows it.
_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
                          "\u200e\u200f\u061c"))
_BIDI_SHOWN = {k: f"\\u{k:04x}" for k in _BIDI}


def plain(text: Any) -> str:
    """A stored text for a page: bidi controls made visible (Jinja escapes the rest)."""
    return str(text or "").translate(_BIDI_SHOWN)


def marked(text: Any) -> Markup:
    """A snippet or title with the matched words in <mark>, the rest escaped."""
    body = escape(plain(text))
    return Markup(body.replace(MARK_OPEN, "<mark>").replace(MARK_CLOSE, "</mark>"))


def _day(text: str) -> int | None:
    try:
        return dt.date.fromisoformat(str(text)[:10]).toordinal()
    except ValueError:
        return None


def upvote_chart(history: list[dict[str, Any]]) -> Markup:
    """An SVG line chart of a paper's upvotes over time (one point a day observed)."""
    points = [(d, int(h["upvotes"]), str(h["date"])) for h in history
              if (d := _day(h.get("date", ""))) is not None and h.get("upvotes") is not None]
    if not points:
        return Markup('<p class="papers-muted">No upvote counts observed on a known day.</p>')
    x0, x1 = points[0][0], points[-1][0]
    top = max(max(p[1] for p in points), 1)
    w, h = CHART_W - PAD_L - PAD_R, CHART_H - PAD_T - PAD_B

    def xy(day: int, votes: int) -> tuple[float, float]:
        x = PAD_L + (w * (day - x0) / (x1 - x0) if x1 > x0 else w / 2)
        return round(x, 1), round(PAD_T + h - h * votes / top, 1)

    coords = [xy(d, v) for d, v, _ in points]
    line = " ".join(f"{x},{y}" for x, y in coords)
    dots = "".join(f'<circle cx="{x}" cy="{y}" r="3"><title>{escape(date)}: {v} upvotes'
                   f'</title></circle>' for (x, y), (_, v, date) in zip(coords, points,
                                                                         strict=True))
    base = PAD_T + h
    parts = [
        f'<svg class="papers-chart" role="img" aria-label="Upvotes over time" '
        f'xmlns="http://www.w3.org/2000/svg" width="{CHART_W}" height="{CHART_H}" '
        f'viewBox="0 0 {CHART_W} {CHART_H}">',
        "<title>Upvotes over time</title>",
        f'<line x1="{PAD_L}" y1="{base}" x2="{CHART_W - PAD_R}" y2="{base}" class="axis"/>',
        f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{base}" class="axis"/>',
        f'<text x="{PAD_L - 6}" y="{PAD_T + 4}" text-anchor="end">{top}</text>',
        f'<text x="{PAD_L - 6}" y="{base}" text-anchor="end">0</text>',
        f'<text x="{PAD_L}" y="{CHART_H - 8}">{escape(points[0][2])}</text>',
    ]
    if x1 > x0:
        parts.append(f'<text x="{CHART_W - PAD_R}" y="{CHART_H - 8}" text-anchor="end">'
                     f'{escape(points[-1][2])}</text>')
    parts += [f'<polyline points="{line}" class="line"/>', dots, "</svg>"]
    return Markup("".join(parts))


@functools.lru_cache(maxsize=1)
def _markdown() -> Any:
    from markdown_it import MarkdownIt  # with rich; imported by the paper page only
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    # html=False: raw HTML in a text is shown as text; markdown-it drops javascript:,
    # vbscript:, file: and data: links (validateLink).
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table").enable("strikethrough")
    # TeX stays TeX, escaped (the plugin's renderer), in a span the page sets apart.
    md.use(dollarmath_plugin, allow_space=True, double_inline=True)
    return md


def markdown(text: str) -> Markup:
    """A full text (Markdown with TeX math) as HTML."""
    return Markup(_markdown().render(plain(text)))


def csv_safe(body: bytes) -> bytes:
    """A CSV answer (Datasette's .csv of a table or query) with every cell a spreadsheet
    would run as a formula ("=HYPERLINK(...)" as a title) given a leading apostrophe, as
    `papers export --csv` does."""
    text = body.decode("utf-8", "replace")
    out = io.StringIO()
    writer = csv.writer(out)
    for row in csv.reader(io.StringIO(text, newline="")):
        writer.writerow([neutralise_formula(cell) for cell in row])
    return out.getvalue().encode("utf-8")
