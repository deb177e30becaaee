"""Pieces of the command line that need no process: its defaults, its tables, its log
formatter and its wording."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from rich.console import Console

from baton import NodeConfig, Run
from baton.cli import misplaced, nodes
from baton.cli.context import describe_store
from baton.cli.logformat import JsonFormatter
from baton.cli.render import attempt_text, runs_table


def test_the_node_flags_default_to_the_node_config() -> None:
    """cli/nodes.py repeats them so that `--help` need not import the node."""
    config = NodeConfig()
    assert config.lease.total_seconds() == nodes.LEASE
    assert config.shutdown_grace.total_seconds() == nodes.SHUTDOWN_GRACE
    assert config.fire_ahead.total_seconds() == nodes.FIRE_AHEAD


def a_run(run_id: str, attempt: int = 1, max_attempts: int = 1) -> Run:
    now = datetime(2026, 11, 27, 10, tzinfo=UTC)
    return Run.model_validate(
        {
            "id": run_id,
            "schedule_id": run_id.split("@")[0],
            "type": "worker-metrics",
            "fire_at": now,
            "due_at": now,
            "created_at": now,
            "attempt": attempt,
            "policy": {"retry": {"max_attempts": max_attempts}},
        }
    )


def test_a_run_id_stays_on_one_line_in_80_columns() -> None:
    run_id = "worker-metrics:i-0abc123456789def0@2026-11-27T10:05:00.123000Z"
    console = Console(width=80, record=True)
    console.print(runs_table([a_run(run_id)], width=80))
    text = console.export_text()
    assert run_id in text and "state" in text
    assert all(len(line) <= 80 for line in text.splitlines())


def test_a_wide_terminal_shows_every_column() -> None:
    console = Console(width=200, record=True)
    console.print(runs_table([a_run("r@1")], width=200))
    header = console.export_text().splitlines()[2]
    for column in ("id", "state", "attempt", "type", "fire (UTC)", "took ms", "late ms", "node"):
        assert column in header


def test_attempts_past_the_policy_are_not_told_as_3_of_2() -> None:
    assert attempt_text(a_run("r", attempt=2, max_attempts=3)) == "2 of 3"
    assert attempt_text(a_run("r", attempt=3, max_attempts=2)) == (
        "3 (2 by its policy, then retried by hand)"
    )


def test_a_misplaced_global_option_is_told_where_it_goes() -> None:
    assert misplaced("--import", "baton jobs list") == (
        "--import is an option of baton itself and goes before the command: "
        "baton --import ... jobs list ..."
    )


def test_a_store_url_is_told_with_its_file_and_without_its_password() -> None:
    assert describe_store("sqlite:////var/lib/baton.db") == (
        "sqlite:////var/lib/baton.db (file /var/lib/baton.db)"
    )
    assert describe_store("redis://:s3cret@db:6379/1") == "redis://:***@db:6379/1"


def test_the_json_log_formatter_keeps_the_extra_fields() -> None:
    record = logging.LogRecord("baton.node", logging.WARNING, __file__, 1, "run %s", ("r",), None)
    record.run_id, record.job_type = "r", "boom"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "run r" and line["level"] == "WARNING"
    assert line["run_id"] == "r" and line["job_type"] == "boom"
    assert line["logger"] == "baton.node" and line["time"].endswith("+00:00")
