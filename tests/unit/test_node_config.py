"""A node's configuration refuses values it cannot run with, naming them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from baton import NodeConfig


def test_the_defaults_claim_runs_ahead_within_the_lease() -> None:
    config = NodeConfig()
    assert timedelta(0) < config.fire_ahead < config.lease


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"roles": frozenset({"scheduler", "cook"})}, "unknown node roles: cook"),
        ({"concurrency": 0}, "concurrency"),
        ({"lease": timedelta(milliseconds=500)}, "lease"),
        ({"fire_ahead": timedelta(seconds=-1)}, "fire_ahead"),
        ({"fire_ahead": timedelta(seconds=30)}, "fire_ahead"),
        ({"resolve_every": timedelta(0)}, "resolve_every"),
    ],
)
def test_bad_values_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NodeConfig(**changes)  # type: ignore[arg-type]
