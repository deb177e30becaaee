"""`baton fleet import` and `baton worker --fleet` in subprocesses, against the moto server."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from baton.fleet import FleetSettings
from tests.acceptance.procs import baton_process, run_cli
from tests.fleet.conftest import REGION, Cloud
from tests.processes import end


def fleet_env(cloud: Cloud, tmp_path: Path) -> dict[str, str]:
    return {
        "BATON_STORE_URL": f"sqlite:///{tmp_path}/baton.db",
        "BATON_FLEET_AWS_ENDPOINT_URL": cloud.endpoint,
        "BATON_FLEET_POLL_INTERVAL": "1",
        "BATON_FLEET_POLL_JITTER": "0",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


@pytest.mark.timeout(600)
async def test_import_then_a_fleet_worker_collects(cloud: Cloud, tmp_path: Path) -> None:
    cml = await cloud.launch(2, name="cml-worker")
    await cloud.launch(1, name="database")
    await cloud.feed(cml, cpu=12.5, memory=34.5)
    # The moto server lives in this process: block in a thread, not in its event loop.
    env = fleet_env(cloud, tmp_path)
    await asyncio.to_thread(import_and_work, env, sorted(cml), tmp_path / "worker.out")


def import_and_work(env: dict[str, str], cml: list[str], log: Path) -> None:
    done = run_cli("fleet", "import", "--region", REGION, "--tag", "Name=cml-*", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert sorted(json.loads(done.stdout)["registered"]) == cml
    again = run_cli("fleet", "import", "--region", REGION, "--json", env=env)
    assert json.loads(again.stdout)["registered"] == []
    assert sorted(json.loads(again.stdout)["already"]) == cml
    listed = run_cli("jobs", "list", "--json", env=env)
    assert sorted(s["id"] for s in json.loads(listed.stdout)["items"]) == [
        f"worker-metrics:{i}" for i in cml
    ]
    args = ["worker", "--fleet", "--shutdown-grace", "2"]
    with baton_process(args, log, env=env) as worker:
        deadline = time.monotonic() + 120  # only bounds a hang
        while time.monotonic() < deadline:
            assert worker.poll() is None, log.read_text()
            runs = run_cli("runs", "list", "--state", "succeeded", "--json", env=env)
            if len(json.loads(runs.stdout)["items"]) >= 2:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"the fleet worker collected nothing: {log.read_text()}")
        assert end(worker) == 0, log.read_text()
    assert "fleet: 0 schedules made or updated, 0 orphans removed" in log.read_text()


def test_import_reports_a_bad_tag_filter_as_one_line() -> None:
    done = run_cli("fleet", "import", "--tag", "Name")
    assert done.returncode == 1 and "tag: expected KEY=VALUE" in done.stderr


def test_fleet_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_FLEET_WEBHOOK_URLS", "https://a.example/h, https://b.example/h")
    monkeypatch.setenv("BATON_FLEET_POLL_INTERVAL", "120")
    settings = FleetSettings()
    assert [str(u) for u in settings.webhook_urls] == ["https://a.example/h", "https://b.example/h"]
    assert settings.poll_interval == 120 and settings.jitter == 12
    assert settings.database_url("sqlite:///var/lib/x/baton.db") == (
        "sqlite+aiosqlite:///var/lib/x/baton-fleet.db"
    )
    assert settings.database_url("redis://h:6379/1") == "sqlite+aiosqlite:///baton-fleet.db"
    monkeypatch.setenv("BATON_FLEET_WEBHOOK_URLS", "not a url")
    with pytest.raises(ValueError, match="webhook_urls"):
        FleetSettings()
