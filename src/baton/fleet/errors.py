"""The fleet's errors, under baton's roots so that the API maps them to 404 and 409."""

from __future__ import annotations

from baton import ConflictError, NotFoundError, UpstreamError


class WorkerNotFoundError(NotFoundError):
    def __init__(self, worker_id: str) -> None:
        self.worker_id = worker_id
        super().__init__(f"no worker has the id {worker_id!r}")


class WorkerExistsError(ConflictError):
    def __init__(self, what: str) -> None:
        super().__init__(f"a worker already exists for {what}")


class StaleWorkerError(ConflictError):
    """The worker changed since it was read (optimistic concurrency on ``version``)."""

    def __init__(self, worker_id: str, version: int) -> None:
        self.worker_id = worker_id
        super().__init__(f"worker {worker_id!r} changed since version {version}")


class WorkerTerminatedError(ConflictError):
    def __init__(self, worker_id: str) -> None:
        super().__init__(f"worker {worker_id!r} is terminated: it is no longer monitored")


class AwsError(UpstreamError):
    """An AWS call failed (after botocore's own retries); the cause is chained."""

    def __init__(self, operation: str, code: str, message: str) -> None:
        self.operation = operation
        self.code = code
        self.message = message
        super().__init__(f"{operation} failed: {code + ': ' if code else ''}{message}")
