"""Edit forms carry what they were drawn from, so a save from an old page cannot undo a change
made since (a lost update: two tabs, or two people, editing the same record).

A form that shows a record's values for editing has a hidden ``drawn_from`` field: a digest of
the values it was drawn with (``mark_drawn``). Before the change, ``require_unchanged`` locks
the record's row for the rest of the transaction (``SELECT … FOR UPDATE`` on PostgreSQL; a
writing transaction on SQLite holds the database), draws the form again from what the record
holds now and compares the digests: compare-and-set, so of two saves drawn from the same state
only the first passes, in any process on any host. The second is refused (``ChangedMeanwhile``)
and ``redrawn_when_changed`` shows the page again with the form as the record is now and what
the person sent listed in the message, so nothing is lost.
"""

import hashlib
import json
from collections.abc import Callable
from typing import TypeVar

from flask import flash
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from sqlalchemy import inspect, select
from wtforms import HiddenField, SubmitField

from training.errors import Refused
from training.extensions import db
from training.forms import clean_text

STALE_MESSAGE = (
    "This {thing} was changed in another tab or by someone else since you opened this page. "
    "Here is what it holds now; make your change again."
)
_SENT = "What you sent, not saved:"

AnyForm = TypeVar("AnyForm", bound=FlaskForm)


class ChangedMeanwhile(Refused):
    """The form was drawn from a state of the record that has changed since."""

    def __init__(self, thing: str):
        super().__init__(STALE_MESSAGE.format(thing=thing))


def drawn_from_field() -> HiddenField:
    """An edit form's hidden ``drawn_from``: the digest of the values it was drawn with."""
    return HiddenField(filters=[clean_text], render_kw={"id": False})


def _shown_fields(form: FlaskForm):
    return [
        field
        for field in form
        if not isinstance(field, HiddenField | SubmitField) and field.name != "csrf_token"
    ]


def state_of(form: FlaskForm) -> str:
    """The digest of the values ``form`` shows (every field but hidden ones and buttons)."""
    values = [[field.short_name, field.data] for field in _shown_fields(form)]
    text = json.dumps(values, default=str, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def mark_drawn(form: AnyForm) -> AnyForm:
    """``form``, drawn from a record, holding the digest of its values in ``drawn_from``; a form
    read from a post keeps the digest it was sent with."""
    if form.drawn_from.raw_data is None:
        form.drawn_from.data = state_of(form)
    return form


def require_unchanged(
    record: object | None, sent: FlaskForm, drawn_now: Callable[[], FlaskForm], *, thing: str
) -> None:
    """Lock ``record``'s row until the transaction ends and raise ``ChangedMeanwhile`` unless
    the form ``sent`` was drawn from what the record holds now (``drawn_now()``, a form drawn
    from it). A record with no row yet (None) is left to its unique constraint. A form sent
    without a digest (a page drawn before edit forms carried one) is let through."""
    if record is not None:
        _lock(record)
    drawn_from = sent.drawn_from.data
    if drawn_from and drawn_from != state_of(drawn_now()):
        raise ChangedMeanwhile(thing)


def _lock(record: object) -> None:
    """Lock ``record``'s row (its primary key only: a joined load cannot be locked on
    PostgreSQL) and expire it, so what is read next is what the last writer committed."""
    state = inspect(record)
    key = state.mapper.primary_key
    db.session.execute(
        select(*key)
        .where(*(column == value for column, value in zip(key, state.identity, strict=True)))
        .with_for_update()
    )
    db.session.expire(record)


def _as_shown(field) -> str:
    """A field's value as the person saw it: a choice by its label, else its text."""
    if isinstance(field.data, str):
        return field.data
    if hasattr(field, "iter_choices"):
        return ", ".join(str(choice[1]) for choice in field.iter_choices() if choice[2])
    return field._value()


def what_was_sent(sent: FlaskForm, now: FlaskForm) -> str:
    """The values of ``sent`` that differ from ``now`` (the form as the record is now), as
    "Label: value" for the person to copy; "" when there are none."""
    now_fields = {field.short_name: field for field in _shown_fields(now)}
    changes = []
    for field in _shown_fields(sent):
        current = now_fields.get(field.short_name)
        if current is not None and field.data != current.data:
            changes.append(f"{field.label.text}: {_as_shown(field) or '(empty)'}")
    return sent_not_saved(changes)


def sent_not_saved(changes: list[str]) -> str:
    """``changes`` ("Label: value") as the sentence every refused form uses to give back what
    was sent: "What you sent, not saved: …"; "" when there are none."""
    if not changes:
        return ""
    listed = "; ".join(changes)
    return f"{_SENT} {listed}" + ("" if listed.endswith((".", "!", "?")) else ".")


def redrawn_when_changed(
    sent: FlaskForm,
    drawn_now: Callable[[], AnyForm],
    page: Callable[[AnyForm], ResponseReturnValue],
    otherwise: Callable[[Refused], ResponseReturnValue],
) -> Callable[[Refused], ResponseReturnValue]:
    """A ``refused`` answer for ``carry_out``: on ``ChangedMeanwhile``, the message and what
    was sent flashed above ``page(form)`` (409), the form drawn from the record as it is now;
    any other refusal goes to ``otherwise``."""

    def answer(error: Refused) -> ResponseReturnValue:
        if not isinstance(error, ChangedMeanwhile):
            return otherwise(error)
        now = mark_drawn(drawn_now())
        flash(" ".join(filter(None, [str(error), what_was_sent(sent, now)])), "error")
        return page(now)

    return answer
