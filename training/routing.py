"""Numbers from URLs, bounded to what the database holds: the ``id`` path converter and the one
helper that reads a record's number from the query string (page numbers: ``training.paging``).

A number no id column can hold (2**31 and up) would make SQLite raise ``OverflowError`` and
PostgreSQL "integer out of range"; here it is simply not an id: a 404 in a path, the default in
a query string.
"""

from flask import Flask, request
from werkzeug.routing import IntegerConverter, Map

from training.extensions import MAX_ID


class IdConverter(IntegerConverter):
    """``<id:name>``: a record's id, ASCII digits from 1 to ``MAX_ID``; else no route matches."""

    regex = r"[0-9]+"

    def __init__(self, map: Map) -> None:
        super().__init__(map, min=1, max=MAX_ID)


def query_number(name: str, default: int, *, minimum: int = 0) -> int:
    """The query-string value ``name`` as a whole number from ``minimum`` to ``MAX_ID``.

    ``default`` when the value is missing, not a number, or out of that range.
    """
    value = request.args.get(name, "")
    if not (value.isascii() and value.isdigit()) or len(value) > len(str(MAX_ID)):
        return default
    number = int(value)
    return number if minimum <= number <= MAX_ID else default


def init_app(app: Flask) -> None:
    """Register the ``id`` converter; call before the blueprints add their routes."""
    app.url_map.converters["id"] = IdConverter
