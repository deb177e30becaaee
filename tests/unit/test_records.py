"""Records rebuilt without validation (``trusted``, ``evolve``) behave as validated ones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from baton.model import Policy, Run, RunState

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def _run() -> Run:
    return Run(id="r", schedule_id="s", type="t", fire_at=NOW, due_at=NOW, created_at=NOW)


def test_trusted_equals_the_validated_record_and_dumps_alike() -> None:
    validated = _run()
    trusted = Run.trusted(dict(validated.__dict__))
    assert trusted == validated
    assert trusted.model_dump_json() == validated.model_dump_json()


def test_trusted_refuses_missing_or_unknown_fields() -> None:
    values = dict(_run().__dict__)
    del values["due_at"]
    with pytest.raises(TypeError, match="due_at"):
        Run.trusted(values)
    with pytest.raises(TypeError, match="bogus"):
        Run.trusted({**_run().__dict__, "bogus": 1})


def test_evolve_changes_only_what_it_is_given_and_stays_frozen() -> None:
    run = _run()
    moved = run.evolve(state=RunState.RUNNING, owner="n1")
    assert (moved.state, moved.owner) == (RunState.RUNNING, "n1")
    assert run.state is RunState.QUEUED and run.owner is None
    assert moved == run.model_copy(update={"state": RunState.RUNNING, "owner": "n1"})
    assert moved.policy == Policy()
    with pytest.raises(ValueError):
        moved.owner = "n2"  # type: ignore[misc]
    with pytest.raises(TypeError, match="nope"):
        run.evolve(nope=1)
