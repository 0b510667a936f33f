"""The README and docs/ hold together: every relative link reaches a file, every `#anchor` a heading, every page of
docs/ is linked from the README, and the README stays short enough to read in five minutes."""

from __future__ import annotations

import re
from pathlib import Path

from models.settings import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
PAGES = [README, *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
BLOCK = re.compile(r"^```.*?^```", re.S | re.M)
SPAN = re.compile(r"`[^`\n]*`")


def prose(text: str) -> str:
    """The text without code blocks and code spans, where brackets are not links."""
    return SPAN.sub("", BLOCK.sub("", text))


def anchors(page: Path) -> set[str]:
    """Each heading's anchor as GitHub makes it: lower case, punctuation gone, spaces as hyphens, repeats numbered."""
    seen: dict[str, int] = {}
    for line in BLOCK.sub("", page.read_text()).splitlines():
        heading = re.match(r"#{1,6} (.+)", line)
        if heading is None:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
        seen[slug] = seen.get(slug, -1) + 1
        if seen[slug]:
            seen[f"{slug}-{seen[slug]}"] = 0
    return set(seen)


def links(page: Path) -> list[str]:
    return [target for target in LINK.findall(prose(page.read_text())) if not re.match(r"[a-z]+:", target)]


def test_the_slugs_are_githubs() -> None:
    page = PROJECT_ROOT / "docs" / "benchmarks.md"
    assert {"the-load-test-testsfaultstest_loadpy", "cis-time-make-test-from-a-clean-clone"} <= anchors(page)


def test_every_relative_link_reaches_a_file_and_a_heading() -> None:
    broken = []
    for page in PAGES:
        for target in links(page):
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.relative_to(PROJECT_ROOT)}: {target} (no such file)")
            elif anchor and (file.suffix != ".md" or anchor not in anchors(file)):
                broken.append(f"{page.relative_to(PROJECT_ROOT)}: {target} (no such heading)")
    assert broken == []


def test_the_readme_links_every_page_of_docs() -> None:
    linked = {(PROJECT_ROOT / target.partition("#")[0]).resolve() for target in links(README)}
    assert [page.name for page in PAGES[1:] if page.resolve() not in linked] == []


def test_the_readme_is_read_in_five_minutes() -> None:
    assert len(README.read_text().splitlines()) <= 250
