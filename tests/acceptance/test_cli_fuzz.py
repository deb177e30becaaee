"""A fuzz of every command's options: whatever the values, a command succeeds or fails with
one error line (exit 1) or a usage error (exit 2) — never a traceback — and the store
stays readable.

Commands run in this process (typer's CliRunner) on a real SQLite file. `serve`, `worker`
and `demo` validate their options and then stop where they would start serving; the
options that name files to write or modules to import are fixed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from baton.cli import app

ROOT = typer.main.get_command(app)

#: Options whose values name paths to write or modules to import: never fuzzed.
FIXED = {"store", "import_", "data_dir", "token_file"}

HOSTILE = st.one_of(
    st.sampled_from(
        [
            "",
            "0",
            "-1",
            "9" * 30,
            "-" + "9" * 30,
            "1e300",
            "inf",
            "-inf",
            "nan",
            "99999999999999w",
            "100000000d",
            "0.0001s",
            "1s",
            "5m",
            "[/]",
            "mk[/]",
            "[bold]x",
            ":x:",
            "a/b",
            "rtl\u202eevil",
            "zero\u200bwidth",
            "\udcff",
            "w:1",
            "w:1@manual:k",
            "record",
            "notify",
            "queued",
            '{"label": "x"}',
            '{"label": NaN}',
            "[" * 5000,
            "* * * * *",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:00:00-05:00",
            "localtime",
            "api,scheduler,worker",
            "api",
            "debug",
        ]
    ),
    st.text(max_size=24),
    st.integers().map(str),
    st.floats().map(repr),
)


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    for name, command in sorted(group.commands.items()):
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


COMMANDS = list(_commands(ROOT))


def _is_flag(param: Any) -> bool:
    return bool(getattr(param, "is_flag", False))


def _is_argument(param: Any) -> bool:
    return getattr(param, "param_type_name", "") == "argument"


@st.composite
def _invocation(draw: st.DrawFn, command: Any) -> list[str]:
    args: list[str] = []
    for param in command.params:
        if param.name in FIXED:
            continue
        if _is_argument(param):
            args.append(draw(HOSTILE))
        elif _is_flag(param):
            if draw(st.booleans()):
                args.append(draw(st.sampled_from(param.opts + (param.secondary_opts or []))))
        elif draw(st.booleans()):
            args += [param.opts[0], draw(HOSTILE)]
    return args


class _NoMoto:
    def __init__(self, **_: Any) -> None:
        pass

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


async def _not_serving(*_: Any, **__: Any) -> None:
    """Where `serve`, `worker` and `demo` would start serving: the options were accepted."""


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    import moto.server

    import baton.cli.demo_run
    import baton.cli.fleet
    import baton.cli.nodes
    import baton.cli.serve

    monkeypatch.setattr(baton.cli.serve, "run_node", _not_serving)
    monkeypatch.setattr(baton.cli.nodes, "run_node", _not_serving)
    monkeypatch.setattr(baton.cli.demo_run, "run_demo", _not_serving)
    monkeypatch.setattr(moto.server, "ThreadedMotoServer", _NoMoto)
    monkeypatch.setattr(baton.cli.fleet, "run_async", lambda factory: ([], []))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)  # restored after the test: demo sets them
    root = ["--store", f"sqlite:///{tmp_path}/baton.db", "--import", "tests.jobs_for_tests"]
    # read commands never create a store: give them one to read
    seed = ["jobs", "add", "record", "--id", "seed", "--payload", '{"label": "s"}', "--every", "1h"]
    assert _invoke(root, seed).exit_code == 0
    return root


def _extra_fixed(path: tuple[str, ...], tmp_path: Path) -> list[str]:
    if path == ("demo",):
        return ["--data-dir", str(tmp_path / "demo")]
    if path == ("serve",):
        return ["--token-file", str(tmp_path / "token")]
    return []


def _invoke(root: list[str], args: list[str]) -> Any:
    env = {"BATON_API_TOKENS": "", "COLUMNS": "200"}
    return CliRunner().invoke(app, [*root, *args], env=env)


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_no_option_value_makes_a_command_crash(
    path: tuple[str, ...], command: Any, stubbed: list[str], tmp_path: Path
) -> None:
    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(options=_invocation(command))
    def one(options: list[str]) -> None:
        result = _invoke(stubbed, [*path, *_extra_fixed(path, tmp_path), *options])
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            options,
            result.exception,
        )
        assert result.exit_code in (0, 1, 2), (options, result.output)
        assert "Traceback" not in result.output, options
        if result.exit_code == 1:
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), (options, result.stderr)

    one()
    listing = _invoke(stubbed, ["jobs", "list", "--json"])
    assert listing.exit_code == 0, listing.output
    json.loads(listing.stdout)
