"""Edition files for tests: a shipped edition's text with rules taken away, under another id and date."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from pathlib import Path

from models import rulebook

# An invented edition that gives none of these: no rapid review clock, no six months to publish, no notice before
# publication and no year kept published. What it still gives: the notifications, the Panel's response, the actions.
LEAN_ID = "wt2030"
LEAN_IN_FORCE = dt.date(2030, 1, 1)
LEAN_WITHOUT = ("rapid_review", "lcspr_publication", "final_report_notice", "publication_retention")


def edition_text(
    base: str = "wt2026",
    *,
    without: Iterable[str] = (),
    edition_id: str = LEAN_ID,
    in_force_from: dt.date = LEAN_IN_FORCE,
) -> str:
    """``base``'s file without the ``[[rules]]`` whose ids are in ``without``, as ``edition_id`` in force from
    ``in_force_from``."""
    text = (rulebook.RULEBOOK_DIR / f"{base}.toml").read_text(encoding="utf-8")
    dropped = set(without)
    # each table ([sources], [[rules]], [[notifications]]) with what follows; a rule's [[rules.from_options]] stay
    # with their rule
    blocks = re.split(r"(?m)^(?=\[(?!\[rules\.))", text)
    kept = [b for b in blocks if not (b.startswith("[[rules]]") and _rule_id(b) in dropped)]
    assert len(blocks) - len(kept) == len(dropped), f"{base} lacks some of {sorted(dropped)}"
    head = kept[0]
    head = re.sub(r'(?m)^edition = ".*"$', f'edition = "{edition_id}"', head, count=1)
    head = re.sub(r'(?m)^title = ".*"$', f'title = "An edition invented for the tests ({edition_id})"', head, count=1)
    text = "".join([head, *kept[1:]])
    # the first day is the [in_force] table's ``from``, the only unquoted date given as ``from``; the base's re-issues
    # are its own
    text = re.sub(r"(?m)^reissued = .*\n", "", text, count=1)
    return re.sub(r"(?m)^from = \d{4}-\d{2}-\d{2}$", f"from = {in_force_from.isoformat()}", text, count=1)


def _rule_id(block: str) -> str:
    found = re.search(r'(?m)^id = "(.*)"$', block)
    assert found is not None, block
    return found.group(1)


def rulebook_with(directory: Path, *extra: tuple[str, str]) -> Path:
    """``directory`` holding the shipped editions and each ``(file name, text)`` of ``extra``."""
    directory.mkdir(parents=True, exist_ok=True)
    for source in rulebook.RULEBOOK_DIR.glob("*.toml"):
        (directory / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    for name, text in extra:
        (directory / name).write_text(text, encoding="utf-8")
    return directory
