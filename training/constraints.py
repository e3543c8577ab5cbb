"""Unique constraints turned into the errors people read, by constraint name.

The database decides uniqueness (two requests can both pass a Python check); a service that
writes a row a person chose runs the write through ``unique_or`` so a refusal comes back as its
own domain error, which the view shows by the field, instead of an ``IntegrityError``.
"""

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from sqlalchemy import PrimaryKeyConstraint, UniqueConstraint
from sqlalchemy.exc import IntegrityError

from training.extensions import db

_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)")


def violated_constraint(error: IntegrityError) -> str | None:
    """The name of the unique constraint or index ``error`` broke, or None for another kind.

    PostgreSQL names it; SQLite names the columns, which are looked up in the models.
    """
    diagnostics = getattr(error.orig, "diag", None)
    if diagnostics is not None:
        return diagnostics.constraint_name
    match = _SQLITE_UNIQUE.match(str(error.orig))
    if match is None:
        return None
    columns = [item.strip().partition(".") for item in match.group(1).split(",")]
    table = db.metadata.tables.get(columns[0][0])
    if table is None:
        return None
    names = {column for _, _, column in columns}
    candidates = [index for index in table.indexes if index.unique] + [
        constraint
        for constraint in table.constraints
        if isinstance(constraint, UniqueConstraint | PrimaryKeyConstraint)
    ]
    return next(
        (
            candidate.name
            for candidate in candidates
            if {column.name for column in candidate.columns} == names
        ),
        None,
    )


@contextmanager
def unique_or(errors: Mapping[str, Callable[[], Exception]]) -> Iterator[None]:
    """Run the block's writes in a savepoint and flush them; a unique constraint named in
    ``errors`` refused them: roll back the savepoint and raise ``errors[name]()`` instead.

    Other integrity errors are raised as they are.
    """
    try:
        with db.session.begin_nested():
            yield
            db.session.flush()
    except IntegrityError as error:
        make_error = errors.get(violated_constraint(error) or "")
        if make_error is None:
            raise
        raise make_error() from None
