"""Documents: Jinja2 templates (report_templates/) rendered to tagged, accessible PDF with WeasyPrint.

Rendering reaches nothing outside the templates folder: the URL fetcher serves only files from there, so text
typed into a form (which may hold HTML or a URL) can neither change the layout nor make the renderer reach out.
Jinja2 autoescapes everything, and the templates are strict about missing values.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import jinja2
from weasyprint import HTML  # type: ignore[import-untyped]  # WeasyPrint ships no types, nor does any stubs package
from weasyprint.text.fonts import FontConfiguration  # type: ignore[import-untyped]
from weasyprint.urls import URLFetcher, URLFetcherResponse  # type: ignore[import-untyped]

from models.calendar import PROVISIONAL_NOTE
from models.settings import PROJECT_ROOT

TEMPLATES = PROJECT_ROOT / "report_templates"
AUTHOR = "cspr (child safeguarding practice reviews)"

# WeasyPrint warns about every refused fetch; the refusals are recorded by the fetcher instead.
logging.getLogger("weasyprint").setLevel(logging.ERROR)


@dataclass
class TemplatesOnlyFetcher(URLFetcher):  # type: ignore[misc]
    """Serves files from the templates folder; refuses (and records) everything else."""

    refused: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(allowed_protocols={"file"}, allow_redirects=False)

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        parsed = urlparse(url)
        path = Path(unquote(parsed.path)).resolve() if parsed.scheme == "file" else None
        if path is None or not path.is_relative_to(TEMPLATES) or not path.is_file():
            self.refused.append(url[:200])
            raise ValueError("documents load nothing from outside the templates folder")
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": _content_type(path)})


def _content_type(path: Path) -> str:
    return {".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png"}.get(
        path.suffix, "application/octet-stream"
    )


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["provisional_note"] = PROVISIONAL_NOTE  # the macros see globals, not the document's context
    return env


@lru_cache(maxsize=1)
def _fonts() -> FontConfiguration:
    return FontConfiguration()


def prepare() -> None:
    """Compile every template and set up the fonts: what a process's first document pays. The warm process
    (cli/warm_runs.py) pays it once for every run forked from it. A template changed since is compiled again."""
    for name in environment().list_templates(extensions=["html"]):
        environment().get_template(name)
    _fonts()


@dataclass(frozen=True)
class Rendered:
    pdf: bytes
    html: str
    refused_fetches: tuple[str, ...]


def render_html(template: str, context: dict[str, Any]) -> str:
    return environment().get_template(template).render(author=AUTHOR, **context)


PDF_VARIANT = "pdf/ua-1"


def render_pdf(template: str, context: dict[str, Any]) -> Rendered:
    """Render ``template`` with ``context`` (which must give ``title`` and ``reference``) to a PDF/UA-1 document."""
    html = render_html(template, context)
    fetcher = TemplatesOnlyFetcher()
    pdf = _source(html, fetcher).write_pdf(pdf_variant=PDF_VARIANT, font_config=_fonts(), uncompressed_pdf=False)
    assert pdf is not None
    return Rendered(pdf=pdf, html=html, refused_fetches=tuple(fetcher.refused))


def content_overflow(template: str, context: dict[str, Any]) -> float:
    """How far (in CSS pixels) the furthest box of ``template`` laid out with ``context`` reaches past the right edge
    of its page's content area, as ``render_pdf`` lays it out: 0 when everything fits. A table that measures its
    columns by their content can be pushed past the margin, and its last columns cut off, by one long value."""
    document = _source(render_html(template, context), TemplatesOnlyFetcher()).render(
        font_config=_fonts(), pdf_variant=PDF_VARIANT
    )
    furthest = 0.0
    for page in document.pages:
        area = page._page_box  # WeasyPrint's laid-out page: the only way to its boxes
        right = area.content_box_x() + area.width
        for box in area.children[0].descendants():  # the document's own boxes, not the margin boxes' headers
            if getattr(box, "width", None) is not None:
                furthest = max(furthest, box.position_x + box.margin_width() - right)
    return furthest


def _source(html: str, fetcher: TemplatesOnlyFetcher) -> HTML:
    return HTML(string=html, base_url=f"{TEMPLATES.as_uri()}/", url_fetcher=fetcher)
