"""The rulebook: every edition loads, every rule names its source, timetables come out right, and an edition
carries only the deadlines it defines."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from models import rulebook
from models.rulebook import Entry, Event, Limit, RulebookError, RuleKind, Unit
from tests.utils.editions import LEAN_ID, LEAN_IN_FORCE, LEAN_WITHOUT, edition_text, rulebook_with

D = dt.date
REQUIRED_RULES = {"notify_panel", "rapid_review", "final_report_notice", "lcspr_publication", "publication_retention"}


@pytest.fixture(params=["wt2018", "wt2023", "wt2026"])
def edition(request: pytest.FixtureRequest) -> rulebook.Edition:
    return rulebook.edition(request.param)


def test_every_edition_loads_in_order() -> None:
    assert [e.id for e in rulebook.editions()] == ["wt2018", "wt2023", "wt2026"]


def test_wt2026_keeps_the_2023_timescales_and_says_what_is_not_confirmed() -> None:
    """Every rule of 2026 has 2023's counts; its source says it is unchanged, and what could not be confirmed."""
    old, new = rulebook.edition("wt2023"), rulebook.edition("wt2026")
    assert [(r.id, r.count, r.unit, r.limit, r.from_event, r.to_event) for r in new.rules] == [
        (r.id, r.count, r.unit, r.limit, r.from_event, r.to_event) for r in old.rules
    ]
    for rule in new.rules:
        assert "WT2026" in rule.source or "WT2023" not in rule.source, rule.id
        assert "WT2023 ch5" not in rule.source or "unchanged from WT2023 ch5" in rule.source, rule.id
    assert "not confirmed" in new.sources["WT2026"]
    assert new.in_force_from == D(2026, 3, 18) and "Confirm" in new.in_force_note
    assert "19 March 2026" in new.in_force_note  # GOV.UK's earliest surviving file
    assert new.reissued == (D(2026, 3, 24), D(2026, 5, 6))
    assert new.health_partner == "integrated care board"


def test_every_kind_of_notification_says_who_is_told_by_when_and_what_follows(edition: rulebook.Edition) -> None:
    kinds = rulebook.NotificationKind
    assert set(edition.notifications) == set(kinds)
    serious = edition.notifications[kinds.SERIOUS_INCIDENT]
    assert (serious.tell, serious.deadline, serious.follows) == (
        ("panel", "local_partners"),
        "notify_panel",
        rulebook.Follows.RAPID_REVIEW,
    )
    assert edition.notifications[kinds.OUTSIDE_ENGLAND].follows is rulebook.Follows.RAPID_REVIEW
    assert "s16C(1)(b)" in edition.notifications[kinds.OUTSIDE_ENGLAND].source
    for death in (kinds.LOOKED_AFTER_DEATH, kinds.CARE_LEAVER_DEATH):
        notice = edition.notifications[death]
        assert set(notice.tell) == {"secretary_of_state", "ofsted"}
        assert notice.follows is rulebook.Follows.RAPID_REVIEW_IF_CRITERIA
        assert edition.rule(notice.deadline).count == 5
    # a looked-after child's death with nothing more to follow is timed by its own rule only
    applies = edition.applying(kinds.LOOKED_AFTER_DEATH, rapid_review_follows=False)
    names = {e.name for e in edition.timetable({Event.AWARE_ON: D(2026, 11, 2)}, applies=applies)}
    assert names == {"notify_looked_after_death"}
    both = edition.applying(kinds.LOOKED_AFTER_DEATH, rapid_review_follows=True)
    names = {e.name for e in edition.timetable({Event.AWARE_ON: D(2026, 11, 2)}, applies=both)}
    assert {"notify_looked_after_death", "notify_panel"} <= names
    # the rapid review's clock starts with awareness (2018) or the notification (since 2023)
    notified = {Event.AWARE_ON: D(2026, 11, 2), Event.NOTIFIED_ON: D(2026, 11, 4)}
    assert "rapid_review" in {e.name for e in edition.timetable(notified, applies=both)}


def test_every_rule_names_a_source_the_edition_defines(edition: rulebook.Edition) -> None:
    for rule in edition.rules:
        assert rule.source.strip()
        assert any(short in rule.source for short in edition.sources), rule.id


def test_the_required_rules_are_there_with_their_counts(edition: rulebook.Edition) -> None:
    assert {r.id for r in edition.rules} >= REQUIRED_RULES
    notify = edition.rule("notify_panel")
    assert (notify.count, notify.unit, notify.limit) == (5, Unit.WORKING_DAYS, Limit.WITHIN)
    assert "CA2004 s16C" in notify.source
    rapid = edition.rule("rapid_review")
    assert (rapid.count, rapid.unit) == (15, Unit.WORKING_DAYS)
    assert set(rapid.from_options) == {Event.AWARE_ON, Event.NOTIFIED_ON}
    notice = edition.rule("final_report_notice")
    assert (notice.count, notice.unit, notice.limit) == (7, Unit.WORKING_DAYS, Limit.AT_LEAST)
    lcspr = edition.rule("lcspr_publication")
    assert (lcspr.count, lcspr.unit, lcspr.from_event) == (6, Unit.CALENDAR_MONTHS, Event.LCSPR_DECIDED_ON)
    retention = edition.rule("publication_retention")
    assert (retention.count, retention.unit, retention.limit) == (12, Unit.CALENDAR_MONTHS, Limit.AT_LEAST)
    # what each rule is: the notification a duty in statute and regulation, the 15 days statutory guidance and the
    # Panel's expectation (not statute), the Panel's reply only what happens in practice
    assert notify.kind is RuleKind.STATUTE and "REGS" in notify.source
    assert rapid.kind is RuleKind.STATUTORY_GUIDANCE
    assert edition.rule("panel_response").kind is RuleKind.PRACTICE
    assert edition.rule("notify_care_leaver_death").kind is RuleKind.PRACTICE
    assert [k for k in RuleKind if k.escalated] == [RuleKind.STATUTE, RuleKind.STATUTORY_GUIDANCE]


def test_health_partner_follows_the_edition() -> None:
    assert rulebook.edition("wt2018").health_partner == "clinical commissioning group"
    assert rulebook.edition("wt2023").health_partner == "integrated care board"


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (D(2018, 6, 29), "wt2018"),
        (D(2023, 12, 14), "wt2018"),
        (D(2023, 12, 15), "wt2023"),
        (D(2026, 3, 17), "wt2023"),
        (D(2026, 3, 18), "wt2026"),
        (D(2026, 11, 23), "wt2026"),
    ],
)
def test_the_edition_in_force_on_a_date(on: dt.date, expected: str) -> None:
    assert rulebook.edition_in_force(on).id == expected


def test_a_date_before_the_regime_is_refused() -> None:
    with pytest.raises(RulebookError, match="before the child safeguarding practice review regime"):
        rulebook.edition_in_force(D(2017, 1, 1))


def test_an_unknown_edition_is_refused_with_the_known_ones() -> None:
    with pytest.raises(RulebookError, match="wt2018, wt2023, wt2026"):
        rulebook.edition("wt2030")


def test_the_timetable_around_christmas() -> None:
    book = rulebook.edition("wt2023")
    entries = {
        e.name: e.due_on
        for e in book.timetable(
            {Event.AWARE_ON: D(2026, 12, 18), Event.LCSPR_DECIDED_ON: D(2026, 8, 31)},
            planned={Event.PUBLISHED_ON: D(2027, 4, 1)},
            rapid_review_from=Event.AWARE_ON,
        )
    }
    assert entries["notify_panel"] == D(2026, 12, 29)
    assert entries["rapid_review"] == D(2027, 1, 13)
    assert entries["lcspr_publication"] == D(2027, 2, 28)
    assert entries["send_final_report_by"] == D(2027, 3, 19)  # 7 working days back over Easter 2027


def test_rapid_review_counted_from_awareness_when_the_partnership_says_so() -> None:
    book = rulebook.edition("wt2023")
    events = {Event.AWARE_ON: D(2026, 12, 18), Event.NOTIFIED_ON: D(2026, 12, 22)}
    by_awareness = {e.name: e for e in book.timetable(events, rapid_review_from=Event.AWARE_ON)}["rapid_review"]
    by_notification = {e.name: e for e in book.timetable(events)}["rapid_review"]  # the edition's own count
    assert by_awareness.due_on == D(2027, 1, 13)
    assert by_notification.basis is Event.NOTIFIED_ON
    assert by_notification.due_on == D(2027, 1, 15)  # 22 Dec (0): 23, 24, 29 .. 31, 4 .. 8, 11 .. 15 Jan


def test_nothing_is_computed_from_an_event_that_has_not_happened() -> None:
    """Under wt2023 the rapid review counts from the notification: before it, there is no rapid review date."""
    names = {e.name for e in rulebook.edition("wt2023").timetable({Event.AWARE_ON: D(2026, 3, 2)})}
    assert names == {"notify_panel", "notify_partners"}
    names = {e.name for e in rulebook.edition("wt2018").timetable({Event.AWARE_ON: D(2022, 3, 2)})}
    assert names == {"notify_panel", "notify_partners", "rapid_review"}


def test_publication_timer_and_retention_follow_the_events() -> None:
    book = rulebook.edition("wt2023")
    entries = {
        e.name: e
        for e in book.timetable({Event.FINAL_REPORT_SENT_ON: D(2027, 3, 19), Event.PUBLISHED_ON: D(2027, 4, 1)})
    }
    assert entries["publish_not_before"].due_on == D(2027, 4, 1)
    assert entries["publish_not_before"].meaning == "not before"
    assert entries["keep_published_until"].due_on == D(2028, 4, 1)


def test_a_review_keeps_its_edition_when_a_new_one_arrives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A review pinned to wt2023 keeps wt2023's rules after a (made-up) wt2030 with 3-day notification lands."""
    for source in rulebook.RULEBOOK_DIR.glob("*.toml"):
        (tmp_path / source.name).write_text(source.read_text())
    future = (rulebook.RULEBOOK_DIR / "wt2023.toml").read_text()
    future = future.replace('edition = "wt2023"', 'edition = "wt2030"').replace("2023-12-15", "2030-01-01")
    future = future.replace("count = 5\n", "count = 3\n", 1)
    (tmp_path / "wt2030.toml").write_text(future)
    monkeypatch.setattr(rulebook, "RULEBOOK_DIR", tmp_path)
    rulebook.editions.cache_clear()
    try:
        assert rulebook.edition_in_force(D(2030, 2, 1)).id == "wt2030"
        assert rulebook.edition("wt2030").rule("notify_panel").count == 3
        pinned = rulebook.edition("wt2023")  # what a review recorded in 2026 carries
        assert pinned.rule("notify_panel").count == 5
    finally:
        rulebook.editions.cache_clear()


def test_a_rule_without_a_source_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (rulebook.RULEBOOK_DIR / "wt2023.toml").read_text()
    (tmp_path / "bad.toml").write_text(text.replace('source = "WT2023 ch5"', 'source = ""', 1))
    monkeypatch.setattr(rulebook, "RULEBOOK_DIR", tmp_path)
    rulebook.editions.cache_clear()
    try:
        with pytest.raises(RulebookError, match="names no source"):
            rulebook.editions()
    finally:
        rulebook.editions.cache_clear()


def test_every_entry_the_code_names_is_defined_by_some_edition() -> None:
    """An edition need not define every entry, but a name the code looks up that no edition gives is a mistake (a
    misspelt name, or a step added before the edition that brings its deadline): every lookup of it would find
    nothing, and nothing would say so. Checked here rather than when the editions load, because the code and the
    shipped editions change together, and a review under an edition without the entry is handled anyway."""
    defined = set().union(*(e.entry_names for e in rulebook.editions()))
    assert set(Entry) <= defined, sorted(set(Entry) - defined)


def test_the_names_an_edition_gives_are_its_deadlines_and_its_at_least_dates(edition: rulebook.Edition) -> None:
    assert edition.entry_names == {
        "notify_panel",
        "notify_partners",
        "rapid_review",
        "panel_response",
        "lcspr_publication",
        "publish_not_before",
        "send_final_report_by",
        "keep_published_until",
        "actions_reported",
        "notify_looked_after_death",
        "notify_care_leaver_death",
    }
    assert all(edition.defines(entry) for entry in Entry)
    assert not edition.defines("final_report_notice")  # an "at least" rule's own id is never a date of it


FULL = {
    Event.AWARE_ON: D(2030, 1, 14),
    Event.NOTIFIED_ON: D(2030, 1, 16),
    Event.PARTNERS_TOLD_ON: D(2030, 1, 16),
    Event.RAPID_REVIEW_SENT_ON: D(2030, 2, 1),
    Event.PANEL_RESPONDED_ON: D(2030, 2, 14),
    Event.LCSPR_DECIDED_ON: D(2030, 2, 28),
    Event.FINAL_REPORT_SENT_ON: D(2030, 7, 1),
    Event.PUBLISHED_ON: D(2030, 7, 15),
}


def test_an_edition_lacking_an_entry_loads_and_gives_no_such_date(tmp_path: Path) -> None:
    path = tmp_path / f"{LEAN_ID}.toml"
    path.write_text(edition_text(without=LEAN_WITHOUT))
    lean = rulebook.parse_edition(path)
    missing = {Entry.RAPID_REVIEW, Entry.LCSPR_PUBLICATION, Entry.PUBLISH_NOT_BEFORE}
    missing |= {Entry.SEND_FINAL_REPORT_BY, Entry.KEEP_PUBLISHED_UNTIL}
    assert {entry for entry in Entry if not lean.defines(entry)} == missing
    entries = lean.timetable(FULL, planned={Event.PUBLISHED_ON: D(2030, 7, 15)})
    assert {e.name for e in entries} == {"notify_panel", "notify_partners", "panel_response", "actions_reported"}
    # what it does define, it counts as the edition it came from
    full = {e.name: e for e in rulebook.edition("wt2026").timetable(FULL, planned={Event.PUBLISHED_ON: D(2030, 7, 15)})}
    assert all(e == full[e.name] for e in entries)
    # a partnership counting the rapid review from awareness asks nothing of an edition without that clock
    assert lean.timetable(FULL, rapid_review_from=Event.AWARE_ON) == lean.timetable(FULL)


def test_an_edition_lacking_an_entry_takes_its_place_among_the_others(tmp_path: Path) -> None:
    directory = rulebook_with(tmp_path / "rulebooks", (f"{LEAN_ID}.toml", edition_text(without=LEAN_WITHOUT)))
    found = rulebook.load_editions(directory)
    assert [e.id for e in found] == ["wt2018", "wt2023", "wt2026", LEAN_ID]
    assert found[-1].in_force_from == LEAN_IN_FORCE
    assert list(found[:-1]) == list(rulebook.editions())


def test_no_edition_is_no_rulebook(tmp_path: Path) -> None:
    with pytest.raises(RulebookError, match="no rulebook editions"):
        rulebook.load_editions(tmp_path)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (('id = "notify_partners"\n', 'id = "notify_partners"\nearliest_name = "too_early"\n'), "only an at_least"),
        (
            ('latest_from_name = "send_final_report_by"', 'latest_from_name = "notify_panel"'),
            "give the timetable entries notify_panel",
        ),
        (
            ('deadline = "notify_panel"', 'deadline = "final_report_notice"'),
            "timed by final_report_notice, not a deadline",
        ),
    ],
    ids=["a-within-rule-naming-dates", "two-rules-giving-one-entry", "a-notification-timed-by-no-deadline"],
)
def test_an_edition_whose_entries_are_ambiguous_is_refused(
    tmp_path: Path, change: tuple[str, str], complaint: str
) -> None:
    text = (rulebook.RULEBOOK_DIR / "wt2023.toml").read_text()
    assert change[0] in text
    (tmp_path / "wt2023.toml").write_text(text.replace(change[0], change[1], 1))
    with pytest.raises(RulebookError, match=complaint):
        rulebook.parse_edition(tmp_path / "wt2023.toml")


def test_a_rule_is_found_by_its_id() -> None:
    book = rulebook.edition("wt2023")
    assert all(book.rule(rule.id) is rule for rule in book.rules)
    with pytest.raises(KeyError, match="no rule 'no_such_rule'"):
        book.rule("no_such_rule")


# Hand counts, checked against GOV.UK's list as shipped (models/bank_holidays): Christmas Day Fri 25 Dec 2026, Boxing
# Day's substitute Mon 28 Dec 2026, New Year's Day Fri 1 Jan 2027; Good Friday 26 Mar 2027, Easter Monday 29 Mar 2027.
CHRISTMAS = {Event.AWARE_ON: D(2026, 12, 18), Event.NOTIFIED_ON: D(2026, 12, 22)}  # a Friday, then a Tuesday
EASTER = {Event.AWARE_ON: D(2027, 3, 11), Event.NOTIFIED_ON: D(2027, 3, 17)}  # a Thursday, then a Wednesday


def test_the_hand_counts_rest_on_the_shipped_bank_holidays() -> None:
    from models.bank_holidays import published_list

    days = published_list().days
    assert {D(2026, 12, 25), D(2026, 12, 28), D(2027, 1, 1), D(2027, 3, 26), D(2027, 3, 29)} <= set(days)
    assert D(2026, 12, 26) not in days and D(2027, 3, 28) not in days  # a Saturday and a Sunday


@pytest.mark.parametrize(
    ("events", "count", "due", "beside"),
    [
        # from awareness, Fri 18 Dec (day 0): Mon 21-Thu 24 Dec (1-4), Tue 29-Thu 31 Dec (5-7), Mon 4-Fri 8 Jan (8-12),
        # Mon 11-Wed 13 Jan (13-15)
        (CHRISTMAS, Event.AWARE_ON, D(2027, 1, 13), D(2027, 1, 15)),
        # from the notification, Tue 22 Dec (day 0): Wed 23, Thu 24 Dec (1-2), Tue 29-Thu 31 Dec (3-5), Mon 4-Fri 8 Jan
        # (6-10), Mon 11-Fri 15 Jan (11-15)
        (CHRISTMAS, Event.NOTIFIED_ON, D(2027, 1, 15), D(2027, 1, 13)),
        # from awareness, Thu 11 Mar (day 0): Fri 12 (1), Mon 15-Fri 19 (2-6), Mon 22-Thu 25 (7-10), Good Friday and
        # Easter Monday skipped, Tue 30 Mar-Fri 2 Apr (11-14), Mon 5 Apr (15)
        (EASTER, Event.AWARE_ON, D(2027, 4, 5), D(2027, 4, 9)),
        # from the notification, Wed 17 Mar (day 0): Thu 18, Fri 19 (1-2), Mon 22-Thu 25 (3-6), Tue 30 Mar-Fri 2 Apr
        # (7-10), Mon 5-Fri 9 Apr (11-15)
        (EASTER, Event.NOTIFIED_ON, D(2027, 4, 9), D(2027, 4, 5)),
    ],
    ids=[
        "christmas-from-awareness",
        "christmas-from-notification",
        "easter-from-awareness",
        "easter-from-notification",
    ],
)
def test_the_rapid_review_under_each_count(
    events: dict[Event, dt.date], count: Event, due: dt.date, beside: dt.date
) -> None:
    """Either count gives its date, and the date counted from the other start beside it, never as the deadline."""
    entry = {e.name: e for e in rulebook.edition("wt2026").timetable(events, rapid_review_from=count)}["rapid_review"]
    other = Event.NOTIFIED_ON if count is Event.AWARE_ON else Event.AWARE_ON
    assert (entry.due_on, entry.basis, entry.alternative_on, entry.alternative_basis) == (due, count, beside, other)
    assert not entry.provisional


def test_the_rapid_review_counts_from_the_notification_since_2023_and_from_awareness_in_2018() -> None:
    for edition_id, start in (("wt2018", Event.AWARE_ON), ("wt2023", Event.NOTIFIED_ON), ("wt2026", Event.NOTIFIED_ON)):
        book = rulebook.edition(edition_id)
        rapid = book.rule("rapid_review")
        assert rapid.from_event is start, edition_id
        assert {o.event for o in rapid.starts} == {Event.AWARE_ON, Event.NOTIFIED_ON}
        # each start names its own source: the Panel's practice guidance and the partnerships that follow it
        assert "PANEL practice guidance" in rapid.start(Event.NOTIFIED_ON).source
        assert "WT2018 ch4" in rapid.start(Event.AWARE_ON).source
        assert all(name in book.sources["LOCAL"] for name in ("Cambridgeshire and Peterborough", "Essex", "Walsall"))
        entry = {e.name: e for e in book.timetable(CHRISTMAS)}["rapid_review"]
        assert entry.basis is start
        assert "counted from" in entry.source and rapid.start(start).source in entry.source
    beside = rulebook.edition("wt2026").alternative_words("rapid_review", "aware_on", "Wed 13 Jan 2027")
    assert beside == (
        "Wed 13 Jan 2027 counted from the local authority becoming aware: an earlier date a partnership may aim for"
    )


def test_each_kind_in_words_and_the_kinds_stored_before_they_were_named() -> None:
    book = rulebook.edition("wt2023")
    assert book.kind_words("statutory_guidance") == "statutory guidance (Working Together to Safeguard Children 2023)"
    assert book.kind_words("statute").startswith("a duty in statute and regulation (Children Act 2004 s16C")
    assert book.kind_words("practice").startswith("what happens in practice")
    # a deadline stored with the old kinds reads as it was meant, and is escalated as it was, until counted again
    assert book.kind_words("statutory") == "statutory (the Act, the Regulations or Working Together)"
    assert book.kind_words("expectation") == "an expectation, not statutory"
    assert {"statute", "statutory_guidance", "statutory"} == rulebook.BREACH_KINDS


def test_an_edition_s_first_day_is_one_setting_with_its_evidence(tmp_path: Path) -> None:
    text = (rulebook.RULEBOOK_DIR / "wt2026.toml").read_text()
    assert text.count("2026-03-18") == 1  # said once: [in_force] from
    (tmp_path / "wt2026.toml").write_text(text.replace("from = 2026-03-18", "from = 2026-03-25", 1))
    with pytest.raises(RulebookError, match="re-issue is dated before"):
        rulebook.parse_edition(tmp_path / "wt2026.toml")
    (tmp_path / "wt2026.toml").write_text(re.sub(r'(?m)^evidence = ".*"$', 'evidence = " "', text, count=1))
    with pytest.raises(RulebookError, match=r"\[in_force\] needs a first day"):
        rulebook.parse_edition(tmp_path / "wt2026.toml")
    assert "EDITION_RULE" in (rulebook.__doc__ or "")
    assert rulebook.EDITION_RULE.endswith("in force on the day the local authority became aware of the incident.")


def test_the_readme_and_the_rulebook_guide_quote_the_one_rule() -> None:
    root = rulebook.RULEBOOK_DIR.parents[1]
    for doc in ("README.md", "docs/rulebook.md"):
        assert rulebook.EDITION_RULE in " ".join((root / doc).read_text(encoding="utf-8").split()), doc
