"""Driving the pages as a person does, with Playwright and Debian's Chromium: Prefect's UI (``PrefectUI``: forms
filled field by field through the widgets the UI draws, date pickers, drop-downs, switches, lists, never by typing
JSON; it also takes the journey's screenshots) and the gate's tasks pages (``TaskPage``: GOV.UK form components,
found by their labels and legends)."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from models.settings import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def screenshots(own: str = "") -> Path:
    """Where a browser test's screenshots (and the emails it followed) go: ``test-output/browser/`` (or
    ``$CSPR_TEST_OUTPUT/browser``), in a folder of the test's own when ``own`` names one, so that one test's run
    never deletes another's pictures. An earlier run's are removed first: what is there is this run's."""
    folder = Path(os.environ.get("CSPR_TEST_OUTPUT") or PROJECT_ROOT / "test-output") / "browser" / own
    folder.mkdir(parents=True, exist_ok=True)
    for old in [*folder.glob("*.png"), *folder.glob("*.txt")]:
        old.unlink()
    return folder


@dataclass
class PrefectUI:
    page: Page
    base: str  # http://127.0.0.1:4200
    shots: Path
    taken: list[Path] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # every API call the gate refused the UI: the UI shows each

    def shot(self, name: str) -> Path:
        path = self.shots / f"{len(self.taken) + 1:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path

    def field(self, label: str, within: Locator | None = None) -> Locator:
        """The form field whose label starts with ``label`` (the innermost, last one when labels repeat)."""
        scope = within or self.page
        name = re.compile(rf"^\s*{re.escape(label)}")
        return (
            scope.locator(".schema-form-property")
            .filter(has=self.page.locator(".schema-form-property__label", has_text=name))
            .last
        )

    def text(self, label: str, value: str, within: Locator | None = None) -> None:
        self.field(label, within).locator("textarea, input").first.fill(value)

    def date(self, label: str, day: dt.date, within: Locator | None = None) -> None:
        self.field(label, within).locator(".p-date-button__control").click()
        popover = self.page.locator(".p-pop-over-content").last
        popover.locator("input[type=date]").fill(day.isoformat())
        popover.get_by_role("button", name="Apply").click()
        expect(self.field(label, within).locator(".p-date-button__value")).not_to_have_text("Select date")

    def choose(self, label: str, option: str, within: Locator | None = None) -> None:
        """Pick one of a drop-down's choices (the UI opens it from the keyboard; a click alone toggles it)."""
        self.field(label, within).locator(".p-select-button__control").press("ArrowDown")
        options = self.page.locator(".p-pop-over-content").last.locator("[role=option]")
        options.filter(has_text=re.compile(rf"^\s*{re.escape(option)}\s*$")).first.click()
        expect(self.field(label, within).locator(".p-select-button__value")).to_contain_text(option)

    def switch(self, label: str, within: Locator | None = None) -> None:
        """Turn a switch on."""
        control = self.field(label, within).locator("[role=switch]").first
        control.click()
        expect(control).to_have_attribute("aria-checked", "true")

    def choose_many(self, label: str, options: list[str], within: Locator | None = None) -> None:
        """Pick several of a multiple-choice drop-down's choices, one after another."""
        control = self.field(label, within).locator(".p-select-button__control").first
        for option in options:
            control.press("ArrowDown")
            choices = self.page.locator(".p-pop-over-content").last.locator("[role=option]")
            choices.filter(has_text=re.compile(rf"^\s*{re.escape(option)}\s*$")).first.click()
            self.field(label, within).locator(".schema-form-property__label").first.click()  # closes the list
            expect(choices).to_have_count(0)
        for option in options:
            expect(self.field(label, within)).to_contain_text(option)

    def add_item(self, label: str, within: Locator | None = None) -> Locator:
        """Add an item to a list field; returns the new item."""
        lst = self.field(label, within)
        lst.get_by_role("button", name="Add item").click()
        return lst.locator(".p-draggable-list__item, .schema-form-property-array-list__item").last


@dataclass
class TaskPage:
    """A step's form on the gate's tasks pages (GOV.UK Design System components, no JavaScript needed): each field
    found as a person finds it, by its label, or a group of them (a date, radios, a row of a list) by its legend."""

    page: Page
    scope: Locator | None = None  # a group of the form (a row of children), or the whole page

    @property
    def _here(self) -> Page | Locator:
        return self.scope or self.page

    def within(self, legend: str) -> TaskPage:
        """The fields of one group (``"Children, Row 1"``: a row's legend, as a screen reader reads it)."""
        return TaskPage(self.page, self.group(legend))

    def group(self, legend: str) -> Locator:
        return self._here.get_by_role("group", name=legend, exact=True)

    def text(self, label: str, value: str) -> None:
        self._here.get_by_label(label, exact=True).fill(value)

    def date(self, legend: str, day: dt.date) -> None:
        group = self.group(legend)
        for part, value in (("Day", day.day), ("Month", day.month), ("Year", day.year)):
            group.get_by_label(part, exact=True).fill(str(value))

    def choose(self, legend: str, option: str) -> None:
        self.group(legend).get_by_label(option, exact=True).check()

    def choose_many(self, legend: str, options: list[str]) -> None:
        for option in options:
            self.choose(legend, option)

    def tick(self, label_start: str) -> None:
        """Tick the one checkbox whose label begins with ``label_start``."""
        self._here.get_by_label(re.compile(rf"^{re.escape(label_start)}")).check()

    def press(self, button: str) -> None:
        self.page.get_by_role("button", name=button, exact=True).click()

    def error_summary(self) -> Locator:
        """The GOV.UK error summary at the top of the page, once it is there."""
        summary = self.page.locator(".govuk-error-summary")
        expect(summary.get_by_role("heading", name="There is a problem")).to_be_visible()
        return summary
