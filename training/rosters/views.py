"""Staff pages for sessions and their rosters, roster exports, and the staff calendar feed.

The blueprint has no URL prefix: its pages live under /staff, and the calendar feed, which
calendar apps fetch without signing in, at /feeds/sessions/<token>.ics.
"""

import dataclasses
from collections.abc import Callable
from datetime import datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy.orm import joinedload
from wtforms import SelectChoice

from training.audit.services import record_export
from training.booking import services as booking
from training.booking.display import of_seats, possessive, sentence
from training.booking.forms import program_session_ids
from training.booking.links import MAX_TOKEN_LENGTH
from training.booking.models import Program, Signup, TrainingSession
from training.booking.notices import emails_session_changes, subject_for
from training.booking.services import AlreadySignedUp, BookingError, current_program
from training.database import writes_after_reading
from training.drafts import services as drafts
from training.drawn import mark_drawn, redrawn_when_changed, require_unchanged
from training.edge import carry_out, flashed_above, shown_under
from training.extensions import db, utcnow
from training.mail.models import OutboxMessage
from training.mail.services import mail_domain, public_url
from training.rosters import exports, outreach, services
from training.rosters.feed import FeedEvent, build_feed
from training.rosters.forms import (
    AddSignupForm,
    CancelSessionForm,
    CancelSignupForm,
    FeedForm,
    FindForm,
    MoveSignupForm,
    NotesForm,
    OrganizationsEmailForm,
    ResendForm,
    SessionForm,
)
from training.spreadsheets import CSV_MIMETYPE, XLSX_MIMETYPE, attachment
from training.staff.auth import EVERY_ROLE, MANAGERS, role_required
from training.staff.models import StaffMember
from training.submissions.guard import (
    current_submission_identity,
    once_per_submission,
)

bp = Blueprint("rosters", __name__)


@bp.get("/staff/sessions")
@role_required(*EVERY_ROLE)
def sessions():
    """The program's sessions (a facilitator's own) with seats, waitlist and facilitators."""
    program = current_program()
    now = utcnow()
    summaries = services.list_sessions(program, current_user, now) if program else []
    find = FindForm(request.args)
    found = None  # no filter: every session
    if program is not None and find.validate():
        found = services.matches_by_session(program.id, find.q.data or "")
        if found is not None:
            summaries = [s for s in summaries if s.session.id in found]
    return render_template(
        "rosters/sessions.html",
        program=program,
        summaries=summaries,
        now=now,
        find=find,
        found=found,
    )


@bp.route("/staff/sessions/email", methods=["GET", "POST"])
@role_required(*MANAGERS)
@once_per_submission
def email_organizations():
    """Write to the organizations of the sessions ticked (``?session=`` ticks some): preview
    the email as one organization gets it, then send it through the outbox (audited).

    Preview keeps a draft and redirects to its page (``?draft=``), so every page of the flow
    is a GET: Back after sending opens the preview again (saying it was sent), never "Confirm
    form resubmission"."""
    program = current_program()
    if program is None:
        abort(404)
    now = utcnow()
    sessions = services.list_sessions(program, current_user, now)
    by_id = {summary.session.id: summary.session for summary in sessions}
    draft = None
    if request.method == "GET" and "draft" in request.args:
        draft = outreach.draft_of(current_user, request.args.get("draft", ""))
        if draft is None:
            abort(404, description="This draft is not yours or no longer kept. Write it again.")
    form = OrganizationsEmailForm()
    form.offer([summary.session for summary in sessions], now)
    if draft is not None:
        form.sessions.data = [
            session_id for session_id in outreach.draft_session_ids(draft) if session_id in by_id
        ]
        form.include_waitlist.data = draft.content.get("include_waitlist") is True
        form.subject.data = outreach.draft_text(draft, "subject")
        form.body.data = outreach.draft_text(draft, "body")
        form.draft.data = draft.id
    elif request.method == "GET":
        form.sessions.data = [
            session_id for session_id in _query_ids("session") if session_id in by_id
        ]
    chosen = [by_id[session_id] for session_id in form.sessions.data or [] if session_id in by_id]
    if draft is not None:
        return _email_preview(form, chosen, now, draft, program)
    if request.method == "GET" or not form.validate():
        status = 422 if form.errors else 200
        return render_template("rosters/email.html", form=form, preview=None), status
    include_waitlist = bool(form.include_waitlist.data)
    if not form.send.data:
        return carry_out(
            lambda: (
                outreach.save_draft(
                    current_user,
                    chosen,
                    form.subject.data,
                    form.body.data,
                    include_waitlist=include_waitlist,
                    now=now,
                ).id
            ),
            redirect_to=lambda draft_id: url_for("rosters.email_organizations", draft=draft_id),
        )
    sent_draft = outreach.draft_of(current_user, form.draft.data or "")

    def send():
        messages = outreach.email_organizations(
            chosen,
            form.subject.data,
            form.body.data,
            include_waitlist=include_waitlist,
            now=now,
            actor=current_user,
        )
        drafts.mark_used(sent_draft, now)
        return messages

    return carry_out(
        send,
        done=lambda messages: (
            f"Queued your message to {len(messages)} "
            + ("organization" if len(messages) == 1 else "organizations")
            + ". Each roster shows its delivery under the organization's emails."
        ),
        redirect_to=url_for("rosters.roster", session_id=chosen[0].id)
        if len(chosen) == 1
        else url_for("rosters.sessions"),
        refused=flashed_above(
            lambda: render_template("rosters/email.html", form=form, preview=None)
        ),
    )


def _email_preview(
    form: OrganizationsEmailForm, chosen: list, now: datetime, draft, program: Program
):
    """The page of a draft: the form as previewed, and the email as one organization gets it."""
    signups = outreach.audience(chosen, include_waitlist=bool(form.include_waitlist.data), now=now)
    return render_template(
        "rosters/email.html",
        form=form,
        preview=signups,
        preview_text=outreach.plain_text(signups[0], chosen, form.body.data, now)
        if signups
        else "",
        preview_subject=subject_for(signups[0], form.subject.data) if signups else "",
        sent_at=draft.used_at,
        program=program,
    )


def _query_ids(name: str) -> list[int]:
    """The record ids given as ``?name=`` (any number of times); anything else is ignored."""
    digits = [value for value in request.args.getlist(name) if value.isascii() and value.isdigit()]
    return [int(value) for value in digits if 0 < int(value) < 2**31]


@bp.route("/staff/sessions/new", methods=["GET", "POST"])
@role_required(*MANAGERS)
@once_per_submission
def new_session():
    """Add a session to the current program."""
    program = current_program()
    if program is None:
        abort(404)
    form = _session_form(program)
    page, refused = _session_form_page(form, program, None)
    if not form.validate_on_submit():
        return page()
    return carry_out(
        lambda: services.create_session(
            program,
            form.details(),
            facilitators=form.chosen_facilitators(),
            actor=current_user,
            now=utcnow(),
            same_start_confirmed=form.create_anyway.data,
            past_reason=form.past_reason(),
        ),
        done=lambda session: f"Session added: {session.when}.",
        redirect_to=lambda session: url_for("rosters.roster", session_id=session.id),
        refused=refused,
    )


@bp.route("/staff/sessions/<id:session_id>/edit", methods=["GET", "POST"])
@role_required(*MANAGERS)
@once_per_submission
def edit_session(session_id: int):
    """Change a session's time, seats, joining details and facilitators."""
    session = _session_or_404(session_id)
    form = mark_drawn(_session_form(session.program, session))
    page, refused = _session_form_page(form, session.program, session)
    if not form.validate_on_submit():
        return page()

    def drawn_now() -> SessionForm:
        return _session_form(session.program, session, formdata=None)

    def change() -> int:
        require_unchanged(session, form, drawn_now, thing="session")
        return services.update_session(
            session,
            form.details(),
            facilitators=form.chosen_facilitators(),
            now=utcnow(),
            actor=current_user,
            past_reason=form.past_reason(),
            inside_cutoff_confirmed=form.move_inside_cutoff.data,
        )

    def redrawn(now_form: SessionForm):
        return _session_form_page(now_form, session.program, session)[0](), 409

    return carry_out(
        change,
        done=lambda told: (
            f"Saved {session.when}." + _told(told, "an updated invite", "that it moved")
        ),
        redirect_to=url_for("rosters.roster", session_id=session.id),
        refused=redrawn_when_changed(form, drawn_now, redrawn, refused),
    )


def _session_form_page(form, program, session: TrainingSession | None):
    """The new or edit session page for ``form``, and how a refusal of it is answered: a
    rule's message under its field (same start, start in the past, too few seats), any other
    above the form."""

    def page(
        same_start: TrainingSession | None = None,
        in_past: bool = False,
        inside_cutoff: bool = False,
    ):
        return render_template(
            "rosters/session_form.html",
            form=form,
            program=program,
            session=session,
            same_start=same_start,
            in_past=in_past,
            emails_changes=session is None or emails_session_changes(session, utcnow()),
            inside_cutoff=inside_cutoff,
        )

    def refused(error: BookingError):
        if isinstance(error, services.SameStartTime):
            # Most often the same form again after Back: ask before making a second one.
            return shown_under(form.starts_at, lambda: page(same_start=error.session))(error)
        if isinstance(error, services.StartsInPast):
            return shown_under(form.day, lambda: page(in_past=True))(error)
        if isinstance(error, services.MovedInsideCutoff):
            return shown_under(form.day, lambda: page(inside_cutoff=True))(error)
        if isinstance(error, services.OutsideProgramWindow):
            return shown_under(form.day, page)(error)
        if isinstance(error, services.SeatsBelowBooked):
            return shown_under(form.seats, page)(error)
        return flashed_above(page)(error)

    return page, refused


@bp.route("/staff/sessions/<id:session_id>/cancel", methods=["GET", "POST"])
@role_required(*MANAGERS)
@once_per_submission
def cancel_session(session_id: int):
    """Ask why, then cancel a session and email everyone booked on it."""
    session = _session_or_404(session_id)
    form = CancelSessionForm()
    if not form.validate_on_submit():
        return render_template("rosters/cancel_session.html", session=session, form=form)
    return carry_out(
        lambda: services.cancel_session(
            session, form.reason.data, now=utcnow(), actor=current_user
        ),
        done=lambda told: (
            f"Cancelled {session.when}." + _told(told, "the cancellation", "where they stand now")
        ),
        redirect_to=url_for("rosters.sessions"),
        refused=url_for("rosters.roster", session_id=session.id),
    )


@bp.get("/staff/sessions/<id:session_id>")
@role_required(*EVERY_ROLE)
def roster(session_id: int):
    """A session's roster: who is booked, the waitlist, their latest emails, staff's actions."""
    session = _readable_session(session_id)
    now = utcnow()
    move_options = _move_options(session, now)
    move_form, promote_form = MoveSignupForm(formdata=None), MoveSignupForm(formdata=None)
    move_form.session_id.choices = _with_nothing_chosen(move_options)
    promote_form.session_id.choices = _with_nothing_chosen(
        _promote_options(session, now, move_options)
    )
    roster = services.load_roster(session, now)
    find = FindForm(request.args)
    matches = (
        services.matching_signups(session.program_id, find.q.data or "")
        if (find.validate())
        else None
    )
    if matches is not None:
        roster = dataclasses.replace(
            roster,
            booked=[signup for signup in roster.booked if signup.id in matches],
            waitlist=[signup for signup in roster.waitlist if signup.id in matches],
        )
    return render_template(
        "rosters/roster.html",
        roster=roster,
        find=find,
        filtered=matches is not None,
        move_form=move_form,
        promote_form=promote_form,
        cancel_form=CancelSignupForm(formdata=None),
        notes_drawn_from=lambda signup: mark_drawn(_notes_form(signup)).drawn_from.data,
        can_manage=current_user.can_manage,
        inside_cutoff=booking.is_inside_cutoff(session, now),
        now=now,
    )


@bp.get("/staff/sessions/<id:session_id>/print")
@role_required(*EVERY_ROLE)
def print_roster(session_id: int):
    """The roster to print: organizations, contacts, attendees and a check-in column, with no
    forms, notes boxes or buttons on paper."""
    session = _readable_session(session_id)
    return render_template("rosters/print.html", roster=services.load_roster(session, utcnow()))


@bp.get("/staff/sessions/<id:session_id>/roster.<any(csv, xlsx):file_format>")
@writes_after_reading
@role_required(*MANAGERS)
def export_roster(session_id: int, file_format: str):
    """The roster as CSV or XLSX (audited)."""
    session = _session_or_404(session_id)
    rows = exports.roster_rows(services.load_roster(session, utcnow()))
    day = f"{session.local_starts_at:%Y-%m-%d}"
    if file_format == "csv":
        body, mimetype = exports.to_csv(rows), CSV_MIMETYPE
    else:
        body, mimetype = exports.to_xlsx(rows, title=f"Roster {day}"), XLSX_MIMETYPE
    return carry_out(
        lambda: record_export(
            "roster", actor=current_user, rows=len(rows), session=session, format=file_format
        ),
        respond=lambda _: attachment(
            body, filename=f"roster-{day}.{file_format}", mimetype=mimetype, personal=True
        ),
    )


@bp.post("/staff/sessions/<id:session_id>/signups/<id:signup_id>/move")
@role_required(*MANAGERS)
@once_per_submission
def move_signup(session_id: int, signup_id: int):
    """Move a booked organization to another session with a free seat."""
    session, signup = _session_signup_or_404(session_id, signup_id)
    form = MoveSignupForm()
    form.session_id.choices = _with_nothing_chosen(program_session_ids(session.program))

    def move():
        services.require_on_roster(signup, session, waiting=False, now=utcnow())
        return booking.change_session(
            signup, _session_or_404(form.session_id.data), now=utcnow(), actor=current_user
        )

    return _roster_action(
        form,
        move,
        done=lambda promoted: (
            f"Moved {signup.organization_name} to {signup.session.when}. "
            "They have been emailed the new date and invite." + _seat_went_to(promoted)
        ),
        back=url_for("rosters.roster", session_id=session.id),
    )


@bp.post("/staff/sessions/<id:session_id>/signups/<id:signup_id>/cancel")
@role_required(*MANAGERS)
@once_per_submission
def cancel_signup(session_id: int, signup_id: int):
    """Cancel an organization's booking or waitlist place, with a reason."""
    session, signup = _session_signup_or_404(session_id, signup_id)
    form = CancelSignupForm()

    # The waitlist's "Remove from waitlist" says so in its address; "Cancel booking" does not.
    waiting = request.args.get("place") == "waiting"

    def cancel() -> tuple[bool, list]:
        """Whether the signup goes on (only this session's waitlist place was left), and the
        organizations booked from the waitlist into the seat it freed."""
        services.require_on_roster(signup, session, waiting=waiting, now=utcnow())
        if waiting:
            goes_on = booking.leave_waitlist_date(
                signup, session, now=utcnow(), actor=current_user, reason=form.reason.data
            )
            return goes_on, []
        promoted = booking.cancel_signup(
            signup, now=utcnow(), actor=current_user, reason=form.reason.data
        )
        return False, promoted

    def done(outcome: tuple[bool, list]) -> str:
        goes_on, promoted = outcome
        if goes_on:
            return (
                f"Took {signup.organization_name} off the waitlist for {session.when}; it stays "
                f"on the waitlist for {'; '.join(s.when for s in signup.chosen_sessions)}. "
                "They have been emailed."
            )
        if waiting:
            return (
                f"Cancelled {possessive(signup.organization_name)} signup: {session.when} was "
                "its only date to wait for. They have been emailed."
            )
        return (
            f"Cancelled {possessive(signup.organization_name)} place. They have been emailed."
            + _seat_went_to(promoted)
        )

    return _roster_action(
        form,
        cancel,
        done=done,
        back=url_for("rosters.roster", session_id=session.id),
    )


@bp.post("/staff/sessions/<id:session_id>/signups/<id:signup_id>/promote")
@role_required(*MANAGERS)
@once_per_submission
def promote_signup(session_id: int, signup_id: int):
    """Book a waitlisted organization into a session with a free seat."""
    session, signup = _session_signup_or_404(session_id, signup_id)
    form = MoveSignupForm()
    form.session_id.choices = _with_nothing_chosen(program_session_ids(session.program))

    def promote():
        services.require_on_roster(signup, session, waiting=True, now=utcnow())
        services.promote_signup(
            signup, _session_or_404(form.session_id.data), now=utcnow(), actor=current_user
        )

    return _roster_action(
        form,
        promote,
        done=lambda _: (
            f"Booked {signup.organization_name} from the waitlist on "
            f"{signup.session.when}. They have been emailed."
        ),
        back=url_for("rosters.roster", session_id=session.id),
    )


@bp.post("/staff/sessions/<id:session_id>/signups/<id:signup_id>/notes")
@role_required(*MANAGERS)
@once_per_submission
def save_notes(session_id: int, signup_id: int):
    """Save staff's notes on a signup."""
    session, signup = _session_signup_or_404(session_id, signup_id)
    form = NotesForm()

    def change() -> None:
        require_unchanged(signup, form, lambda: _notes_form(signup), thing="signup")
        booking.set_staff_notes(signup, form.staff_notes.data, actor=current_user, session=session)

    return _roster_action(
        form,
        change,
        done=sentence(f"Saved the notes on {signup.organization_name}"),
        back=url_for("rosters.roster", session_id=session.id, _anchor=f"signup-{signup.id}"),
        # Drawn here, not redirected to: the notes sent may be longer than a cookie holds.
        refused=redrawn_when_changed(
            form,
            lambda: _notes_form(signup),
            lambda _now: (roster(session.id), 409),
            flashed_above(lambda: roster(session.id)),
        ),
    )


def _notes_form(signup: Signup) -> NotesForm:
    """The notes form of ``signup`` as it is now."""
    return NotesForm(formdata=None, staff_notes=signup.staff_notes or "")


@bp.post("/staff/sessions/<id:session_id>/emails/<id:message_id>/resend")
@role_required(*MANAGERS)
@once_per_submission
def resend_email(session_id: int, message_id: int):
    """Queue a failed or retrying email again."""
    session = _session_or_404(session_id)
    message = db.get_or_404(OutboxMessage, message_id)
    if message.signup is None or message.signup.program_id != session.program_id:
        abort(404)
    back = url_for("rosters.roster", session_id=session.id)
    if not ResendForm().validate_on_submit():
        return redirect(back, code=303)

    def said(resent: bool) -> str | None:
        if not resent:
            flash("That email is no longer waiting to be resent; see its state below.", "info")
            return None
        return f"“{message.subject}” will be sent again in a moment."

    return carry_out(
        lambda: services.resend_email(message, actor=current_user, session=session),
        done=said,
        redirect_to=back,
    )


@bp.route("/staff/sessions/<id:session_id>/signups/new", methods=["GET", "POST"])
@role_required(*MANAGERS)
@once_per_submission
def add_signup(session_id: int):
    """Book an organization that phoned in."""
    session = _session_or_404(session_id)
    form = AddSignupForm()
    form.set_attestation(session.program.attestation_text)

    def page(conflict: Signup | None = None):
        status = 409 if conflict is not None else 200
        return (
            render_template(
                "rosters/add_signup.html",
                session=session,
                form=form,
                conflict=conflict,
                conflict_stands=booking.where_it_stands(conflict, utcnow()) if conflict else None,
            ),
            status,
        )

    def refused(error: BookingError):
        if isinstance(error, AlreadySignedUp):
            return page(conflict=error.signup)
        return flashed_above(page)(error)

    def added(signup: Signup) -> str:
        place = "booked on this session" if signup.is_confirmed else "on the waitlist"
        return f"Added {signup.organization_name}: {place}. They have been emailed."

    if not form.validate_on_submit():
        return page()
    return carry_out(
        lambda: services.add_signup_by_hand(
            session,
            form.details(form.organization_name.data),
            submission_key=current_submission_identity(),
            join_waitlist=form.join_waitlist.data,
            now=utcnow(),
            actor=current_user,
            override_reason=form.override_reason.data,
        ),
        done=added,
        redirect_to=url_for("rosters.roster", session_id=session.id),
        refused=refused,
    )


@bp.route("/staff/calendar-feed", methods=["GET", "POST"])
@role_required(*MANAGERS)
@once_per_submission
def calendar_feed():
    """The staff calendar feed: a new address, shown once when it is made."""
    form = FeedForm()

    def page(feed_url: str | None = None):
        feed = services.current_calendar_feed()
        created_by = db.session.get(StaffMember, feed.created_by_id) if feed else None
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

    if not form.validate_on_submit():
        return page()
    # Only a hash is kept, so the address is shown once, on the answer to the POST itself.
    return carry_out(
        lambda: services.rotate_calendar_feed(actor=current_user),
        respond=lambda token: page(public_url("rosters.feed", token=token)),
    )


@bp.get("/feeds/sessions/<token>.ics")
def feed(token: str):
    """Every session as iCalendar, for calendar apps that fetch it without signing in."""
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
        f"Booked: {of_seats(session.seats_booked, session.seats)}",
        f"Facilitators: {names}",
    ]
    if session.is_cancelled:
        lines.insert(0, f"CANCELLED: {session.cancellation_reason or 'no reason given'}")
    lines += session.joining_lines
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
        sequence=session.sequence,
        roster_url=roster_url,
        meeting_url=session.meeting_url,
    )


def _session_form(
    program: Program, session: TrainingSession | None = None, **kwargs
) -> SessionForm:
    """The session form: empty, or drawn from ``session``; ``kwargs`` as for a form
    (``formdata=None``: as the session is now, whatever was posted)."""
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
    return SessionForm(
        zone=program.zone, accounts=services.facilitator_accounts(), **values, **kwargs
    )


def _roster_action(form, change: Callable[[], object], *, done, back: str, refused=None):
    """A button on the roster: ``change`` carried out when its form is valid, else the form's
    errors flashed; back to the roster either way (a refusal: ``refused``, if given)."""
    if not form.validate_on_submit():
        for errors in form.errors.values():
            flash(errors[0], "error")
        return redirect(back, code=303)
    return carry_out(change, done=done, redirect_to=back, refused=refused)


def _told(told: services.Told, what: str, waiting_what: str) -> str:
    """Who is emailed about a change to a session: those booked on it ``what``, those waiting
    for it ``waiting_what``, and those the change booked from its waitlist."""
    parts = []
    if told.booked:
        parts.append(f"{_organizations(told.booked)} booked on it will be emailed {what}")
    if told.waiting:
        parts.append(
            f"{_organizations(told.waiting)} waiting for it will be emailed {waiting_what}"
        )
    if told.promoted:
        were = "was" if told.promoted == 1 else "were"
        parts.append(f"{_organizations(told.promoted)} {were} booked from the waitlist and emailed")
    return f" {'; '.join(parts)}." if parts else ""


def _seat_went_to(promoted: list[Signup]) -> str:
    """What a staff message adds when the seat it freed was booked from the waitlist."""
    if not promoted:
        return ""
    names = ", ".join(signup.organization_name for signup in promoted)
    return f" The freed seat went to {names} from the waitlist; they have been emailed."


def _organizations(count: int) -> str:
    return "1 organization" if count == 1 else f"{count} organizations"


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
    """The sessions an organization can be moved to, each with its free seats; a date inside
    the change cutoff says so. No date is chosen until staff choose one."""
    cutoff = current_app.config["CHANGE_CUTOFF_HOURS"]
    return [
        SelectChoice(
            target.id,
            f"{target.when} ({target.seats_left_label}"
            + (f"; starts within {cutoff} hours" if now >= target.changes_close_at(cutoff) else "")
            + ")",
        )
        for target in services.move_targets(session, now)
    ]


def _with_nothing_chosen(options: list[SelectChoice]) -> list[SelectChoice]:
    """``options`` after a first "Choose a date…" (id 0), so none is picked by default."""
    return [SelectChoice(0, "Choose a date…"), *options] if options else []


def _promote_options(
    session: TrainingSession, now: datetime, elsewhere: list[SelectChoice]
) -> list[SelectChoice]:
    """This session first, when it has a free seat, then ``elsewhere`` (the move options)."""
    if session.is_bookable(now) and session.seats_left:
        return [SelectChoice(session.id, f"This session ({session.seats_left_label})"), *elsewhere]
    return elsewhere
