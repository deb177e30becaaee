"""The public surface of ``baton`` is deliberate: this list changes only on purpose."""

import baton

EXPECTED = {
    "Baton",
    "BatonError",
    "Breaker",
    "BreakerPolicy",
    "BreakerState",
    "ConfigurationError",
    "ConflictError",
    "Dependencies",
    "DependencyRule",
    "Event",
    "InvalidInputError",
    "InvalidPayloadError",
    "InvalidPolicyError",
    "InvalidTriggerError",
    "Job",
    "JobType",
    "JobTypeNotFoundError",
    "NodeConfig",
    "NodeInfo",
    "NotFoundError",
    "NonRetryableError",
    "Page",
    "Policy",
    "Registry",
    "RetryPolicy",
    "Run",
    "RunContext",
    "RunError",
    "RunNotFoundError",
    "RunStateError",
    "RunState",
    "Schedule",
    "ScheduleExistsError",
    "ScheduleInUseError",
    "ScheduleNotFoundError",
    "ScheduleState",
    "Secret",
    "Settings",
    "StopSchedule",
    "StoreError",
    "StoreVersionError",
    "UpstreamError",
    "job",
}


def test_all_is_pinned() -> None:
    assert set(baton.__all__) == EXPECTED
    assert len(baton.__all__) == len(EXPECTED)


def test_every_public_name_exists_and_has_a_docstring() -> None:
    for name in baton.__all__:
        member = getattr(baton, name)
        assert member.__doc__, f"baton.{name} has no docstring"


def test_errors_share_one_root() -> None:
    for name in baton.__all__:
        member = getattr(baton, name)
        if isinstance(member, type) and issubclass(member, Exception) and name != "StopSchedule":
            assert issubclass(member, baton.BatonError), name
