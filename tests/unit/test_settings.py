"""One place for every setting: the configuration table of the operator's guide (docs/operators.md) is the class
`Settings`, and nothing else reads a CSPR_ variable from the environment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from models.settings import PROJECT_ROOT, Settings

GUIDE = PROJECT_ROOT / "docs" / "operators.md"
READS = re.compile(r"""os\.(?:environ\.get|getenv)\(\s*["']CSPR_|os\.environ\[\s*["']CSPR_\w*["']\s*\](?!\s*=[^=])""")


def configuration_table() -> dict[str, tuple[str, str]]:
    """The table under "## Configuration": variable -> (default, meaning)."""
    section = GUIDE.read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, tuple[str, str]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|") or cells[0] in ("variable", "---"):
            continue
        assert len(cells) == 3, line
        variable = re.fullmatch(r"`(\w+)`", cells[0])
        assert variable is not None, line
        name = variable.group(1)
        assert name not in rows, f"{name} twice"
        rows[name] = (cells[1], cells[2])
    return rows


def printed(default: object) -> str:
    if isinstance(default, Path):
        return str(default.relative_to(PROJECT_ROOT)) if default.is_relative_to(PROJECT_ROOT) else str(default)
    return str(default)


def test_the_operators_guide_lists_exactly_the_settings_with_their_defaults() -> None:
    table = configuration_table()
    assert sorted(table) == sorted(f"CSPR_{name.upper()}" for name in Settings.model_fields)
    for name, field in Settings.model_fields.items():
        default, meaning = table[f"CSPR_{name.upper()}"]
        assert meaning and field.description, name
        if field.default is None:
            assert default.startswith("unset"), (name, default)
        else:
            shown = re.match(r"`([^`]*)`", default)
            assert shown is not None and shown.group(1) == printed(field.default), (name, default, field.default)


def test_each_setting_is_read_from_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    values: dict[str, object] = {
        "database_url": "sqlite:///x.db",
        "encryption_key": "k",
        "storage_url": "s3://b/p",
        "s3_endpoint_url": "http://127.0.0.1:1",
        "s3_region": "eu-west-2",
        "runs_per_worker": 7,
        "unresponsive_after": 60,
    }
    for name, value in values.items():
        monkeypatch.setenv(f"CSPR_{name.upper()}", str(value))
    settings = Settings()
    assert {name: getattr(settings, name) for name in values} == values


def test_the_region_falls_back_on_boto3s_own_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CSPR_S3_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    assert Settings().s3_region == "us-east-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert Settings().s3_region == "eu-west-1"
    monkeypatch.setenv("CSPR_S3_REGION", "eu-west-2")
    assert Settings().s3_region == "eu-west-2"


def test_no_code_reads_a_cspr_variable_but_the_settings() -> None:
    """Writing one (for a process about to be started) is fine; reading one goes through models/settings.py."""
    found = [
        f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}"
        for folder in ("models", "tasks", "flows", "cli")
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py"))
        if path != PROJECT_ROOT / "models" / "settings.py"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if READS.search(line)
    ]
    assert found == [], "read through get_settings() instead:\n" + "\n".join(found)


def test_the_check_for_reads_finds_reads_and_not_writes() -> None:
    reads = ['os.environ.get("CSPR_X")', "os.getenv('CSPR_X', '1')", 'os.environ["CSPR_X"]', 'x = os.environ["CSPR_X"]']
    writes = ['os.environ["CSPR_X"] = "1"', 'env["CSPR_X"] = "1"', 'os.environ.get("PREFECT_X")']
    assert all(READS.search(line) for line in reads)
    assert not any(READS.search(line) for line in writes)
