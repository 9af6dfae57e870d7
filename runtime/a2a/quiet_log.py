"""One line per kind of bad request in agent.log, at most one a minute: a2a-sdk logs every refused
JSON-RPC request (a warning "Request Error …", and with a full traceback "Failed to validate base
JSON-RPC request" / "Failed to parse request params"), so junk sent to an agent grew its agent.log by
~600 bytes a request (2.9 MB after ~5,000).

`quiet_sdk_logs()` gives the `a2a` logger one handler, to stderr (agent.log under `sova up`), whose
filter folds a traceback into its last line (`ValueError: …`) and lets one record of each message
template through a minute, the next one saying how many it left out. An exception of our own code is
logged by our loggers (`runtime.*`), with its traceback, as before.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

__all__ = ["OneLinePerMinute", "quiet_sdk_logs"]

SDK_LOGGER = "a2a"


class OneLinePerMinute(logging.Filter):
    """A filter: a record's traceback folded into its message's one line, and at most one record per
    message template a `period`; the count of those left out goes into the next one let through."""

    def __init__(self, period: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.period = period
        self.clock = clock
        self._last: dict[str, float] = {}
        self._dropped: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        """True (after rewriting the record to one line) when it may be written now."""
        key = f"{record.name}:{record.msg}"
        now = self.clock()
        if now - self._last.get(key, -1e18) < self.period:
            self._dropped[key] = self._dropped.get(key, 0) + 1
            return False
        self._last[key] = now
        if len(self._last) > 1024:  # message templates are few; this only bounds a pathological case
            self._last.clear()
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text = f"{text}: {type(exc).__name__}: {exc}"
        dropped = self._dropped.pop(key, 0)
        if dropped:
            text += f" ({dropped} more like it in the last {self.period:.0f} s not shown)"
        record.msg, record.args = " ".join(text.split())[:500], None
        record.exc_info = record.exc_text = record.stack_info = None
        return True


def quiet_sdk_logs(stream: object = None) -> logging.Handler:
    """Route a2a-sdk's log records through OneLinePerMinute to stderr (idempotent); the handler."""
    logger = logging.getLogger(SDK_LOGGER)
    for handler in logger.handlers:
        if any(isinstance(f, OneLinePerMinute) for f in handler.filters):
            return handler
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(OneLinePerMinute())
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    return handler
