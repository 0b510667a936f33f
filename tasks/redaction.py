"""The redaction gate: nothing is published while it names a child or family member of the case.

The PDF's text (every page) and metadata are extracted with pypdf and normalised the way a reader would see
them (words hyphenated across a line joined, case and accents folded, punctuation and spacing collapsed), then
searched for each known name, the longer parts of each name, and each date of birth as people write it. A
finding says where (page or metadata field) and whose (by pseudonym), never the name itself.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
from dataclasses import dataclass

from models.dates import long_date
from models.documents import KnownPerson

# Name parts that are also everyday words are only matched as part of the full name.
COMMON_WORDS = frozenset(
    [
        "will",
        "hope",
        "grace",
        "faith",
        "joy",
        "june",
        "april",
        "august",
        "rose",
        "lily",
        "summer",
        "star",
        "rain",
        "king",
        "may",
        "mark",
        "bill",
        "dawn",
        "love",
        "amber",
        "ruby",
        "pearl",
        "sunny",
        "white",
        "black",
        "green",
        "brown",
        "young",
        "long",
        "hill",
        "wood",
    ]
)
MIN_PART = 4


@dataclass(frozen=True)
class Finding:
    where: str  # "page 3", "the document's metadata (Title)"
    what: str  # "the name of Child Q", "the date of birth of Child Q"

    def __str__(self) -> str:
        return f"{self.what} appears in {self.where}"


def normalise(text: str) -> str:
    """Lower case, no accents, words broken across lines by a hyphen joined, everything else single spaces."""
    text = re.sub(r"(\w)[-\u00ad\u2010]\s*\n\s*(\w)", r"\1\2", text)  # "Quill-\nfeather" -> "Quillfeather"
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = re.sub(r"[^\w]+", " ", text)
    return f" {' '.join(text.split())} "


def _date_forms(day: dt.date) -> list[str]:
    return [
        day.isoformat(),
        day.strftime("%d/%m/%Y"),
        f"{day.day}/{day.month}/{day.year}",
        day.strftime("%d.%m.%Y"),
        long_date(day),
        day.strftime("%d %B %Y"),
        f"{day.day} {day.strftime('%b %Y')}",
        f"{day.strftime('%B')} {day.day} {day.year}",
    ]


def _needles(person: KnownPerson) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    names = [(person.name, "the name"), *((former, "a name formerly recorded") for former in person.former_names)]
    for name, what in names:
        if not name:
            continue
        full = normalise(name).strip()
        found.append((f" {full} ", f"{what} of {person.label}"))
        found.append((f" {full.replace(' ', '')} ", f"{what} of {person.label}"))  # "Quill-\nfeather" forms
        for part in full.split():
            if len(part) >= MIN_PART and part not in COMMON_WORDS:
                found.append((f" {part} ", f"part of {what} of {person.label}"))
    if person.date_of_birth:
        for form in _date_forms(person.date_of_birth):
            found.append((normalise(form), f"the date of birth of {person.label}"))
    return found


def find_personal_data(pdf: bytes, people: list[KnownPerson]) -> list[Finding]:
    """Every place the PDF names one of ``people`` or gives their date of birth; empty when it is clean."""
    from pypdf import PdfReader  # here, not at the top: most steps store no document, and each step is a new process

    reader = PdfReader(io.BytesIO(pdf))
    places: list[tuple[str, str]] = [
        (f"page {number}", normalise(page.extract_text() or "")) for number, page in enumerate(reader.pages, 1)
    ]
    for key, value in (reader.metadata or {}).items():
        places.append((f"the document's metadata ({str(key).lstrip('/')})", normalise(str(value))))
    xmp = reader.xmp_metadata
    if xmp is not None:
        places.append(("the document's XMP metadata", normalise(xmp.stream.get_data().decode("utf-8", "replace"))))
    findings: list[Finding] = []
    for person in people:
        for needle, what in _needles(person):
            for where, text in places:
                finding = Finding(where, what)
                if needle in text and finding not in findings:
                    findings.append(finding)
    return findings
