"""The `baton` command line, driven in subprocesses as a user would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.acceptance.procs import run_cli

IMPORT = ("--import", "tests.acceptance.mp_jobs")


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/baton.db"


def baton(store: str, *args: str) -> tuple[int, str, str]:
    done = run_cli("--store", store, *IMPORT, *args, env={"COLUMNS": "200"})
    return done.returncode, done.stdout, done.stderr


def ok_json(store: str, *args: str) -> object:
    code, out, err = baton(store, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_a_schedule_through_its_whole_life(store: str) -> None:
    added = ok_json(
        store,
        "jobs",
        "add",
        "tick",
        "--id",
        "tick:1",
        "--payload",
        '{"n": 1}',
        "--every",
        "30s",
        "--priority",
        "5",
        "--max-attempts",
        "3",
    )
    assert isinstance(added, dict)
    assert added["id"] == "tick:1" and added["type"] == "tick"
    assert added["payload"] == {"n": 1, "seconds": 0.0}
    assert added["trigger"]["interval"]["seconds"] == 30
    assert added["policy"]["priority"] == 5 and added["policy"]["retry"]["max_attempts"] == 3
    assert added["state"] == "active" and added["next_fire_at"]

    listed = ok_json(store, "jobs", "list")
    assert [s["id"] for s in listed["items"]] == ["tick:1"]  # type: ignore[index]

    first = ok_json(store, "jobs", "trigger", "tick:1", "--key", "req-1")
    again = ok_json(store, "jobs", "trigger", "tick:1", "--key", "req-1")
    assert first == again
    runs = ok_json(store, "runs", "list")
    assert [r["id"] for r in runs["items"]] == ["tick:1@manual:req-1"]  # type: ignore[index]
    shown = ok_json(store, "runs", "show", "tick:1@manual:req-1")
    assert shown["state"] == "queued"  # type: ignore[index]
    cancelled = ok_json(store, "runs", "cancel", "tick:1@manual:req-1")
    assert cancelled["state"] == "cancelled"  # type: ignore[index]
    retried = ok_json(store, "runs", "retry", "tick:1@manual:req-1")
    assert retried["state"] == "queued" and retried["attempt"] == 2  # type: ignore[index]
    code, _, err = baton(store, "runs", "retry", "no-such-run")
    assert code == 1 and "no run has the id 'no-such-run'" in err

    assert ok_json(store, "jobs", "pause", "tick:1")["state"] == "paused"  # type: ignore[index]
    assert ok_json(store, "jobs", "resume", "tick:1")["state"] == "active"  # type: ignore[index]
    detail = ok_json(store, "jobs", "show", "tick:1")
    assert [r["id"] for r in detail["recent_runs"]] == ["tick:1@manual:req-1"]  # type: ignore[index]
    code, out, _ = baton(store, "jobs", "remove", "tick:1")
    assert code == 0 and "removed tick:1" in out
    assert ok_json(store, "jobs", "list")["items"] == []  # type: ignore[index]


def test_tables_are_the_default_output(store: str) -> None:
    baton(
        store,
        "jobs",
        "add",
        "tick",
        "--id",
        "c",
        "--payload",
        '{"n": 2}',
        "--cron",
        "*/5 * * * *",
        "--tz",
        "Europe/Brussels",
    )
    code, out, _ = baton(store, "jobs", "list")
    assert code == 0 and "cron */5 * * * * (Europe/Brussels)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--payload", '{"n": "one"}', "--every", "5s"], "payload.n"),
        (["--payload", '{"n": 1, "x": 2}', "--every", "5s"], "payload.x"),
        (
            ["--payload", json.dumps({"n": 1, "seconds": 1, "pad": "x" * 70000}), "--every", "5s"],
            "payload",
        ),
        (["--payload", '{"n": 1', "--every", "5s"], "not valid JSON"),
        (["--payload", "[1]", "--every", "5s"], "must be a JSON object"),
        (["--payload", '{"n": 1}', "--every", "soon"], "cannot read 'soon'"),
        (["--payload", '{"n": 1}', "--cron", "61 * * * *"], "trigger.cron"),
        (["--payload", '{"n": 1}', "--cron", "* * *"], "5 or 6 fields"),
        (["--payload", '{"n": 1}', "--cron", "* * * * *", "--tz", "Nowhere/City"], "time zone"),
        (["--payload", '{"n": 1}', "--at", "2026-11-27 10:00"], "trigger.date"),
        (["--payload", '{"n": 1}', "--at", "2026-11-27T10:00:00"], "timezone"),
        (["--payload", '{"n": 1}', "--every", "5s", "--cron", "* * * * *"], "exactly one"),
        (["--payload", '{"n": 1}'], "exactly one"),
        (["--payload", '{"n": 1}', "--every", "5s", "--max-attempts", "0"], "max_attempts"),
        (["--payload", '{"n": 1}', "--every", "5s", "--timeout", "-1s"], "timeout"),
    ],
)
def test_bad_input_is_one_clear_line_and_nothing_is_stored(
    store: str, args: list[str], message: str
) -> None:
    code, out, err = baton(store, "jobs", "add", "tick", "--id", "bad", *args)
    assert code == 1
    assert err.startswith("error: ") and message in err, err
    assert "Traceback" not in err + out
    listed, out, err = baton(store, "jobs", "list", "--json")
    assert (listed == 0 and json.loads(out)["items"] == []) or "no baton store at" in err


def test_unknown_job_type_and_ids(store: str) -> None:
    code, _, err = baton(store, "jobs", "add", "nope", "--id", "x", "--every", "5s")
    assert code == 1 and "no job type is registered as 'nope'" in err
    code, _, err = baton(
        store, "jobs", "add", "tick", "--id", "has space", "--payload", '{"n": 1}', "--every", "5s"
    )
    assert code == 1 and "id: " in err
    for command in (
        ["jobs", "show", "ghost"],
        ["jobs", "pause", "ghost"],
        ["jobs", "remove", "ghost"],
        ["runs", "show", "ghost"],
    ):
        code, _, err = baton(store, *command)
        assert code == 1 and "'ghost'" in err and "Traceback" not in err


def test_adding_an_existing_id_keeps_the_first_unless_replace(store: str) -> None:
    base = ["jobs", "add", "tick", "--id", "t", "--payload", '{"n": 1}']
    assert baton(store, *base, "--every", "5s")[0] == 0
    code, _, err = baton(store, *base, "--every", "9s")
    assert code == 1 and "exists" in err
    kept = ok_json(store, "jobs", "show", "t")
    assert kept["trigger"]["interval"]["seconds"] == 5  # type: ignore[index]
    assert baton(store, *base, "--every", "9s", "--replace")[0] == 0
    assert ok_json(store, "jobs", "show", "t")["trigger"]["interval"]["seconds"] == 9  # type: ignore[index]


def test_configuration_errors(tmp_path: Path) -> None:
    done = run_cli("--store", f"sqlite:///{tmp_path}/missing/dir/b.db", "jobs", "list")
    assert done.returncode == 1 and "does not exist" in done.stderr
    done = run_cli("--store", "ftp://x", "jobs", "list")
    assert done.returncode == 1 and "unknown store URL scheme" in done.stderr
    done = run_cli("--import", "no_such_module_here", "jobs", "list")
    assert done.returncode == 1 and "cannot import 'no_such_module_here'" in done.stderr
    done = run_cli("worker", "--roles", "chef")
    assert done.returncode == 2 and "roles" in done.stderr
    done = run_cli("worker", "--fire-ahead", "40")
    assert done.returncode == 2 and "fire_ahead" in done.stderr


def test_the_environment_configures_the_store(tmp_path: Path) -> None:
    env = {
        "BATON_STORE_URL": f"sqlite:///{tmp_path}/env.db",
        "BATON_IMPORTS": "tests.acceptance.mp_jobs",
    }
    done = run_cli(
        "jobs", "add", "tick", "--id", "e", "--payload", '{"n": 1}', "--every", "1m", env=env
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "env.db").exists()
