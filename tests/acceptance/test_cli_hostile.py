"""Every hostile input found against the command line: one error line and exit 1, nothing
stored, `jobs list` still working; secrets hidden unless asked for; `check` on a damaged file.

The commands run in this process (typer's CliRunner) against a real SQLite file.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from baton.cli import app
from baton.cli.demo import _tokens
from baton.store.sqlite import SQLiteStore
from baton.web import Role
from tests.contract.helpers import schedule as contract_schedule

SECRET = "SUPERSECRETVALUE42"
HUGE = "99999999999999w"


def cli(store: str, *args: str, imports: bool = True) -> Result:
    root = ["--store", store, *(["--import", "tests.jobs_for_tests"] if imports else [])]
    env = {"BATON_API_TOKENS": "", "COLUMNS": "240"}  # wide enough that no id is folded
    return CliRunner().invoke(app, [*root, *args], env=env)


def failed_in_one_line(result: Result, *words: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def listed(store: str) -> list[str]:
    result = cli(store, "jobs", "list", "--json")
    assert result.exit_code == 0, result.output
    return [s["id"] for s in json.loads(result.stdout)["items"]]


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/baton.db"


ADD = ("jobs", "add", "record", "--payload", '{"label": "x"}')

CASES: list[tuple[tuple[str, ...], tuple[str, ...]]] = [
    ((*ADD, "--id", "poison", "--every", "1s", "--jitter", "100000000d"), ("jitter",)),
    ((*ADD, "--id", "p", "--every", HUGE), ("every", "3653 days")),
    ((*ADD, "--id", "p", "--every", "1h", "--jitter", HUGE), ("jitter",)),
    ((*ADD, "--id", "p", "--every", "1h", "--timeout", HUGE), ("timeout",)),
    ((*ADD, "--id", "p", "--every", "1h", "--misfire-grace", HUGE), ("--misfire-grace",)),
    ((*ADD, "--id", "p", "--every", "1h", "--backoff", HUGE), ("backoff",)),
    ((*ADD, "--id", "p", "--every", "1h", "--backoff-max", HUGE), ("--backoff-max",)),
    ((*ADD, "--id", "p", "--every", "1h", "--timeout", "31d"), ("policy.timeout",)),
    ((*ADD, "--id", "p", "--every", "1h", "--priority", "9" * 30), ("policy.priority",)),
    ((*ADD, "--id", "p", "--every", "1h", "--max-attempts", "9" * 30), ("max_attempts",)),
    ((*ADD, "--id", "p", "--every", "1h", "--max-concurrent", "-1"), ("max_concurrent",)),
    ((*ADD, "--id", "p", "--every", "0.0001s"), ("trigger.interval",)),
    ((*ADD, "--id", "p", "--at", "0001-01-01T00:00:00+14:00"), ("trigger.date",)),
    ((*ADD, "--id", "p", "--at", "9999-12-31T23:00:00-05:00"), ("trigger.date",)),
    ((*ADD, "--id", "p", "--cron", "* * * * *", "--tz", "localtime"), ("trigger.timezone",)),
    ((*ADD, "--id", "a/b", "--every", "1h"), ("id", "'/'")),
    ((*ADD, "--id", "rtl\u202eevil", "--every", "1h"), ("id", "U+202E")),
    ((*ADD, "--id", "zero\u200bwidth", "--every", "1h"), ("id", "U+200B")),
    ((*ADD, "--id", "\udcff", "--every", "1h"), ("id",)),
    (("jobs", "add", "record", "--id", "p", "--every", "1h", "--payload", "[" * 5000), ("nests",)),
    (
        ("jobs", "add", "record", "--id", "p", "--every", "1h", "--payload", '{"label": NaN}'),
        ("NaN",),
    ),
    (
        (
            "jobs",
            "add",
            "record",
            "--id",
            "p",
            "--every",
            "1h",
            "--payload",
            '{"label": "\\ud800"}',
        ),
        ("payload.label",),
    ),
    (("runs", "list", "--cursor", "9" * 23), ("cursor",)),
    (("runs", "list", "--limit", "9" * 30), ("limit",)),
    (("jobs", "list", "--limit", "0"), ("limit",)),
    (("jobs", "trigger", "w:1", "--key", "c@2026-11-27T10:00:00Z"), ("key", "'@'")),
    (("jobs", "show", "\udcff"), ("id",)),
    (("runs", "show", "x" * 400), ("run_id",)),
    (("breakers", "reset", "\udcff"), ("key",)),
    (("worker", "--lease", "1e300"), ("lease",)),
    (("worker", "--shutdown-grace", "nan"), ("shutdown-grace",)),
    (("worker", "--concurrency", "9" * 30), ("concurrency",)),
    (("serve", "--port", "99999999"), ("port",)),
    (("demo", "--poll", "inf"), ("poll",)),
]


@pytest.mark.parametrize(("args", "words"), CASES, ids=[" ".join(c[0])[-60:] for c in CASES])
def test_hostile_input_fails_in_one_line_and_stores_nothing(
    store: str, args: tuple[str, ...], words: tuple[str, ...]
) -> None:
    added = cli(store, *ADD, "--id", "w:1", "--every", "1h")
    assert added.exit_code == 0, added.output
    failed_in_one_line(cli(store, *args), *words)
    assert listed(store) == ["w:1"]
    runs = cli(store, "runs", "list", "--json")
    assert runs.exit_code == 0 and json.loads(runs.stdout)["items"] == []


def test_an_id_that_looks_like_markup_is_shown_as_it_is(store: str) -> None:
    for sid in ("mk[bold]", "[red]x]", "a[b"):
        added = cli(store, *ADD, "--id", sid, "--every", "1h")
        assert added.exit_code == 0, added.output
        assert sid in added.stdout
    for args in (("jobs", "list"), ("jobs", "show", "mk[bold]"), ("jobs", "trigger", "mk[bold]")):
        result = cli(store, *args)
        assert result.exit_code == 0, result.output
        assert "mk[bold]" in result.stdout
    assert "mk[bold]@manual:" in cli(store, "runs", "list").stdout
    failed_in_one_line(cli(store, "jobs", "show", "[bold]nope"), "'[bold]nope'")
    failed_in_one_line(cli(store, *ADD, "--id", "mk[/]", "--every", "1h"), "'/'")


def test_a_stored_id_that_closes_markup_does_not_break_listing(tmp_path: Path) -> None:
    """Written before ids lost '/', or by another program: shown, never parsed."""
    path = tmp_path / "baton.db"

    async def store_it() -> None:
        async with SQLiteStore(path) as raw:
            now = await raw.now()
            legal = contract_schedule("legal", now)
            await raw.add_schedule(legal.evolve(id="mk[/]", type="record"))

    asyncio.run(store_it())
    store = f"sqlite:///{path}"
    for args in (("jobs", "list"), ("jobs", "list", "--json")):
        result = cli(store, *args)
        assert result.exit_code == 0, result.output
        assert "mk[/]" in result.stdout


def _secret_schedule(store: str) -> None:
    payload = json.dumps({"url": "https://hooks.example", "api_key": SECRET})
    added = cli(store, "jobs", "add", "notify", "--id", "n", "--payload", payload, "--every", "1h")
    assert added.exit_code == 0 and SECRET not in added.output
    assert cli(store, "jobs", "trigger", "n", "--key", "k").exit_code == 0


READS = [
    ("jobs", "list"),
    ("jobs", "list", "--json"),
    ("jobs", "show", "n"),
    ("jobs", "show", "n", "--json"),
    ("runs", "list"),
    ("runs", "list", "--json"),
    ("runs", "show", "n@manual:k"),
    ("runs", "show", "n@manual:k", "--json"),
]


@pytest.mark.parametrize("imports", [True, False], ids=["with-types", "without-types"])
def test_no_command_prints_a_secret_unless_asked(store: str, imports: bool) -> None:
    _secret_schedule(store)
    for args in READS:
        result = cli(store, *args, imports=imports)
        assert result.exit_code == 0, result.output
        assert SECRET not in result.output
        if "--json" in args:
            assert '"***"' in result.output
    shown = cli(store, "runs", "list", "--json", "--show-secrets", imports=imports)
    assert json.loads(shown.stdout)["items"][0]["payload"]["api_key"] == SECRET


def test_check_finds_a_damaged_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "baton.db"
    store = f"sqlite:///{path}"
    for n in range(200):  # enough rows for several b-tree pages
        added = cli(store, *ADD, "--id", f"s:{n:03d}", "--every", "1h")
        assert added.exit_code == 0, added.output
    healthy = cli(store, "check")
    assert healthy.exit_code == 0 and "ok" in healthy.stdout
    _damage_an_index_page(path)
    damaged = cli(store, "check")
    assert damaged.exit_code == 1, damaged.output
    assert "the file is damaged (PRAGMA quick_check)" in damaged.stderr


def _damage_an_index_page(path: Path) -> None:
    """Overwrite the cell pointers of the schedules' primary-key index with garbage, as a
    bit-flipping disk would, keeping the file's header intact."""
    with sqlite3.connect(path) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_master"
            " WHERE type = 'index' AND tbl_name = 'baton_schedules'"
        ).fetchone()
    with open(path, "r+b") as handle:
        handle.seek((root - 1) * page_size + 12)
        handle.write(b"\xff\xfe" * 32)


@pytest.mark.parametrize(
    ("spec", "shown", "role"),
    [
        (None, None, Role.ADMIN),
        (
            "viewer:viewer-token-0123456789,admin:admin-token-0123456789",
            "admin-token-0123456789",
            Role.ADMIN,
        ),
        ("viewer:viewer-token-0123456789", "viewer-token-0123456789", Role.VIEWER),
    ],
)
def test_the_demo_prints_one_token_that_the_api_accepts(
    spec: str | None, shown: str | None, role: Role
) -> None:
    tokens, token = _tokens(spec)
    assert "," not in token and ":" not in token
    if shown is not None:
        assert token == shown
    assert tokens.role_of(token) is role
