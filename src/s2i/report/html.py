"""The report page: sections of figures, tables, notes and collapsible details, written as one HTML5 file.

Every image is a file in the page's ``<name>_files/`` folder *and* embedded in the page as a ``data:``
URI, so ``report.html`` alone can be mailed; no scripts, no external CSS or fonts.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["GENERATOR", "Figure", "Page", "Section", "data_uri"]

#: in every page's head: what marks an existing file as an s2i report that a new one may replace
GENERATOR = '<meta name="generator" content="s2i report">'

MIME = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 1240px;
       padding: 0 16px 48px; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; margin: 18px 0 4px; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; padding-bottom: 3px; margin-top: 32px; }
h3 { font-size: 1.05em; margin: 18px 0 6px; }
p.meta { color: #555; margin: 0 0 8px; font-size: 0.9em; }
p.note { background: #fff6dd; border-left: 4px solid #e0b000; padding: 6px 10px; margin: 8px 0; }
p.error { background: #fde8e8; border-left: 4px solid #c0392b; padding: 6px 10px; margin: 8px 0; }
nav ul { columns: 2; font-size: 0.92em; list-style: none; padding-left: 8px; }
.row { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; margin: 6px 0 14px; }
figure { margin: 0; border: 1px solid #ddd; border-radius: 4px; padding: 6px; background: #fff;
         display: table; }
figure img { display: block; max-width: 100%; height: auto; image-rendering: auto; }
figcaption { display: table-caption; caption-side: bottom; font-size: 0.82em; color: #444; margin-top: 4px;
             padding: 0 6px 6px; background: #fff; }
table { border-collapse: collapse; font-size: 0.9em; margin: 8px 0; max-width: 100%; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; overflow-wrap: break-word; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
details { margin: 6px 0; }
summary { cursor: pointer; font-weight: 600; }
pre { background: #f7f7f7; border: 1px solid #e2e2e2; padding: 8px; overflow-x: auto; font-size: 0.8em; }
""".strip()


def data_uri(path: Path) -> str:
    """``data:<mime>;base64,...`` of an image file."""
    mime = MIME.get(path.suffix.lower())
    if mime is None:
        raise ValueError(f"{path}: not an image type the report embeds ({', '.join(MIME)})")
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


@dataclass
class Figure:
    """One image of the page: the file beside the page, its alt text and caption."""

    path: Path
    alt: str
    caption: str = ""

    def html(self) -> str:
        if not self.alt.strip():
            raise ValueError(f"{self.path.name}: every image needs alt text")
        cap = f"<figcaption>{esc(self.caption)}</figcaption>" if self.caption else ""
        return (f'<figure><img src="{data_uri(self.path)}" alt="{esc(self.alt)}" '
                f'data-file="{esc(self.path.name)}">{cap}</figure>')


@dataclass
class Section:
    """A titled section: a list of HTML blocks, in order."""

    id: str
    title: str
    blocks: list[str] = field(default_factory=list)

    def text(self, text: str) -> None:
        self.blocks.append(f"<p>{esc(text)}</p>")

    def note(self, text: str) -> None:
        """A visible one-line note: why a part of the section is not shown."""
        self.blocks.append(f'<p class="note">{esc(text)}</p>')

    def error(self, text: str) -> None:
        self.blocks.append(f'<p class="error">{esc(text)}</p>')

    def heading(self, text: str) -> None:
        self.blocks.append(f"<h3>{esc(text)}</h3>")

    def figures(self, figs: list[Figure]) -> None:
        """Figures side by side (wrapping)."""
        if figs:
            self.blocks.append('<div class="row">' + "".join(f.html() for f in figs) + "</div>")

    def table(self, header: list[str], rows: Sequence[Sequence[object]], numeric: set[int] | None = None) -> None:
        numeric = numeric or set()
        head = "".join(f"<th>{esc(h)}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(f'<td class="num">{esc(c)}</td>' if i in numeric else f"<td>{esc(c)}</td>"
                             for i, c in enumerate(r)) + "</tr>" for r in rows)
        self.blocks.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def details(self, summary: str, text: str) -> None:
        """A collapsible block of preformatted text (configs, JSON)."""
        self.blocks.append(f"<details><summary>{esc(summary)}</summary><pre>{esc(text)}</pre></details>")

    def html(self) -> str:
        return f'<section id="{esc(self.id)}"><h2>{esc(self.title)}</h2>' + "\n".join(self.blocks) + "</section>"


@dataclass
class Page:
    """The whole report: a title, a few lines of context, a table of contents and the sections."""

    title: str
    meta: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)

    def section(self, id: str, title: str) -> Section:
        s = Section(id, title)
        self.sections.append(s)
        return s

    def html(self) -> str:
        toc = "".join(f'<li><a href="#{esc(s.id)}">{esc(s.title)}</a></li>' for s in self.sections)
        meta = "".join(f'<p class="meta">{esc(m)}</p>' for m in self.meta)
        body = "\n".join(s.html() for s in self.sections)
        return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                f"{GENERATOR}\n"
                f"<title>{esc(self.title)}</title>\n<style>\n{CSS}\n</style>\n</head>\n<body>\n"
                f"<h1>{esc(self.title)}</h1>\n{meta}\n<nav><ul>{toc}</ul></nav>\n{body}\n</body>\n</html>\n")
