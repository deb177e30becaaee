"""How a node's process writes its log: text for people, JSON lines for log shippers."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from baton.errors import InvalidInputError

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

#: The attributes every LogRecord has; anything else was passed as ``extra`` and is
#: one of the record's fields in JSON (run_id, job_type, error...).
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and the extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str, log_format: str) -> None:
    """Send the process's log to stderr at ``level`` in ``log_format`` (text or json)."""
    if level.upper() not in _LEVELS:
        raise InvalidInputError(f"must be one of {', '.join(_LEVELS)}", field="--log-level")
    if log_format not in ("text", "json"):
        raise InvalidInputError("must be text or json", field="--log-format")
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
