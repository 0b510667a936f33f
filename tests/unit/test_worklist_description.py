"""The worklist artifact says when it was made, in UK time, so a reader knows how far behind it may be
(tasks/worklist_artifacts.py)."""

from __future__ import annotations

import datetime as dt

from tasks.worklist_artifacts import description


def test_the_description_says_when_in_uk_time() -> None:
    summer = description("northshire", dt.datetime(2026, 7, 1, 12, 30, tzinfo=dt.UTC))
    assert "in northshire, as it stood at 13:30 on 1 July 2026 (UK time)" in summer  # British Summer Time
    assert "at most once a minute" in summer
    winter = description(None, dt.datetime(2026, 12, 7, 9, 5, tzinfo=dt.UTC))
    assert "in every partnership, as it stood at 09:05 on 7 December 2026 (UK time)" in winter
    assert "sweep" in winter
