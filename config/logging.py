"""Log records carry the correlation id of the unit of work they belong to."""

from __future__ import annotations

import logging

from eventlog.context import current_correlation_id_or_none


class CorrelationIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "correlation_id"):
            record.correlation_id = current_correlation_id_or_none() or "-"
        return True
