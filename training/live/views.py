"""The facilitator's console and the participant's live page, with their polling endpoints."""

from collections.abc import Callable
from datetime import datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from werkzeug.http import quote_etag

from training.booking.links import MAX_TOKEN_LENGTH, signup_or_404
from training.booking.models import (
    SIGNUP_CONFIRMED,
    Signup,
    TrainingSession,
)
from training.booking.services import session_cancelled_under
from training.drawn import mark_drawn, redrawn_when_changed, require_unchanged
from training.edge import carry_out, flashed_above
from training.extensions import db, utcnow
from training.live import services
from training.live.board import (
    ParticipantTag,
    board,
    board_tag,
    live_shown,
    participant_attendance,
    participant_tag,
    sandbox_path,
)
from training.live.cache import live_cache
from training.live.followups import FollowUpReport, send_followups
from training.live.forms import (
    ActionForm,
    CheckInForm,
    DoneForm,
    JumpForm,
    MoveStepForm,
    NotesForm,
)
from training.live.models import CHECKIN_LABELS, LiveSession, WalkthroughStep
from training.live.steps import step_position, walkthrough
from training.resources.markdown import render_markdown
from training.staff.auth import EVERY_ROLE, role_required
from training.submissions.guard import once_per_submission

bp = Blueprint("live", __name__)


# --- Facilitator console -----------------------------------------------------------------------


@bp.get("/staff/live/")
@role_required(*EVERY_ROLE)
def index():
    """Sessions to run: a facilitator's own, or every one for admins and staff, each with its
    status (live now, upcoming, ended, cancelled), those running and ahead first; cancelled
    ones stay listed, so a console open when it was cancelled can be found again."""
    if current_user.can_manage:
        sessions = db.session.scalars(
            select(TrainingSession).order_by(TrainingSession.starts_at)
        ).all()
    else:
        sessions = sorted(current_user.sessions, key=lambda s: s.starts_at)
    return render_template("live/index.html", listed=services.list_sessions(sessions, utcnow()))


@bp.get("/staff/live/<id:session_id>")
@role_required(*EVERY_ROLE)
def console(session_id: int):
    """The facilitator's console: the current step, the board and the session's controls."""
    return _render_console(_console_session(session_id))


@bp.get("/staff/live/<id:session_id>/board.json")
@role_required(*EVERY_ROLE)
def board_state(session_id: int):
    """The board and step panel as JSON for the console's polling; 304 when unchanged."""
    session = _console_session(session_id)
    etag = board_tag(session.id, checkin_open=services.is_checkin_open(session, utcnow()))
    if request.if_none_match.contains(etag):
        return _not_modified(etag)
    context = _console_context(session)
    return _live_json(
        {
            "version": context["live"].version if context["live"] else 0,
            "help": [row.signup.id for row in context["rows"] if row.needs_help],
            "board_html": render_template("live/_board.html", **context),
            "step_html": render_template("live/_console_step.html", **context),
        },
        etag,
    )


@bp.post("/staff/live/<id:session_id>/start")
@role_required(*EVERY_ROLE)
@once_per_submission
def start(session_id: int):
    """Start the session: everyone sees the first step."""
    session = _console_session(session_id)
    return _console_action(
        session,
        lambda: services.start_session(session, actor=current_user, now=utcnow()),
        "The session has started: everyone sees the first step.",
    )


@bp.post("/staff/live/<id:session_id>/end")
@role_required(*EVERY_ROLE)
@once_per_submission
def end(session_id: int):
    """End the session."""
    session = _console_session(session_id)
    return _console_action(
        session,
        lambda: services.end_session(session, actor=current_user, now=utcnow()),
        "The session has ended.",
    )


@bp.post("/staff/live/<id:session_id>/next")
@role_required(*EVERY_ROLE)
@once_per_submission
def next_step(session_id: int):
    """Show everyone the next step."""
    return _move_step(_console_session(session_id), 1)


@bp.post("/staff/live/<id:session_id>/back")
@role_required(*EVERY_ROLE)
@once_per_submission
def previous_step(session_id: int):
    """Show everyone the step before."""
    return _move_step(_console_session(session_id), -1)


def _move_step(session: TrainingSession, offset: int):
    form = MoveStepForm()
    shown = form.from_step.data if form.validate_on_submit() else None
    return _console_action(
        session,
        lambda: services.move_step(session, offset, actor=current_user, shown_step_id=shown),
    )


@bp.post("/staff/live/<id:session_id>/step")
@role_required(*EVERY_ROLE)
@once_per_submission
def jump(session_id: int):
    """Show everyone the step chosen from the list."""
    session = _console_session(session_id)
    form = JumpForm()
    form.set_steps(walkthrough())
    if not form.validate_on_submit():
        flash("Choose a step from the list.", "error")
        return _to_console(session)
    step = db.get_or_404(WalkthroughStep, form.step_id.data)
    return _console_action(session, lambda: services.go_to_step(session, step, actor=current_user))


@bp.post("/staff/live/<id:session_id>/check-in/<id:signup_id>")
@role_required(*EVERY_ROLE)
@once_per_submission
def check_in(session_id: int, signup_id: int):
    """Mark an organization present, joined late or a no-show."""
    session = _console_session(session_id)
    signup = db.get_or_404(Signup, signup_id)
    form = CheckInForm()
    if not form.validate_on_submit():
        flash("Choose present, joined late or no-show.", "error")
        return _to_console(session, f"org-{signup.id}")
    return _console_action(
        session,
        lambda: services.check_in(
            session, signup, form.status.data, actor=current_user, now=utcnow()
        ),
        f"{signup.organization_name}: {CHECKIN_LABELS[form.status.data]}.",
        anchor=f"org-{signup.id}",
    )


@bp.post("/staff/live/<id:session_id>/help/<id:signup_id>/clear")
@role_required(*EVERY_ROLE)
@once_per_submission
def clear_help(session_id: int, signup_id: int):
    """Lower an organization's “needs help” flag."""
    session = _console_session(session_id)
    signup = db.get_or_404(Signup, signup_id)
    return _console_action(
        session,
        lambda: services.clear_help(session, signup, actor=current_user, now=utcnow()),
        f"{signup.organization_name} is no longer waiting for help.",
        anchor=f"org-{signup.id}",
    )


@bp.post("/staff/live/<id:session_id>/notes")
@role_required(*EVERY_ROLE)
@once_per_submission
def notes(session_id: int):
    """Save the facilitator's notes."""
    session = _console_session(session_id)
    form = NotesForm()
    if not form.validate_on_submit():
        return _render_console(session, notes_form=form, status=422)

    def drawn_now() -> NotesForm:
        return _notes_form(services.find_live(session))

    def change() -> None:
        # Created (or locked) first, so the first notes of two tabs are compared too.
        require_unchanged(services.open_live(session), form, drawn_now, thing="session")
        services.save_notes(session, form.notes.data, actor=current_user)

    return carry_out(
        change,
        done="Notes saved.",
        redirect_to=_console_url(session, "notes-heading"),
        refused=redrawn_when_changed(
            form,
            drawn_now,
            lambda now: _render_console(session, notes_form=now, status=409),
            flashed_above(lambda: _render_console(session, notes_form=form, status=409)),
        ),
    )


def _notes_form(live: LiveSession | None) -> NotesForm:
    """The notes form as the session's live state holds them now."""
    return NotesForm(formdata=None, notes=(live.notes or "") if live else "")


@bp.post("/staff/live/<id:session_id>/follow-ups")
@role_required(*EVERY_ROLE)
@once_per_submission
def follow_ups(session_id: int):
    """Queue each organization's follow-up email (once each)."""
    session = _console_session(session_id)
    if not ActionForm().validate_on_submit():
        abort(400)

    def said(report: FollowUpReport) -> str | None:
        if not report.sent:
            flash(
                "Every organization has had its follow-up already; nothing was sent again.",
                "info",
            )
            return None
        return (
            f"Follow-ups queued: {report.attended} to organizations that came, "
            f"{report.missed} to no-shows."
        )

    return carry_out(
        lambda: send_followups(session, actor=current_user, now=utcnow()),
        done=said,
        redirect_to=_console_url(session, "follow-ups-heading"),
    )


def _console_session(session_id: int) -> TrainingSession:
    """The session, if the signed-in person may run it: its facilitators, admins and staff."""
    session = db.get_or_404(TrainingSession, session_id)
    if not current_user.can_manage and session not in current_user.sessions:
        abort(403)
    return session


def _render_console(session: TrainingSession, *, notes_form=None, status: int = 200):
    # Before the content, so the content is never older.
    etag = board_tag(session.id, checkin_open=services.is_checkin_open(session, utcnow()))
    context = _console_context(session, notes_form=notes_form)
    return render_template("live/console.html", board_etag=quote_etag(etag), **context), status


def _console_context(session: TrainingSession, *, notes_form: NotesForm | None = None) -> dict:
    live = services.find_live(session)
    steps = walkthrough()
    jump_form = JumpForm(formdata=None)
    jump_form.set_steps(steps)
    if live is not None and live.current_step_id is not None:
        jump_form.step_id.data = live.current_step_id
    if notes_form is None:
        notes_form = mark_drawn(_notes_form(live))
    rows = board(session)
    current_step = live.current_step if live is not None and live.started_at else None
    now = utcnow()
    return {
        "session": session,
        "live": live,
        "steps": steps,
        "step_numbers": {step.id: number for number, step in enumerate(steps, 1)},
        "current_step": current_step,
        "current_step_html": render_markdown(current_step.participant_text) if current_step else "",
        "current_notes_html": render_markdown(current_step.facilitator_notes)
        if current_step
        else "",
        "step_number": step_position(current_step, steps),
        "elapsed": _elapsed(live),
        "rows": rows,
        "help_count": sum(row.needs_help for row in rows),
        "action_form": ActionForm(formdata=None),
        "checkin_form": CheckInForm(formdata=None),
        "jump_form": jump_form,
        "notes_form": notes_form,
        "now": now,
        "checkin_open": services.is_checkin_open(session, now),
        "checkin_opens_at": services.checkin_opens_at(session),
        "has_ended": session.has_ended(now),
    }


def _elapsed(live) -> str:
    """The session's running time as H:MM:SS (the page's script keeps it ticking)."""
    if live is None or live.started_at is None:
        return ""
    seconds = int(((live.ended_at or utcnow()) - live.started_at).total_seconds())
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _console_action(session, change, message: str | None = None, *, anchor: str = "step"):
    """A console button: carry out ``change`` and go back to the console at ``anchor``."""
    if not ActionForm().validate_on_submit():
        abort(400)
    return carry_out(change, done=message, redirect_to=_console_url(session, anchor))


def _console_url(session: TrainingSession, anchor: str = "step") -> str:
    return url_for("live.console", session_id=session.id, _anchor=anchor)


def _to_console(session: TrainingSession, anchor: str = "step"):
    return redirect(_console_url(session, anchor), code=303)


# --- Participant view --------------------------------------------------------------------------


@bp.get("/manage/<token>/live")
def follow(token: str):
    """The participant's live page: the step the facilitator is on."""
    tag = participant_tag(token) if len(token) <= MAX_TOKEN_LENGTH else None
    signup = signup_or_404(token)
    now = utcnow()
    if tag is not None:
        _share(token, tag)
    return render_template(
        "live/follow.html",
        etag=quote_etag(tag.etag_at(checkin_open=_checkin_open(tag, now))) if tag else "",
        **_participant_context(signup, token, now),
    )


@bp.get("/manage/<token>/live/state.json")
def follow_state(token: str):
    """The participant's page as JSON for its polling; 304 when unchanged."""
    tag = participant_tag(token) if len(token) <= MAX_TOKEN_LENGTH else None
    if tag is None:
        signup_or_404(token)  # a revoked link is told why (410), an unknown one it is not valid
        abort(404)
    _share(token, tag)
    now = utcnow()
    checkin_open = _checkin_open(tag, now)
    etag = tag.etag_at(checkin_open=checkin_open)
    if request.if_none_match.contains(etag):
        return _not_modified(etag)
    # Before check-in opens the page is its own (no "I need help" yet): never kept for others.
    context = _following_context(tag, token) if checkin_open else None
    shared = context is not None
    if not shared:
        context = _participant_context(db.session.get(Signup, tag.signup_id), token, now)
    step = context["step"]
    payload = {
        # "no_session": the booking lost its session (staff cancelled it, say); the page drops
        # what it showed of the old one.
        "state": "following" if context["session"] is not None else "no_session",
        "version": context["live"].version if context["live"] else 0,
        "step": {"id": step.id, "number": context["step_number"], "title": step.title}
        if step
        else None,
        "needs_help": context["needs_help"],
        "is_done": context["is_done"],
        "was_helped": context["was_helped"],
        "html": render_template("live/_follow_step.html", **context),
    }
    cache = live_cache()
    if shared and cache is not None and context["live"].version == tag.version:
        cache.keep_body(
            session_id=tag.session_id,
            version=tag.version,
            step_id=step.id if step else None,
            needs_help=context["needs_help"],
            is_done=context["is_done"],
            was_helped=context["was_helped"],
            payload=payload,
            token=token,
        )
    return _live_json(payload, etag)


def _checkin_open(tag: ParticipantTag, now: datetime) -> bool:
    """Whether check-in of the tag's session is open at ``now`` (true with no session)."""
    return tag.starts_at is None or now >= services.checkin_opening(tag.starts_at)


def _share(token: str, tag: ParticipantTag) -> None:
    """Copy what was read to the live cache, so the next unchanged poll is answered from it."""
    cache = live_cache()
    if cache is not None:
        cache.remember(
            token,
            signup_id=tag.signup_id,
            status=tag.status,
            session_id=tag.session_id,
            version=tag.version,
            revision=tag.revision,
            needs_help=tag.needs_help,
            reported_step_id=tag.reported_step_id,
            done=tag.done_at is not None,
            helped=tag.helped_at is not None,
        )


@bp.post("/manage/<token>/live/help")
@once_per_submission
def request_help(token: str):
    """Tell the facilitators this organization needs help."""
    signup = signup_or_404(token)
    return _participant_action(
        signup,
        token,
        lambda: services.request_help(signup, now=utcnow()),
        "A facilitator has been told you need help.",
        anchor="help-status",
    )


@bp.post("/manage/<token>/live/help/withdraw")
@once_per_submission
def withdraw_help(token: str):
    """Take back a request for help."""
    signup = signup_or_404(token)
    return _participant_action(
        signup,
        token,
        lambda: services.withdraw_help(signup),
        "Glad it's sorted.",
        anchor="help-button",
    )


@bp.post("/manage/<token>/live/done")
@once_per_submission
def step_done(token: str):
    """Tell the facilitators this organization is done with the step it saw."""
    signup = signup_or_404(token)
    form = DoneForm()
    if not form.validate_on_submit():
        flash("That step is no longer on screen; here is the current one.", "error")
        return redirect(url_for("live.follow", token=token), code=303)
    step = db.session.get(WalkthroughStep, form.step_id.data)  # None: refused like a stale one
    return _participant_action(
        signup,
        token,
        lambda: services.mark_step_done(signup, step, now=utcnow()),
        lambda _: f"Marked done: {step.title}.",
        anchor="done-status",
    )


def _participant_action(
    signup: Signup, token: str, change, message: str | Callable, *, anchor: str = "step-title"
):
    """A participant's button: carry out ``change`` and go back to the live page at ``anchor``
    (what the button changed, where keyboard focus is put back)."""
    if not ActionForm().validate_on_submit():
        abort(400)
    return carry_out(
        change, done=message, redirect_to=url_for("live.follow", token=token, _anchor=anchor)
    )


def _following_context(tag: ParticipantTag, token: str) -> dict | None:
    """The live page's context for a confirmed booking of a live session, from the poll's one
    query and what every participant sees at this version (``live_shown``); None otherwise."""
    if tag.status != SIGNUP_CONFIRMED or tag.session_id is None or tag.version is None:
        return None
    shown = live_shown(tag.session_id, tag.version)
    if shown is None:
        return None
    step = shown.step
    return {
        "signup": tag,
        "token": token,
        "session": tag.session_id,
        "live": shown,
        "step": step,
        "step_number": shown.step_number,
        "step_count": shown.step_count,
        "needs_help": tag.needs_help,
        "is_done": tag.is_done_with(step.id if step else None),
        "was_helped": tag.was_helped,
        "help_opens": None,
        "step_html": shown.step_html,
        "cancelled_session": None,
        "sandbox_path": sandbox_path(token),
        "action_form": ActionForm(formdata=None),
        "done_form": DoneForm(formdata=None, step_id=step.id if step else None),
        "poll_ms": current_app.config["LIVE_POLL_MS"],
    }


def _participant_context(signup: Signup, token: str, now: datetime) -> dict:
    session = signup.session if signup.is_confirmed else None
    help_closed = session is not None and not services.is_checkin_open(session, now)
    live = services.find_live(session) if session is not None else None
    steps = walkthrough() if live is not None else []
    step = live.current_step if live is not None and live.started_at is not None else None
    attendance = participant_attendance(signup) if session is not None else None
    no_session = session is None and not signup.is_cancelled
    return {
        "cancelled_session": session_cancelled_under(signup) if no_session else None,
        "signup": signup,
        "token": token,
        "session": session,
        "live": live,
        "step": step,
        "step_number": step_position(step, steps),
        "step_count": len(steps),
        "needs_help": attendance is not None and attendance.needs_help,
        "was_helped": attendance is not None and attendance.was_helped,
        "is_done": step is not None
        and attendance is not None
        and attendance.reported_step_id == step.id
        and attendance.done_at is not None,
        # When "I need help" is offered, said in its place until then.
        "help_opens": services.checkin_opening_words(session) if help_closed else None,
        "step_html": render_markdown(step.participant_text) if step else "",
        "sandbox_path": sandbox_path(token),
        "action_form": ActionForm(formdata=None),
        "done_form": DoneForm(formdata=None, step_id=step.id if step else None),
        "poll_ms": current_app.config["LIVE_POLL_MS"],
    }


# --- Conditional responses ---------------------------------------------------------------------


def _not_modified(etag: str):
    response = current_app.response_class(status=304)
    response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache"
    return response


def _live_json(payload: dict, etag: str):
    response = jsonify(payload)
    response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache"
    return response
