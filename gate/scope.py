"""What a person may read of Prefect's runs: those of their own partnerships' reviews, and no secret at all.

Pure: the gate hands in what Prefect answered or what the person asked, and gets back a decision or a narrowed
request. A review's runs carry the tag ``partnership:<code>`` (tasks/runs.py names and tags them; the gate tags a run
it starts for a person), and a run without one (the sweep, retention) belongs to no partnership: only operators and
the Panel's contact read it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from models.refusals import Refused

PARTNERSHIP_TAG = "partnership:"
NO_PARTNERSHIP = "partnership:-"  # no run carries it (a code is letters, digits and hyphens, never "-" alone)
SCRUBBED = "(withheld)"
# what every page of Prefect's UI reads of the server's settings (its sidebar): all a person other than an operator gets
UI_SETTINGS = {"PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": False}
# a setting whose name says it holds a credential: Prefect's settings document, whatever its version adds
_SECRET_NAMES = re.compile(r"(?i)(header|key|token|secret|password|passwd|auth|credential|connection_url|dsn|cookie)")
_URL_PASSWORD = re.compile(r"(?i)(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):[^@/\s]*@")


class Unscopable(Refused):
    """A filter the gate cannot narrow to the person's partnerships; ``str()`` says what to change."""


def tag(code: str) -> str:
    return f"{PARTNERSHIP_TAG}{code}"


def partnerships_of_run(run: Mapping[str, Any]) -> frozenset[str]:
    tags = run.get("tags") or []
    return frozenset(
        t.removeprefix(PARTNERSHIP_TAG) for t in tags if isinstance(t, str) and t.startswith(PARTNERSHIP_TAG)
    )


def run_visible(run: Mapping[str, Any], partnerships: frozenset[str] | None) -> bool:
    """Whether a person who reads ``partnerships`` (None: all) may read this flow run, as Prefect's API returns it."""
    return partnerships is None or bool(partnerships_of_run(run) & partnerships)


def _and_only(filter_: Mapping[str, Any], what: str) -> None:
    if filter_.get("operator", "and_") not in ("and_", None):
        raise Unscopable(f"a filter of {what} joined by 'or' cannot be narrowed to your partnerships; use 'and'")


def narrow_runs(body: Mapping[str, Any], partnerships: frozenset[str]) -> dict[str, Any]:
    """The request ``body`` (any of Prefect's filters with a top-level ``flow_runs``) narrowed to runs tagged with one
    of ``partnerships``. Whatever else the person asked for still applies: their conditions and ours are joined by
    "and", and a filter that would join them by "or" is refused (Unscopable)."""
    runs = body.get("flow_runs") or {}
    if not isinstance(runs, Mapping):
        raise Unscopable("the filter of flow runs is not an object")
    _and_only(runs, "flow runs")
    tags = runs.get("tags") or {}
    if not isinstance(tags, Mapping):
        raise Unscopable("the filter of tags is not an object")
    _and_only(tags, "tags")
    tags = dict(tags)
    mine = sorted(tag(code) for code in partnerships)
    if len(mine) <= 1:  # one partnership (or none): a tag every run must carry, whatever else is asked
        tags["all_"] = [*(tags.get("all_") or []), *(mine or [NO_PARTNERSHIP])]
    elif tags.get("any_"):
        raise Unscopable("filter by one partnership at a time (tag 'partnership:<code>') when you choose any of tags")
    else:
        tags["any_"] = mine
    return {**body, "flow_runs": {**runs, "tags": tags}}


def named_runs(body: Mapping[str, Any], field: str = "flow_run_ids") -> list[str]:
    ids = body.get(field)
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise Unscopable(f"name the runs you want as a list of ids in '{field}'")
    return ids


def logs_runs(body: Mapping[str, Any]) -> list[str]:
    """The flow runs a log filter is limited to: a person reads the logs of named runs only."""
    logs = body.get("logs") or {}
    if not isinstance(logs, Mapping):
        raise Unscopable("the filter of logs is not an object")
    _and_only(logs, "logs")
    run_ids = (logs.get("flow_run_id") or {}).get("any_") if isinstance(logs.get("flow_run_id"), Mapping) else None
    if not run_ids or not isinstance(run_ids, list) or not all(isinstance(i, str) for i in run_ids):
        raise Unscopable("open a run to read its logs: a filter of logs must name its flow runs")
    return run_ids


def scrub(value: Any, name: str = "") -> Any:
    """Prefect's settings with every value whose name says it is a credential withheld, and any password written
    into a URL removed: a second line behind the first (the server's process holds no secret of the system)."""
    if value not in (None, "", {}, []) and _SECRET_NAMES.search(name) and not isinstance(value, bool | int | float):
        return SCRUBBED  # a whole mapping too: custom headers are named by whoever set them
    if isinstance(value, Mapping):
        return {k: scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, name) for v in value]
    if isinstance(value, str):
        return _URL_PASSWORD.sub(r"\g<scheme>\g<user>:" + SCRUBBED + "@", value)
    return value
