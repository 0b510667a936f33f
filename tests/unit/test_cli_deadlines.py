"""`cspr deadlines`: the statutory timetable on the command line, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app

CSPR = Path(sys.executable).parent / "cspr"
runner = CliRunner()


def run_json(*args: str) -> dict[str, object]:
    result = runner.invoke(app, ["deadlines", *args, "--json"])
    assert result.exit_code == 0, result.output
    parsed: dict[str, object] = json.loads(result.stdout)
    return parsed


def test_the_installed_command_prints_the_timetable_as_json() -> None:
    out = subprocess.run(
        [str(CSPR), "deadlines", "--aware-on", "2026-12-18", "--json"], capture_output=True, text=True, check=True
    )
    data = json.loads(out.stdout)
    assert data["edition"] == "wt2026"
    assert data["aware_on"] == "2026-12-18"
    assert data["provisional"] == []
    assert data["deadlines"]["notify_panel"] == "2026-12-29"
    # wt2026 counts the rapid review from the notification, not given here: no date yet, and the date counted from
    # awareness beside it (Fri 18 Dec: 21-24 Dec, 29-31 Dec, 4-8 Jan, 11-13 Jan are the 15 working days)
    assert "rapid_review" not in data["deadlines"]
    assert data["rapid_review_counted_from"] == "notified_on"
    assert data["alternatives"] == {"rapid_review": {"counted_from": "aware_on", "on": "2027-01-13"}}
    assert data["kinds"] == {"notify_panel": "statute", "notify_partners": "statutory_guidance"}
    assert "lcspr_publication" not in data["deadlines"]
    assert "send_final_report_by" not in data["deadlines"]


def test_optional_dates_add_their_deadlines() -> None:
    data = run_json("--aware-on", "2026-12-18", "--lcspr-decided-on", "2026-08-31", "--publish-on", "2027-04-01")
    deadlines = data["deadlines"]
    assert isinstance(deadlines, dict)
    assert deadlines["lcspr_publication"] == "2027-02-28"
    assert deadlines["send_final_report_by"] == "2027-03-19"


def test_dates_past_the_published_bank_holidays_come_out_provisional() -> None:
    """The shipped GOV.UK list ends with 2028: the rapid review of an incident known on 20 Dec 2028 runs into 2029."""
    data = run_json("--aware-on", "2028-12-20", "--rapid-review-from", "aware")
    assert data["deadlines"] == {
        "notify_panel": "2028-12-29",  # Christmas and Boxing Day 2028 are published: exact
        "notify_partners": "2028-12-29",
        "rapid_review": "2029-01-15",  # New Year's Day 2029 is counted as a regular holiday
    }
    assert data["provisional"] == ["rapid_review"]
    assert data["bank_holidays_published_to"] == 2028
    table = runner.invoke(app, ["deadlines", "--aware-on", "2028-12-20", "--rapid-review-from", "aware"])
    assert table.exit_code == 0 and "provisional" in table.stdout


def test_edition_can_be_chosen_and_defaults_to_the_one_in_force() -> None:
    assert run_json("--aware-on", "2026-12-18", "--edition", "wt2026")["edition"] == "wt2026"
    assert run_json("--aware-on", "2026-03-17")["edition"] == "wt2023"
    assert run_json("--aware-on", "2022-03-01")["edition"] == "wt2018"
    assert run_json("--aware-on", "2026-03-02", "--edition", "wt2018")["edition"] == "wt2018"


def test_rapid_review_from_notification() -> None:
    data = run_json("--aware-on", "2026-12-18", "--notified-on", "2026-12-22", "--rapid-review-from", "notification")
    assert data["deadlines"]["rapid_review"] == "2027-01-15"  # type: ignore[index]


def test_the_table_names_each_rule_and_its_source() -> None:
    result = runner.invoke(app, ["deadlines", "--aware-on", "2026-12-18"])
    assert result.exit_code == 0
    assert "Serious incident notification" in result.stdout
    assert "CA2004 s16C" in result.stdout
    assert "Tue 29 Dec 2026" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--aware-on", "18/12/2026"], "YYYY-MM-DD"),
        (["--aware-on", "2016-03-01"], "before the child safeguarding practice review regime began"),
        (["--aware-on", "2017-03-01"], "before the child safeguarding practice review regime"),
        (["--aware-on", "2026-12-18", "--notified-on", "2026-12-01"], "before --aware-on"),
        (["--aware-on", "2026-12-18", "--rapid-review-from", "panel"], "'panel' is not one of"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["deadlines", *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_the_edition_choices_are_the_rulebook_files(tmp_path: Path) -> None:
    """A new edition file needs no change in cli/: the edition asked for is looked up in the rulebook folder."""
    from models import rulebook

    folder = tmp_path / "rulebooks"
    folder.mkdir()
    for source in rulebook.RULEBOOK_DIR.glob("*.toml"):
        (folder / source.name).write_text(source.read_text())
    future = (rulebook.RULEBOOK_DIR / "wt2023.toml").read_text()
    (folder / "wt2030.toml").write_text(future.replace('"wt2023"', '"wt2030"').replace("2023-12-15", "2030-01-01"))
    probe = (
        "import sys; from pathlib import Path; from models import rulebook; rulebook.RULEBOOK_DIR = Path(sys.argv[1]); "
        "from cli.main import main; sys.argv = ['cspr', 'deadlines', '--aware-on', '2026-12-18', '--edition', "
        "sys.argv[2], '--json']; main()"
    )
    out = subprocess.run([sys.executable, "-c", probe, str(folder), "wt2030"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["edition"] == "wt2030"
    unknown = subprocess.run([sys.executable, "-c", probe, str(folder), "wt1999"], capture_output=True, text=True)
    assert unknown.returncode == 2
    assert "unknown guidance edition 'wt1999'; known editions: wt2018, wt2023, wt2026, wt2030" in " ".join(
        unknown.stderr.split()
    )
    assert run_json("--aware-on", "2026-12-18", "--edition", "wt2018")["edition"] == "wt2018"


def test_counting_from_a_notification_not_yet_made_gives_the_date_from_awareness_beside() -> None:
    """Once refused ("needs --notified-on"): since wt2023 counts from the notification, the command says that the
    rapid review has no date until the notification is sent, and gives the date counted from awareness beside."""
    result = runner.invoke(app, ["deadlines", "--aware-on", "2026-12-18", "--rapid-review-from", "notification"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.stdout.split())
    assert "counted from the notification to the Panel, which has not happened yet (give --notified-on)" in said
    assert "Wed 13 Jan 2027 counted from the local authority becoming aware: an earlier date a partnership may" in said


def test_the_rapid_review_counts_from_the_notification_with_the_date_from_awareness_beside() -> None:
    """wt2026: notified Tue 22 Dec 2026. From the notification (day 0): 23, 24 Dec (Christmas Day Fri 25 and Boxing
    Day's substitute Mon 28 are holidays), 29, 30, 31 Dec (New Year's Day Fri 1 Jan a holiday), 4-8 Jan, 11-15 Jan:
    the 15th working day is Fri 15 Jan 2027. From awareness Fri 18 Dec: 21-24, 29-31 Dec, 4-8, 11-13 Jan: Wed 13 Jan."""
    data = run_json("--aware-on", "2026-12-18", "--notified-on", "2026-12-22")
    assert data["deadlines"]["rapid_review"] == "2027-01-15"  # type: ignore[index]
    assert data["alternatives"] == {"rapid_review": {"counted_from": "aware_on", "on": "2027-01-13"}}
    table = runner.invoke(app, ["deadlines", "--aware-on", "2026-12-18", "--notified-on", "2026-12-22"])
    said = " ".join(table.stdout.replace("│", " ").split())
    assert "statutory guidance (Working" in said  # the kind in words, wrapped in its column
    assert "a duty in statute and regulation" in said
    assert "Beside it: Wed 13 Jan 2027 counted" in said  # beside the due date
    # wt2018 counts from awareness, and shows the Panel's count beside it
    old = run_json("--aware-on", "2022-12-16", "--notified-on", "2022-12-20")
    assert old["edition"] == "wt2018" and old["rapid_review_counted_from"] == "aware_on"
    assert old["alternatives"]["rapid_review"]["counted_from"] == "notified_on"  # type: ignore[index]


@pytest.mark.parametrize(("aware_on", "expected"), [("2026-03-17", "wt2023"), ("2026-03-18", "wt2026")])
def test_the_edition_is_the_one_in_force_on_the_day_of_awareness(aware_on: str, expected: str) -> None:
    """The one rule (models/rulebook.py EDITION_RULE), in the command's text, its JSON and its help."""
    from models import rulebook

    data = run_json("--aware-on", aware_on)
    assert data["edition"] == expected
    assert data["edition_rule"] == rulebook.EDITION_RULE
    text = runner.invoke(app, ["deadlines", "--aware-on", aware_on])
    said = " ".join(text.stdout.split())
    assert f"under {rulebook.edition(expected).title}" in said
    assert rulebook.EDITION_RULE in said
    helped = " ".join(runner.invoke(app, ["deadlines", "--help"]).stdout.replace("│", " ").split())
    assert rulebook.EDITION_RULE in helped
