"""The edge of a request that changes data: one commit after the service succeeded, or a
rollback and the refusal's message."""

import pytest
from conftest import program_values
from flask import get_flashed_messages
from sqlalchemy import func, select

from training.booking.models import Program
from training.edge import Refused, carry_out, flashed_above, shown_under
from training.extensions import db, utcnow


class SeatTaken(Refused):
    pass


def programs(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Program.id)))


def add_program() -> Program:
    program = Program(**program_values(utcnow()))
    db.session.add(program)
    db.session.flush()
    return program


def test_a_refused_change_is_rolled_back_and_its_message_shown(app):
    def change():
        add_program()
        raise SeatTaken("Sorry, the last seat has just been taken.")

    with app.test_request_context("/", method="POST"):
        response = carry_out(change, done="Booked.", redirect_to="/done", refused="/back")
        flashed = get_flashed_messages(with_categories=True)
    assert (response.status_code, response.headers["Location"]) == (303, "/back")
    assert flashed == [("error", "Sorry, the last seat has just been taken.")]
    assert programs(app) == 0


def test_a_refused_change_goes_back_where_it_would_have_gone_by_default(app):
    def change():
        add_program()
        raise SeatTaken("No.")

    with app.test_request_context("/", method="POST"):
        response = carry_out(change, redirect_to="/roster")
    assert response.headers["Location"] == "/roster"
    assert programs(app) == 0


def test_a_refusal_can_draw_its_own_answer_after_the_rollback(app):
    seen = []

    def change():
        add_program()
        raise SeatTaken("No seat.")

    def refused(error):
        seen.append((str(error), db.session.scalar(select(func.count(Program.id)))))
        return "the form again", 409

    with app.test_request_context("/", method="POST"):
        assert carry_out(change, redirect_to="/x", refused=refused) == ("the form again", 409)
    assert seen == [("No seat.", 0)]


def test_a_change_that_succeeds_is_committed_once_and_said(app):
    with app.test_request_context("/", method="POST"):
        response = carry_out(
            add_program,
            done=lambda program: f"Added {program.name}.",
            redirect_to=lambda program: f"/programs/{program.id}",
        )
        flashed = get_flashed_messages(with_categories=True)
    assert (response.status_code, response.headers["Location"]) == (303, "/programs/1")
    assert flashed == [("success", "Added Learner Credit Reporting Training.")]
    assert programs(app) == 1


def test_work_after_the_commit_sees_the_change_committed(app):
    committed = []

    def after(_program):
        # Another connection sees only what is committed.
        with db.engine.connect() as other_connection:
            committed.append(other_connection.scalar(select(func.count(Program.id))))

    with app.test_request_context("/", method="POST"):
        carry_out(add_program, redirect_to="/x", after=after)
    assert committed == [1]


def test_a_download_is_answered_after_its_audit_row_is_committed(app):
    with app.test_request_context("/"):
        response = carry_out(add_program, respond=lambda program: f"file of {program.id}")
    assert response == "file of 1"
    assert programs(app) == 1


def test_any_other_error_is_not_a_refusal(app):
    def change():
        raise KeyError("a bug")

    with app.test_request_context("/", method="POST"), pytest.raises(KeyError):
        carry_out(change, redirect_to="/x")


def test_a_refusal_is_shown_under_its_field_or_flashed_above_the_page(app):
    class Field:
        def __init__(self):
            self.errors: list[str] = []

    def change():
        add_program()
        raise SeatTaken("That ID is taken.")

    with app.test_request_context("/", method="POST"):
        field = Field()
        under = carry_out(change, redirect_to="/x", refused=shown_under(field, lambda: "form"))
        above = carry_out(change, redirect_to="/x", refused=flashed_above(lambda: "form"))
        flashed = get_flashed_messages(with_categories=True)
    assert (under, field.errors) == ("form", ["That ID is taken."])
    assert (above, flashed) == ("form", [("error", "That ID is taken.")])
    assert programs(app) == 0
