"""``pip install baton`` as a scheduler user gets it: no AWS SDK, no moto, a command
that reads SQLite loads no web stack, and every missing extra is named, not a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.procs import ROOT

#: Never installed by a plain ``pip install baton``.
NOT_INSTALLED = {"aiobotocore", "botocore", "boto3", "moto", "redis", "aiohttp", "aiosqlite"}
#: Never imported by ``baton jobs list`` on SQLite.
NOT_IMPORTED = {
    "fastapi", "starlette", "uvicorn", "prometheus_client", "botocore", "aiobotocore", "moto",
    "redis", "httpx", "aiosqlite", "baton.web", "baton.fleet",
}  # fmt: skip

JOBS = """
from baton import job


@job("noop")
async def noop() -> None:
    return None
"""


class Plain:
    """A fresh virtual environment with baton installed as ``pip install .`` does."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "venv" / "bin"
        self.work = root / "work"
        self.work.mkdir()
        (self.work / "myjobs.py").write_text(JOBS)

    def install(self) -> None:
        subprocess.run([sys.executable, "-m", "venv", str(self.root / "venv")], check=True)
        done = subprocess.run(
            [str(self.bin / "python"), "-m", "pip", "install", "--quiet", str(ROOT)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args,
            cwd=self.work,
            env={**os.environ, "PYTHONPATH": "", "COLUMNS": "200", **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )

    def baton(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.bin / "baton"), *args, env=env)


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plain]:
    venv = Plain(tmp_path_factory.mktemp("plain"))
    venv.install()
    yield venv


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_plain_install_brings_no_aws_sdk_and_no_moto(plain: Plain) -> None:
    listed = plain.run(str(plain.bin / "python"), "-m", "pip", "list", "--format", "json")
    installed = {p["name"].lower().replace("_", "-") for p in json.loads(listed.stdout)}
    assert "baton" in installed
    assert not (NOT_INSTALLED & installed), NOT_INSTALLED & installed


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_jobs_list_on_sqlite_imports_no_web_stack_and_no_aws(plain: Plain) -> None:
    store = f"sqlite:///{plain.work}/baton.db"
    added = plain.baton("--store", store, "--import", "myjobs", "jobs", "add", "noop",
                        "--id", "n", "--every", "1h")  # fmt: skip
    assert added.returncode == 0, added.stderr
    done = plain.run(
        str(plain.bin / "python"), "-X", "importtime", "-m", "baton", "--store", store,
        "jobs", "list",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "noop" in done.stdout
    loaded = {
        line.rsplit("|", 1)[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "sqlalchemy" in loaded and "baton.store.sqlite" in loaded  # what it needs
    tops = {name.split(".")[0] for name in loaded} | {".".join(n.split(".")[:2]) for n in loaded}
    assert not (NOT_IMPORTED & tops), NOT_IMPORTED & tops


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("args", "extra"),
    [
        (("--store", "redis://127.0.0.1:1/0", "jobs", "list"), "redis"),
        (("--store", "redis://127.0.0.1:1/0", "check"), "redis"),
        (("fleet", "import"), "fleet"),
        (("worker", "--fleet"), "fleet"),
        (("serve", "--fleet"), "fleet"),
        (("demo", "--duration", "1"), "demo"),
    ],
)
def test_a_missing_extra_is_named_whatever_the_command(
    plain: Plain, args: tuple[str, ...], extra: str
) -> None:
    env = {
        "BATON_STORE_URL": f"sqlite:///{plain.work}/b.db",
        "BATON_API_TOKENS": f"admin:{'t' * 20}",
    }
    done = plain.baton(*args, env=env)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert f"pip install 'baton[{extra}]'" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_python_api_names_the_redis_extra(plain: Plain) -> None:
    code = (
        "from baton import Baton, ConfigurationError\n"
        "try:\n"
        "    Baton(store='redis://127.0.0.1:1/0')\n"
        "except ConfigurationError as exc:\n"
        "    print(exc)\n"
    )
    done = plain.run(str(plain.bin / "python"), "-c", code)
    assert done.returncode == 0, done.stderr
    assert "pip install 'baton[redis]'" in done.stdout


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_help_lists_the_fleet_only_with_its_extra(plain: Plain) -> None:
    done = plain.baton("--help")
    assert done.returncode == 0, done.stderr
    listing = done.stdout.partition("Commands:")[2]
    commands = [line.split()[0] for line in listing.splitlines() if line.startswith("  ")]
    assert "jobs" in commands and "serve" in commands and "check" in commands
    assert "fleet" not in commands
