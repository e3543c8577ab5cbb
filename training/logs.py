"""Log lines without secrets: a filter for Flask's and werkzeug's loggers, and gunicorn's logger.

Every record passes through ``training.masking.mask_secrets`` before any handler writes it:
request lines, ``Exception on /manage/…`` messages and their tracebacks alike.
"""

import logging

from flask import Flask
from gunicorn import glogging

from training.masking import mask_secrets

_TRACEBACKS = logging.Formatter()


class SecretMaskingFilter(logging.Filter):
    """Rewrites a record's message, traceback and stack with their secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record's secrets; every record is kept."""
        record.msg = mask_secrets(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_secrets(record.stack_info)
        return True


def add_masking(logger: logging.Logger) -> None:
    """Mask what ``logger`` records (once, however often the app is built)."""
    if not any(isinstance(existing, SecretMaskingFilter) for existing in logger.filters):
        logger.addFilter(SecretMaskingFilter())


def init_app(app: Flask) -> None:
    """Mask the app's own log (``Exception on …`` lines) and the development server's."""
    add_masking(app.logger)
    add_masking(logging.getLogger("werkzeug"))


class GunicornLogger(glogging.Logger):
    """Gunicorn's logger with its access and error logs masked (``logger_class`` setting)."""

    def setup(self, cfg) -> None:
        """Set up gunicorn's loggers as usual, then mask their secrets."""
        super().setup(cfg)
        add_masking(self.error_log)
        add_masking(self.access_log)
