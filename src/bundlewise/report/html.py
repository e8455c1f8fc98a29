"""One small builder for every HTML page bundlewise writes (evaluation, training, bundles).

Figures are embedded as inline SVG so the file opens anywhere, offline, with nothing beside it.

Examples
--------
>>> import pandas as pd
>>> page = HtmlReport("Demo").heading("Numbers").table(pd.DataFrame({"a": [1, 2]}))
>>> "<table" in page.render()
True
"""

from __future__ import annotations

import functools
import html
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from bundlewise._version import __version__

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#222;
     padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85rem;margin:.8rem 0} th,td{padding:.25rem .6rem;border-bottom:1px solid #eee}
th{text-align:left;background:#f6f6f6} td.n{text-align:right;font-variant-numeric:tabular-nums}
.meta{color:#777;font-size:.8rem} .note{background:#fffbe6;border-left:3px solid #e6c200;padding:.4rem .8rem}
figure{margin:1rem 0} svg{max-width:100%;height:auto}
"""


@functools.cache
def pyplot() -> Any:
    """``matplotlib.pyplot`` with the off-screen Agg back-end, selected once for every report.

    Reports are files: a figure must never open a window, and drawing must work on a server
    without a display. Every module that plots gets pyplot here, so the back-end is chosen in
    one place (and only when a figure is drawn: matplotlib is not imported before).

    >>> pyplot().get_backend().lower()
    'agg'
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


class HtmlReport:
    """Accumulates sections and writes one standalone HTML file.

    Parameters
    ----------
    title : str
    subtitle : str, optional
    """

    def __init__(self, title: str, subtitle: str = ""):
        self.title = title
        self.subtitle = subtitle
        self._parts: list[str] = []

    def heading(self, text: str) -> HtmlReport:
        self._parts.append(f"<h2>{html.escape(text)}</h2>")
        return self

    def paragraph(self, text: str, *, note: bool = False) -> HtmlReport:
        cls = ' class="note"' if note else ""
        self._parts.append(f"<p{cls}>{html.escape(text)}</p>")
        return self

    def table(self, df: pd.DataFrame, *, float_format: str = "{:.4g}", max_rows: int = 200) -> HtmlReport:
        """A table; numbers right-aligned, floats formatted with ``float_format``."""
        rows = ["<table><thead><tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
                + "</tr></thead><tbody>"]
        for record in df.head(max_rows).itertuples(index=False):
            cells = []
            for value in record:
                if isinstance(value, float):
                    cells.append(f'<td class="n">{"" if pd.isna(value) else float_format.format(value)}</td>')
                elif isinstance(value, int):
                    cells.append(f'<td class="n">{value:,}</td>')
                else:
                    cells.append(f"<td>{html.escape(str(value))}</td>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
        rows.append("</tbody></table>")
        if len(df) > max_rows:
            rows.append(f'<p class="meta">first {max_rows:,} of {len(df):,} rows</p>')
        self._parts.append("".join(rows))
        return self

    def figure(self, fig: Any, caption: str = "") -> HtmlReport:
        """Embed a matplotlib figure as inline SVG (and close it)."""
        plt = pyplot()
        buf = io.StringIO()
        fig.savefig(buf, format="svg", bbox_inches="tight")
        plt.close(fig)
        svg = buf.getvalue()
        svg = svg[svg.find("<svg"):]  # drop the XML prolog: inline SVG must not carry one
        cap = f"<figcaption class='meta'>{html.escape(caption)}</figcaption>" if caption else ""
        self._parts.append(f"<figure>{svg}{cap}</figure>")
        return self

    def raw(self, fragment: str) -> HtmlReport:
        """Append trusted HTML (built by bundlewise itself, never user text)."""
        self._parts.append(fragment)
        return self

    def render(self) -> str:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        sub = f"<p>{html.escape(self.subtitle)}</p>" if self.subtitle else ""
        return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
                f"<style>{_CSS}</style></head><body><h1>{html.escape(self.title)}</h1>{sub}"
                f"<p class='meta'>bundlewise {__version__} · {stamp}</p>{''.join(self._parts)}</body></html>")

    def write(self, path: str | Path, *, warehouse: str | Path | None = None) -> Path:
        """Write the page to ``path`` (.html/.htm) atomically; never over a warehouse or a DuckDB file.

        A missing parent folder is created (an HTML page is never a user's data), but ``path``
        itself is checked by :func:`bundlewise.outputs.check_output`.
        """
        from bundlewise.outputs import HTML_SUFFIXES, check_output, write_text

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        check_output(path, allowed_suffixes=HTML_SUFFIXES, what="an HTML report", warehouse=warehouse)
        return write_text(path, self.render())
