"""Staff pages for sessions and their rosters, roster exports, and the staff calendar feed.

The blueprint has no URL prefix: its pages live under /staff, and the calendar feed, which
calendar apps fetch without signing in, at /feeds/sessions/<token>.ics.
"""

from datetime import datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_login import current_user
from sqlalchemy.orm import joinedload
from wtforms import SelectChoice

from training.audit.services import record_export
from training.booking import services as booking
from training.booking.display import format_session_when
from training.booking.models import Program, Signup, TrainingSession
from training.booking.services import AlreadySignedUp, BookingError, current_program
from training.database import writes_after_reading
from training.extensions import db, utcnow
from training.mail.models import OutboxMessage
from training.mail.services import mail_domain, public_url
from training.rosters import exports, services
from training.rosters.feed import FeedEvent, build_feed
from training.rosters.forms import (
    AddSignupForm,
    CancelSessionForm,
    CancelSignupForm,
    FeedForm,
    MoveSignupForm,
    NotesForm,
    ResendForm,
    SessionForm,
)
from training.staff.auth import role_required
from training.staff.models import ROLE_ADMIN, ROLE_FACILITATOR, ROLE_STAFF, StaffMember
from training.submissions.guard import (
    commit_and_redirect,
    current_submission_key,
    once_per_submission,
)

bp = Blueprint("rosters", __name__)

MANAGERS = (ROLE_ADMIN, ROLE_STAFF)
READERS = (ROLE_ADMIN, ROLE_STAFF, ROLE_FACILITATOR)
# A feed token is 43 characters; anything much longer is not one of ours.
MAX_TOKEN_LENGTH = 100


@bp.get("/staff/sessions")
@role_required(*READERS)
def sessions():
    program = current_program()
    summaries = services.list_sessions(program, current_user) if program else []
    return render_template(
        "rosters/sessions.html", program=program, summaries=summaries, now=utcnow()
    )


@bp.route("/staff/sessions/new", methods=["GET", "POST"])
@role_required(*MANAGERS)
@once_per_submission
def new_session():
    program = current_program()
    if program is None:
        abort(404)
    form = _session_form(program)
    if form.validate_on_submit():
        try:
            session = services.plan_session(
                program, form.details(), form.chosen_facilitators(), actor=current_user
            )
        except BookingError as error:
            db.session.rollback()
            flash(str(error), "error")
        else:
            flash(f"Session added: {_when(session)}.", "success")
            return commit_and_redirect(url_for("rosters.roster", session_id=session.id))
    return render_template("rosters/session_form.html", form=form, program=program, session=None)


@bp.route("/staff/sessions/<id:session_id>/edit", methods=["GET", "POST"])
@role_required(*MANAGERS)
@once_per_submission
def edit_session(session_id: int):
    session = _session_or_404(session_id)
    form = _session_form(session.program, session)
    if form.validate_on_submit():
        try:
            told = services.edit_session(
                session,
                form.details(),
                form.chosen_facilitators(),
                now=utcnow(),
                actor=current_user,
            )
        except services.SeatsBelowBooked as error:
            db.session.rollback()
            form.seats.errors.append(str(error))
        except BookingError as error:
            db.session.rollback()
            flash(str(error), "error")
        else:
            flash(f"Saved {_when(session)}." + _told(told, "an updated invite"), "success")
            return commit_and_redirect(url_for("rosters.roster", session_id=session.id))
    return render_template(
        "rosters/session_form.html", form=form, program=session.program, session=session
    )


@bp.route("/staff/sessions/<id:session_id>/cancel", methods=["GET", "POST"])
@role_required(*MANAGERS)
@once_per_submission
def cancel_session(session_id: int):
    session = _session_or_404(session_id)
    form = CancelSessionForm()
    if form.validate_on_submit():
        try:
            told = services.cancel_session(
                session, form.reason.data, now=utcnow(), actor=current_user
            )
        except BookingError as error:
            db.session.rollback()
            flash(str(error), "error")
            return redirect(url_for("rosters.roster", session_id=session.id), code=303)
        flash(f"Cancelled {_when(session)}." + _told(told, "the cancellation"), "success")
        return commit_and_redirect(url_for("rosters.sessions"))
    return render_template("rosters/cancel_session.html", session=session, form=form)


@bp.get("/staff/sessions/<id:session_id>")
@role_required(*READERS)
def roster(session_id: int):
    session = _readable_session(session_id)
    now = utcnow()
    move_options = _move_options(session, now)
    return render_template(
        "rosters/roster.html",
        roster=services.load_roster(session),
        move_options=move_options,
        promote_options=_promote_options(session, now, move_options),
        can_manage=current_user.can_manage,
        now=now,
    )


@bp.get("/staff/sessions/<id:session_id>/roster.<any(csv, xlsx):file_format>")
@writes_after_reading
@role_required(*MANAGERS)
def export_roster(session_id: int, file_format: str):
    session = _session_or_404(session_id)
    rows = exports.roster_rows(services.load_roster(session))
    day = f"{session.local_starts_at:%Y-%m-%d}"
    if file_format == "csv":
        body, mimetype = exports.to_csv(rows), "text/csv"
    else:
        body = exports.to_xlsx(rows, title=f"Roster {day}")
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    record_export("roster", actor=current_user, rows=len(rows), session=session, format=file_format)
    db.session.commit()
    return current_app.response_class(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="roster-{day}.{file_format}"'},
    )


@bp.post("/staff/sessions/<id:session_id>/signups/<id:signup_id>/move")
@role_required(*MANAGERS)
@once_per_submission
def move_signup(session_id: int, signup_id: int):
    session, signup = _session_signup_or_404(session_id, signup_id)
    form = MoveSignupForm()
    form.session_id.choices = _move_options(session, utcnow())
    if form.validate_on_submit():
        target = _session_or_404(form.session_id.data)
        return _apply(
            lambda: booking.change_session(signup, target, now=utcnow(), actor=current_user),
            f"Moved {signup.organization_name} to {_when(target)}. "
            "They have been emailed the new date and invite.",
            url_for("rosters.roster", session_id=session.id),
        )
    _flash_errors(form)
    return redirect(url_for("rosters.roster", session_id=session.id), code=303)


@bp.post("/staff/sessions/<id:session_id>/signups/<id:signup_id>/cancel")
@role_required(*MANAGERS)
@once_per_submission
def cancel_signup(session_id: int, signup_id: int):
    session, signup = _session_signup_or_404(session_id, signup_id)
    form = CancelSignupForm()
    if form.validate_on_submit():
        return _apply(
            lambda: booking.cancel_signup(
                signup, now=utcnow(), actor=current_user, reason=form.reason.data
            ),
            f"Cancelled {signup.organization_name}'s place. They have been emailed.",
            url_for("rosters.roster", session_id=session.id),
        )
    _flash_errors(form)
    return redirect(url_for("rosters.roster", session_id=session.id), code=303)


@bp.post("/staff/sessions/<id:session_id>/signups/<id:signup_id>/promote")
@role_required(*MANAGERS)
@once_per_submission
def promote_signup(session_id: int, signup_id: int):
    session, signup = _session_signup_or_404(session_id, signup_id)
    form = MoveSignupForm()
    now = utcnow()
    form.session_id.choices = _promote_options(session, now, _move_options(session, now))
    if form.validate_on_submit():
        target = _session_or_404(form.session_id.data)
        return _apply(
            lambda: services.promote_signup(signup, target, now=utcnow(), actor=current_user),
            f"Booked {signup.organization_name} from the waitlist on {_when(target)}. "
            "They have been emailed.",
            url_for("rosters.roster", session_id=session.id),
        )
    _flash_errors(form)
    return redirect(url_for("rosters.roster", session_id=session.id), code=303)


@bp.post("/staff/sessions/<id:session_id>/signups/<id:signup_id>/notes")
@role_required(*MANAGERS)
@once_per_submission
def save_notes(session_id: int, signup_id: int):
    session, signup = _session_signup_or_404(session_id, signup_id)
    form = NotesForm()
    back = url_for("rosters.roster", session_id=session.id, _anchor=f"signup-{signup.id}")
    if form.validate_on_submit():
        return _apply(
            lambda: booking.set_staff_notes(signup, form.staff_notes.data, actor=current_user),
            f"Saved the notes on {signup.organization_name}.",
            back,
        )
    _flash_errors(form)
    return redirect(back, code=303)


@bp.post("/staff/sessions/<id:session_id>/emails/<id:message_id>/resend")
@role_required(*MANAGERS)
@once_per_submission
def resend_email(session_id: int, message_id: int):
    session = _session_or_404(session_id)
    message = db.get_or_404(OutboxMessage, message_id)
    if message.signup is None or message.signup.program_id != session.program_id:
        abort(404)
    if ResendForm().validate_on_submit():
        if services.resend_email(message, actor=current_user):
            flash(f"“{message.subject}” will be sent again in a moment.", "success")
            return commit_and_redirect(url_for("rosters.roster", session_id=session.id))
        else:
            flash("That email is no longer waiting to be resent; see its state below.", "info")
    return redirect(url_for("rosters.roster", session_id=session.id), code=303)


@bp.route("/staff/sessions/<id:session_id>/signups/new", methods=["GET", "POST"])
@role_required(*MANAGERS)
@once_per_submission
def add_signup(session_id: int):
    session = _session_or_404(session_id)
    form = AddSignupForm()
    form.set_attestation(session.program.attestation_text)
    conflict = None
    if form.validate_on_submit():
        try:
            signup = services.add_signup_by_hand(
                session,
                form.details(form.organization_name.data),
                submission_key=current_submission_key(),
                join_waitlist=form.join_waitlist.data,
                now=utcnow(),
                actor=current_user,
                override_reason=form.override_reason.data,
            )
        except AlreadySignedUp as error:
            db.session.rollback()
            conflict = error.signup
        except BookingError as error:
            db.session.rollback()
            flash(str(error), "error")
        else:
            place = "booked on this session" if signup.is_confirmed else "on the waitlist"
            flash(f"Added {signup.organization_name}: {place}. They have been emailed.", "success")
            return commit_and_redirect(url_for("rosters.roster", session_id=session.id))
    status = 409 if conflict is not None else 200
    return (
        render_template("rosters/add_signup.html", session=session, form=form, conflict=conflict),
        status,
    )


@bp.route("/staff/calendar-feed", methods=["GET", "POST"])
@role_required(*MANAGERS)
@once_per_submission
def calendar_feed():
    form = FeedForm()
    feed_url = None
    if form.validate_on_submit():
        token = services.rotate_calendar_feed(actor=current_user)
        db.session.commit()
        feed_url = public_url("rosters.feed", token=token)
    feed = services.current_calendar_feed()
    created_by = db.session.get(StaffMember, feed.created_by_id) if feed else None
    # Only a hash is kept, so the address is shown once, on the answer to the POST itself.
    response = current_app.make_response(
        render_template(
            "rosters/calendar_feed.html",
            form=form,
            feed=feed,
            created_by=created_by,
            feed_url=feed_url,
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/feeds/sessions/<token>.ics")
def feed(token: str):
    if len(token) > MAX_TOKEN_LENGTH or services.calendar_feed_for_token(token) is None:
        abort(404)
    sessions, facilitators = services.feed_sessions()
    body = build_feed(
        [_feed_event(session, facilitators.get(session.id, [])) for session in sessions],
        name="Training Desk sessions",
        stamp=utcnow(),
    )
    return current_app.response_class(
        body,
        mimetype="text/calendar",
        headers={
            "Content-Disposition": 'inline; filename="training-sessions.ics"',
            "Cache-Control": "private, no-cache",
        },
    )


def _feed_event(session: TrainingSession, facilitators: list[StaffMember]) -> FeedEvent:
    program = session.program
    names = ", ".join(member.name for member in facilitators) or "none assigned"
    lines = [
        f"{program.name}",
        f"Booked: {session.seats_booked} of {session.seats} seats",
        f"Facilitators: {names}",
    ]
    if session.is_cancelled:
        lines.insert(0, f"CANCELLED: {session.cancellation_reason or 'no reason given'}")
    if session.meeting_url:
        lines.append(f"Join: {session.meeting_url}")
    if session.dial_in:
        lines.append(f"Dial-in: {session.dial_in}")
    if session.passcode:
        lines.append(f"Passcode: {session.passcode}")
    roster_url = public_url("rosters.roster", session_id=session.id)
    lines.append(f"Roster: {roster_url}")
    summary = f"{program.name}: training session"
    return FeedEvent(
        uid=f"session-{session.id}@{mail_domain()}",
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        summary=f"Cancelled: {summary}" if session.is_cancelled else summary,
        description="\n".join(lines),
        is_cancelled=session.is_cancelled,
        meeting_url=session.meeting_url,
        roster_url=roster_url,
    )


def _session_form(program: Program, session: TrainingSession | None = None) -> SessionForm:
    values = {}
    if session is not None:
        values = {
            "day": session.local_starts_at.date(),
            "starts_at": session.local_starts_at.time(),
            "ends_at": session.local_ends_at.time(),
            "seats": session.seats,
            "meeting_url": session.meeting_url,
            "dial_in": session.dial_in,
            "passcode": session.passcode,
            "facilitators": [member.id for member in services.session_facilitators(session)],
        }
    return SessionForm(zone=program.zone, accounts=services.facilitator_accounts(), **values)


def _apply(change, success: str, back: str):
    """Run one service call: commit and flash ``success``, or roll back and say why; go ``back``."""
    try:
        change()
    except BookingError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(back, code=303)
    flash(success, "success")
    return commit_and_redirect(back)


def _flash_errors(form) -> None:
    for errors in form.errors.values():
        flash(errors[0], "error")


def _told(count: int, what: str) -> str:
    if count == 0:
        return ""
    organizations = "1 organization" if count == 1 else f"{count} organizations"
    return f" {organizations} booked on it will be emailed {what}."


def _when(session: TrainingSession) -> str:
    return format_session_when(session.starts_at, session.ends_at, session.program.zone)


def _session_or_404(session_id: int) -> TrainingSession:
    return db.get_or_404(TrainingSession, session_id, options=[joinedload(TrainingSession.program)])


def _readable_session(session_id: int) -> TrainingSession:
    session = _session_or_404(session_id)
    if not services.may_read_roster(current_user, session):
        abort(403)
    return session


def _session_signup_or_404(session_id: int, signup_id: int) -> tuple[TrainingSession, Signup]:
    session = _session_or_404(session_id)
    signup = db.get_or_404(Signup, signup_id)
    if signup.program_id != session.program_id:
        abort(404)
    return session, signup


def _move_options(session: TrainingSession, now: datetime) -> list[SelectChoice]:
    return [
        SelectChoice(target.id, f"{_when(target)} ({target.seats_left} left)")
        for target in services.move_targets(session, now)
    ]


def _promote_options(
    session: TrainingSession, now: datetime, elsewhere: list[SelectChoice]
) -> list[SelectChoice]:
    """This session first, when it has a free seat, then ``elsewhere`` (the move options)."""
    if session.is_bookable(now) and session.seats_left:
        return [SelectChoice(session.id, f"This session ({session.seats_left} left)"), *elsewhere]
    return elsewhere
