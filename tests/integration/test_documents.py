"""Every document of every branch rendered to PDF and read back; hostile text inert; the redaction gate."""

from __future__ import annotations

import datetime as dt
import http.server
import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pypdf import PdfReader
from sqlalchemy.engine import Engine
from sqlmodel import Session

from cli.demo import Case
from models import documents
from models.db import make_engine, migrate
from models.documents import KnownPerson
from models.process.steps.review_under_way import DRAFT
from models.review.lookup import review_by_reference
from tasks.pdf import content_overflow, render_pdf
from tasks.redaction import find_personal_data
from tests.integration.test_answers import run_to_end

TODAY = dt.date(2026, 11, 23)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """Documents do not depend on the database server: SQLite only, to keep the suite quick."""
    eng = make_engine(f"sqlite:///{tmp_path / 'cspr.db'}")
    migrate(eng)
    yield eng
    eng.dispose()


BIG_DRAFT: dict[str, Any] = {
    **DRAFT,
    "recommendations": [
        f"Recommendation {i}: agencies should share information about missed appointments." for i in range(1, 31)
    ],
    "timeline": [
        {"on": (dt.date(2025, 1, 1) + dt.timedelta(days=4 * i)).isoformat(), "event": f"Key event {i}."}
        for i in range(1, 81)
    ],
}


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)


def plans(engine: Engine, case: Case) -> list[documents.DocumentSpec]:
    reference, _ = run_to_end(engine, case)
    with Session(engine) as session:
        review = review_by_reference(session, reference)
        return documents.plan(session, review, today=TODAY)


@pytest.mark.parametrize(
    ("kw", "kinds"),
    [
        (
            {"path": "local"},
            {
                "notification-summary",
                "rapid-review",
                "decision-letter",
                "terms-of-reference",
                "draft-report",
                "final-report",
            },
        ),
        ({"path": "no-review"}, {"notification-summary", "rapid-review", "decision-letter"}),
        ({"path": "national"}, {"notification-summary", "rapid-review", "decision-letter"}),
        (
            {"improvements_only": True},
            {
                "notification-summary",
                "rapid-review",
                "decision-letter",
                "terms-of-reference",
                "draft-report",
                "final-report",
                "improvements-statement",
            },
        ),
    ],
)
def test_every_document_of_every_branch_renders(engine: Engine, kw: dict[str, Any], kinds: set[str]) -> None:
    specs = plans(engine, Case(today=TODAY, **kw))
    assert {s.kind for s in specs} == kinds
    for spec in specs:
        rendered = render_pdf(spec.template, spec.context)
        assert rendered.refused_fetches == ()
        reader = PdfReader(io.BytesIO(rendered.pdf))
        assert reader.metadata is not None and reader.metadata.title == spec.title
        assert reader.metadata.author
        assert reader.trailer["/Root"]["/Lang"] == "en-GB"
        assert "/StructTreeRoot" in reader.trailer["/Root"], "tagged PDF"
        text = text_of(rendered.pdf)
        assert spec.context["reference"] in text
        assert "Page 1 of" in text


@pytest.mark.parametrize("kw", [{"path": "local"}, {"path": "national"}, {"improvements_only": True}])
def test_no_document_runs_past_its_page(engine: Engine, kw: dict[str, Any]) -> None:
    """Every box of every document stays within its page's margins. The notification summary's timetable, its
    columns once measured by their content, was pushed 187 px past the margin by its long sources: four pages, its
    last two columns cut off."""
    for spec in plans(engine, Case(today=TODAY, **kw)):
        assert content_overflow(spec.template, spec.context) <= 0.5, spec.kind


def test_the_final_report_with_thirty_recommendations_and_an_eighty_row_timeline(engine: Engine) -> None:
    spec = next(s for s in plans(engine, Case(today=TODAY)) if s.kind == "final-report")
    spec.context["draft"] = {
        **BIG_DRAFT,
        "timeline": [{"on": e["on"], "event": e["event"]} for e in BIG_DRAFT["timeline"]],
    }
    pdf = render_pdf(spec.template, spec.context).pdf
    pages = PdfReader(io.BytesIO(pdf)).pages
    assert len(pages) >= 5
    text = " ".join(text_of(pdf).split())
    for heading in (
        "Contents",
        "1. Summary",
        "2. Summary of recommendations",
        "4. Timeline of key events",
        "5. Systemic analysis",
    ):
        assert heading in text
    assert "Recommendation 30: agencies should share information" in text
    assert "Key event 80." in text
    assert f"Page {len(pages)} of {len(pages)}" in text


class Recorder(http.server.BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Recorder.requests.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Recorder.requests = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_hostile_form_text_renders_as_text_and_fetches_nothing(engine: Engine, listener: str) -> None:
    spec = next(s for s in plans(engine, Case(today=TODAY)) if s.kind == "final-report")
    hostile = [
        "<script>alert('x')</script>",
        f'<img src="{listener}/img.png">',
        f"<style>body {{ background: url('{listener}/bg.png') }}</style>",
        f'<link rel="stylesheet" href="{listener}/evil.css">',
        "x" * 3000,
    ]
    spec.context["draft"] = {
        **spec.context["draft"],
        "summary": "\n".join(hostile),
        "recommendations": [*hostile, "A normal recommendation."],
    }
    rendered = render_pdf(spec.template, spec.context)
    assert Recorder.requests == [], "the renderer reached out"
    assert rendered.refused_fetches == ()  # escaped: nothing even tried to load
    text = "".join(text_of(rendered.pdf).split())
    assert "<script>alert('x')</script>" in text
    assert f'<imgsrc="{listener}/img.png">' in text
    assert "Anormalrecommendation." in text


def test_the_fetcher_refuses_anything_outside_the_templates(listener: str) -> None:
    from weasyprint import HTML

    from tasks.pdf import TEMPLATES, TemplatesOnlyFetcher, render_html

    html = f'<html><head><link rel="stylesheet" href="{listener}/x.css"></head><body><img src="file:///etc/passwd"></body></html>'
    fetcher = TemplatesOnlyFetcher()
    HTML(string=html, base_url=f"{TEMPLATES.as_uri()}/", url_fetcher=fetcher).write_pdf()
    assert Recorder.requests == []
    assert any("x.css" in u for u in fetcher.refused) and any("passwd" in u for u in fetcher.refused)
    assert render_html  # imported for the real pipeline above


CHILD = KnownPerson("Child Q", "Zephyrine Quillfeather-Okonkwo", dt.date(2015, 2, 27))
MOTHER = KnownPerson("Child Q's mother", "Barnabus Thistlewaite", None)


def final_with(engine: Engine, **draft: Any) -> documents.DocumentSpec:
    spec = next(s for s in plans(engine, Case(today=TODAY)) if s.kind == "final-report")
    spec.context["draft"] = {**spec.context["draft"], **draft}
    return spec


def gate(spec: documents.DocumentSpec) -> list[str]:
    return [str(f) for f in find_personal_data(render_pdf(spec.template, spec.context).pdf, [CHILD, MOTHER])]


def test_the_gate_passes_a_clean_report(engine: Engine) -> None:
    assert gate(final_with(engine)) == []


def test_the_gate_finds_a_name_in_body_text(engine: Engine) -> None:
    found = gate(final_with(engine, summary="Zephyrine Quillfeather-Okonkwo was seen by the GP."))
    assert "the name of Child Q appears in page 3" in found


def test_the_gate_finds_a_name_in_a_table_cell(engine: Engine) -> None:
    found = gate(final_with(engine, recommendations=["Talk to Barnabus Thistlewaite about the move."]))
    assert any("the name of Child Q's mother" in f for f in found)


def test_the_gate_finds_a_name_hyphenated_across_a_line(engine: Engine) -> None:
    # a narrow column forces the break: the summary runs "... Quill-" / "feather ..."
    long = "word " * 17 + "Zephyrine Quill-\nfeather-Okonkwo attended."
    found = gate(final_with(engine, summary=long))
    assert any("Child Q" in f for f in found)


def test_the_gate_finds_a_date_of_birth(engine: Engine) -> None:
    found = gate(final_with(engine, child_experience="Child Q was born on 27 February 2015."))
    assert any("the date of birth of Child Q" in f for f in found)


def test_the_gate_finds_a_name_in_a_chart_label(engine: Engine) -> None:
    spec = final_with(engine)
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="60" role="img">'
        '<text x="10" y="30" font-size="14">Contacts with Zephyrine Quillfeather-Okonkwo</text></svg>'
    )
    spec.context["charts"] = [{"svg": svg, "caption": "Agency contacts"}]
    assert any("the name of Child Q" in f for f in gate(spec))


def test_the_gate_finds_a_name_in_the_metadata(engine: Engine) -> None:
    spec = final_with(engine)
    spec.context["title"] = "Review concerning Zephyrine Quillfeather-Okonkwo"
    found = gate(spec)
    assert any("metadata" in f and "Child Q" in f for f in found)


def test_a_matplotlib_chart_keeps_its_text_for_the_gate(engine: Engine) -> None:
    from tasks.charts import bar_chart_svg, events_per_month_svg

    spec = final_with(engine)
    svg = events_per_month_svg([dt.date(2026, 1, 5), dt.date(2026, 1, 20), dt.date(2026, 3, 2)])
    assert svg is not None and "<text" in svg and "Mar 2026" in svg  # labels are text, not paths
    named = bar_chart_svg(
        ["GP", "School"], [3, 4], title="Contacts with Zephyrine Quillfeather-Okonkwo", ylabel="Contacts"
    )
    spec.context["charts"] = [{"svg": svg, "caption": "By month"}, {"svg": named, "caption": "Contacts"}]
    pdf = render_pdf(spec.template, spec.context).pdf
    assert "Mar 2026" in text_of(pdf)
    assert any("the name of Child Q" in str(f) for f in find_personal_data(pdf, [CHILD]))
