"""Public pages: the session list, the signup form, and the manage link's pages."""

import hashlib
import hmac
from datetime import date, datetime

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as browser_session
from itsdangerous import BadSignature, URLSafeTimedSerializer
from wtforms import SelectChoice

from training.booking import notices, services
from training.booking.cutoff import can_wait_for, no_seat_in_time
from training.booking.display import (
    counted,
    format_day,
    format_long_date,
    format_moment,
    format_time_range,
    of_seats,
    possessive,
    sentence,
    thousands,
)
from training.booking.forms import (
    NO_CHOICE,
    CancelForm,
    ChangeDateForm,
    ContactsForm,
    ResendLinkForm,
    SignupForm,
    WaitlistForm,
    program_session_ids,
)
from training.booking.ical import build_invite
from training.booking.links import (
    BROWSER_NONCE_KEY,
    browser_nonce,
    browser_token,
    label_sent_fields,
    signup_for_token,
    signup_or_404,
    working_token,
)
from training.booking.models import Program, Signup, TrainingSession
from training.booking.names import organization_key
from training.drawn import mark_drawn, redrawn_when_changed, require_unchanged
from training.edge import carry_out, flashed_above, shown_under
from training.errors import render_error
from training.extensions import db, utcnow
from training.mail.services import public_url
from training.masking import TOKEN_PLACEHOLDER
from training.routing import query_number
from training.spreadsheets import CALENDAR_MIMETYPE, attachment
from training.submissions.guard import (
    current_submission_content,
    current_submission_identity,
    once_per_submission,
)
from training.submissions.models import FormSubmission

bp = Blueprint("booking", __name__)

# The "already signed up" page may offer to re-send the manage link for this long.
RESEND_OFFER_MAX_AGE = 3600
# The signups this browser made: signup id -> the submission that made it and a digest of the
# form's content, so the same form sent again (Back, then Sign up) finds the first manage link.
BROWSER_SIGNUPS_KEY = "signups_made"
BROWSER_SIGNUPS_KEPT = 5


def init_app(app: Flask) -> None:
    """Register the date and time filters the booking templates use."""
    label_sent_fields(bp.name, ContactsForm, ChangeDateForm, WaitlistForm, CancelForm)

    app.add_template_filter(sentence, "sentence")
    app.add_template_filter(possessive, "possessive")
    app.add_template_filter(thousands, "thousands")
    app.add_template_filter(counted, "counted")
    app.add_template_filter(of_seats, "of_seats")
    # Whether an organization still waits for a date: one rule for every page that says so.
    app.add_template_global(services.dates_waited_for, "dates_waited_for")
    app.add_template_global(services.status_label, "status_label")
    app.add_template_global(services.waitlist_figure, "waitlist_figure")
    app.add_template_global(services.closed_waitlist_figure, "closed_waitlist_figure")

    @app.template_filter("session_times")
    def session_times(session: TrainingSession) -> str:
        return format_time_range(session.starts_at, session.ends_at, session.program.zone)

    @app.template_filter("long_date")
    def long_date(session: TrainingSession) -> str:
        return format_long_date(session.starts_at, session.program.zone)

    @app.template_filter("ordinal_choice")
    def ordinal_choice(rank: int) -> str:
        # ``rank`` is the date's place among those still chosen (1 first), the numbering the
        # manage page, the emails and the roster share: once a date is cancelled the next one
        # is the first choice (the stored ``SignupChoice.rank`` keeps a gap).
        return {1: "First choice", 2: "Second choice", 3: "Third choice"}.get(
            rank, f"Choice {rank}"
        )

    @app.template_filter("day")
    def day(value: date) -> str:
        return format_day(value)

    @app.template_filter("program_moment")
    def program_moment(moment: datetime, program: Program) -> str:
        return format_moment(moment, program.zone)


@bp.get("/")
def index():
    """The home page: the current program's sessions and whether signups are open."""
    program = services.current_program()
    now = utcnow()
    sessions = program.sessions if program else []
    return render_template(
        "booking/index.html",
        program=program,
        # What can still be chosen, with those under way (said so, not offered) among them:
        # an organization finds its own session there; those ended behind their own control.
        upcoming=[session for session in sessions if not session.has_ended(now)],
        past=[session for session in sessions if session.has_ended(now)],
        # Full dates whose waitlist can give no seat any more: not offered to wait for.
        no_wait_ids={s.id for s in sessions if s.is_full and not can_wait_for(s, now)},
        no_seat_in_time=no_seat_in_time(),
        signup_state=program.signup_state(now) if program else None,
        now=now,
    )


def _repeated_signup(submission: FormSubmission, _submission_key: str):
    """The same signup form again: its confirmation, with the link it was first given.

    No new manage link is made. The first link's token is derived from the submission and this
    browser's session (see ``_first_manage_token``), so only the browser that sent the form
    finds it; from anywhere else the page only says the signup was received.
    """
    signup = services.find_signup_by_submission(submission.key_hash)
    if signup is not None:
        # The same form sent at once several times: this browser's cookie may not yet note
        # the signup its first answer made, but its nonce gives the same first manage link.
        if isinstance(browser_session.get(BROWSER_NONCE_KEY), str):
            token = _first_manage_token(submission.key_hash)
            if signup_for_token(token) == signup:
                return redirect(url_for("booking.confirmation", token=token), code=303)
        if (confirmation := _confirmation_sent_before(signup)) is not None:
            return confirmation
    flash(
        "We already have this signup. Its confirmation and manage link are in the email we "
        "sent to your contact.",
        "info",
    )
    return redirect(url_for("booking.index"), code=303)


def _confirmation_path() -> str:
    """Where a signup leads: its confirmation page (the token is masked where it is kept)."""
    return url_for("booking.confirmation", token=TOKEN_PLACEHOLDER)


@bp.route("/signup", methods=["GET", "POST"])
@once_per_submission(on_repeat=_repeated_signup, leads_to=_confirmation_path)
def signup():
    """The signup form; a valid post books the first choice with a seat, or the waitlist."""
    program = _current_program()
    now = utcnow()
    browser_nonce()
    form = SignupForm()
    # A post is checked against the dates' ids; their labels are made for a page drawn.
    form.set_sessions(program_session_ids(program), program.attestation_text)
    linked_date_refusal = None
    if request.method == "GET":
        form.first_choice.data, linked_date_refusal = _linked_date(program, now)
    signup_state = program.signup_state(now)
    if signup_state != "open" or not form.validate_on_submit():
        return _render_signup(
            program, form, signup_state, now, linked_date_refusal=linked_date_refusal
        )

    submission = current_submission_identity()
    ranked = [_program_session(program, sid) for sid in form.ranked_session_ids()]

    def page():
        return _render_signup(program, form, program.signup_state(now), now, status=409)

    def refused(error: services.BookingError):
        if isinstance(error, services.AlreadySignedUp):
            # The same form again after Back (a new one-time key): the booking it made.
            if (confirmation := _confirmation_sent_before(error.signup)) is not None:
                return confirmation
            return _render_already_signed_up(
                error.signup, form.organization_name.data or "", now=now
            )
        if isinstance(error, services.NoSeatInTime):
            return shown_under(form.first_choice, page)(error)
        return flashed_above(page)(error)

    def book() -> tuple[int, str]:
        signup, token = services.book_signup(
            program,
            form.details(form.organization_name.data),
            ranked,
            submission_key=submission,
            manage_token=_first_manage_token(submission),
            join_waitlist=form.join_waitlist.data,
            now=now,
        )
        return signup.id, token  # the id read before the commit expires the signup

    return carry_out(
        book,
        redirect_to=lambda booked: url_for("booking.confirmation", token=booked[1]),
        refused=refused,
        after=lambda booked: _remember_signup_made(booked[0], submission),
    )


def _remember_signup_made(signup_id: int, submission: str) -> None:
    """Note in this browser's session that ``submission`` made signup ``signup_id`` (the
    latest few)."""
    made = browser_session.get(BROWSER_SIGNUPS_KEY)
    made = dict(made) if isinstance(made, dict) else {}
    made.pop(str(signup_id), None)
    made[str(signup_id)] = [submission, _content_digest()]
    browser_session[BROWSER_SIGNUPS_KEY] = dict(list(made.items())[-BROWSER_SIGNUPS_KEPT:])


def _confirmation_sent_before(signup: Signup):
    """A redirect to ``signup``'s confirmation when this browser made it with the form this
    request sends (with this one-time key or another), else None.

    The same form sent again, with the key it had or a new one drawn when Back redrew the
    page, finds the booking's first manage link and makes none. An edited form, or the form
    from another browser, does not: it is another organization's try at a second place.
    """
    made = browser_session.get(BROWSER_SIGNUPS_KEY)
    remembered = made.get(str(signup.id)) if isinstance(made, dict) else None
    if not (isinstance(remembered, list) and len(remembered) == 2):
        return None
    submission, content = remembered
    if not isinstance(submission, str) or content != _content_digest():
        return None
    token = _first_manage_token(submission)
    if signup_for_token(token) != signup:
        return None
    return redirect(url_for("booking.confirmation", token=token), code=303)


def _content_digest() -> str:
    """The signup form's content digest under the app's secret key, fit for the session
    cookie: without the key, the cookie cannot be checked against guessed form values."""
    message = f"signup-content\0{current_submission_content()}".encode()
    return hmac.new(current_app.secret_key.encode(), message, hashlib.sha256).hexdigest()


def _first_manage_token(submission: str) -> str:
    """The token of the first manage link of the signup made by ``submission`` (its identity:
    the form's one-time key and its content, see ``current_submission_identity``).

    HMAC-SHA256, under the app's secret key, of the submission and this browser's nonce: 256
    bits like a random token. The database keeps only the token's SHA-256 and the
    submission's; the nonce is not stored, so the token cannot be rebuilt from the database,
    only by the browser that sent the form.
    """
    return browser_token("manage-link", submission, browser_nonce())


@bp.post("/signup/resend-link")
@once_per_submission
def resend_link():
    """Email the manage link again to the contact on file (from “already signed up”)."""
    form = ResendLinkForm()
    signup_id = None
    if form.validate_on_submit():
        try:
            signup_id = _resend_serializer().loads(
                form.signup_ref.data, max_age=RESEND_OFFER_MAX_AGE
            )
        except BadSignature:
            signup_id = None
    signup = db.session.get(Signup, signup_id) if signup_id else None
    if signup is None or signup.is_cancelled:
        flash("That offer has expired. Please fill in the signup form again.", "error")
        return redirect(url_for("booking.signup"), code=303)
    return carry_out(
        lambda: services.resend_manage_link(signup, now=utcnow()),
        # Names no organization: the offer may come from a provider ID typed by anyone.
        done=lambda sent: (
            "We have emailed the manage link to the contact we have on file for that signup. "
            "It can take a few minutes to arrive."
            if sent
            else "We emailed the manage link to the contact we have on file for that signup "
            "less than 10 minutes ago, so we have not sent it again: it can take a few minutes "
            "to arrive, and may be in a spam or junk folder. You can ask again after 10 minutes."
        ),
        redirect_to=url_for("booking.index"),
    )


@bp.get("/manage/<token>/confirmation")
def confirmation(token: str):
    """The page after signing up: the seat or waitlist place, and the manage link."""
    signup = signup_or_404(token)
    return render_template(
        "booking/confirmation.html",
        signup=signup,
        token=token,
        manage_url=public_url("booking.manage", token=token),
        how_booked=services.how_it_was_booked(signup),
        waitlist=services.waitlist_places(signup, utcnow()),
        not_waiting=services.not_waiting_reason(signup, utcnow()),
        window=services.change_window(signup, utcnow()),
        manage_offer=notices.manage_offer(signup, utcnow()),
        cutoff_hours=current_app.config["CHANGE_CUTOFF_HOURS"],
    )


@bp.get("/manage/<token>")
def manage(token: str):
    """The manage link's page: the booking, and the forms to change or cancel it."""
    signup = signup_or_404(token)
    return _render_manage(signup, token)


@bp.post("/manage/<token>/date")
@once_per_submission
def change_date(token: str):
    """Move the booking to another date with a free seat."""
    signup = signup_or_404(token)
    now = utcnow()
    form = ChangeDateForm()
    form.session_id.choices = [SelectChoice(NO_CHOICE, ""), *program_session_ids(signup.program)]
    if not form.validate_on_submit():
        return _render_manage(signup, token, date_form=form, status=422)
    session = _program_session(signup.program, form.session_id.data)

    return carry_out(
        lambda: services.change_session(signup, session, now=now),
        done=lambda _: f"Done: you are now booked for {signup.session.when}.",
        redirect_to=url_for("booking.manage", token=token),
        refused=flashed_above(lambda: _render_manage(signup, token, status=409)),
    )


@bp.post("/manage/<token>/waitlist")
@once_per_submission
def join_waitlist(token: str):
    """Put an organization waiting for no date in line for full dates it ranks."""
    signup = signup_or_404(token)
    now = utcnow()
    form = WaitlistForm()
    form.set_sessions(program_session_ids(signup.program))
    if not form.validate_on_submit():
        return _render_manage(signup, token, waitlist_form=form, status=422)
    sessions = [_program_session(signup.program, id_) for id_ in form.ranked_session_ids()]

    return carry_out(
        lambda: services.join_waitlist(signup, sessions, now=now),
        done="Done: you are on the waitlist. We will email you if a seat opens up.",
        redirect_to=url_for("booking.manage", token=token),
        refused=flashed_above(lambda: _render_manage(signup, token, status=409)),
    )


@bp.post("/manage/<token>/contacts")
@once_per_submission
def update_contacts(token: str):
    """Save new contact and attendee details, unless they changed since the form was drawn."""
    signup = signup_or_404(token)
    form = ContactsForm()
    if not form.validate_on_submit():
        return _render_manage(signup, token, contacts_form=form, status=422)
    details = form.details(signup.organization_name)

    def page(contacts_form=form):
        return _render_manage(signup, token, contacts_form=contacts_form, status=409)

    def refused(error: services.BookingError):
        if isinstance(error, services.ProviderIdTaken):
            return shown_under(form.provider_id, page)(error)
        return flashed_above(page)(error)

    def change():
        require_unchanged(signup, form, lambda: _contacts_form(signup), thing="booking")
        told = services.update_contacts(signup, details, now=utcnow())
        # Someone left: every link sent so far is revoked, this one too (it went to them).
        return told, working_token(signup, token)

    def done(result):
        told, new_token = result
        message = "Your contact details are saved."
        if told:
            message += " We have emailed the change to everyone it concerns."
        if new_token != token:
            message += (
                " Because someone was taken off the booking, the links we emailed before no "
                "longer work: this page has a new address, and everyone still on the booking "
                "has a new link in their email."
            )
        return message

    return carry_out(
        change,
        done=done,
        redirect_to=lambda result: url_for("booking.manage", token=result[1]),
        refused=redrawn_when_changed(form, lambda: _contacts_form(signup), page, refused),
    )


@bp.route("/manage/<token>/cancel", methods=["GET", "POST"])
@once_per_submission
def cancel(token: str):
    """Ask, then cancel the booking or waitlist place (until the session starts)."""
    signup = signup_or_404(token)
    now = utcnow()
    form = CancelForm()
    # A place on the waitlist is left, not cancelled; a signup waiting for no date is cancelled.
    waiting = bool(services.dates_waited_for(signup, now))
    if waiting:
        form.confirm.label.text = "Yes, take us off the waitlist"
        form.submit.label.text = "Leave the waitlist"
    elif signup.is_waitlisted:
        form.confirm.label.text = "Yes, cancel our signup"
        form.submit.label.text = "Cancel signup"

    def page(status: int = 200):
        return (
            render_template(
                "booking/cancel.html",
                signup=signup,
                token=token,
                form=form,
                is_waiting=waiting,
                window=services.change_window(signup, now),
            ),
            status,
        )

    if not form.validate_on_submit():
        return page()
    # Refused like a date or contacts change past the cutoff: 409, the page and the reason.
    return carry_out(
        lambda: services.cancel_signup(signup, now=now, asked_about=form.asked_about.data),
        done=(
            "You have left the waitlist. We have emailed your contacts to let them know."
            if waiting
            else f"Your {'signup' if signup.is_waitlisted else 'booking'} is cancelled. "
            "We have emailed your contacts to let them know."
        ),
        redirect_to=url_for("booking.manage", token=token),
        refused=flashed_above(lambda: page(409)),
    )


@bp.get("/manage/<token>/invite.ics")
def invite(token: str):
    """The booking's calendar invite as an .ics download; for a booking with no date, a page
    saying why there is no invite, with the way back to the manage page."""
    signup = signup_or_404(token)
    if not signup.is_confirmed:
        return _no_invite(signup, token)
    body = build_invite(notices.invite_details(signup), method="REQUEST", stamp=utcnow())
    return attachment(
        body, filename="training-session.ics", mimetype=CALENDAR_MIMETYPE, personal=True
    )


def _no_invite(signup: Signup, token: str):
    """The answer to an invite download for a booking with no date: 410 Gone for a cancelled
    one (its invite was withdrawn), 404 for a waitlist place (no invite until a date is
    booked), saying where it stands as its manage page does; each links back to it."""
    back = (url_for("booking.manage", token=token), "Back to your booking")
    if signup.is_cancelled:
        return render_error(
            410,
            "This booking is cancelled",
            f"{possessive(signup.organization_name)} booking is cancelled, so it has no calendar "
            "invite any more; the cancellation email removed it from your calendar.",
            back=back,
        )
    # Where it stands in the manage page's words (``not_waiting_reason``), then the invite.
    not_waiting = services.not_waiting_reason(signup, utcnow())
    stands = (
        f"is not waiting for any date: {not_waiting}"
        if not_waiting
        else "is on the waitlist and has no date yet"
    )
    return render_error(
        404,
        "No calendar invite yet",
        f"{signup.organization_name} {stands}, so there is no calendar invite. When you are "
        "booked on a date, the booking email brings the invite, and this download will work.",
        back=back,
    )


def _current_program() -> Program:
    program = services.current_program()
    if program is None:
        abort(404)
    return program


def _program_session(program: Program, session_id: int) -> TrainingSession:
    session = db.session.get(TrainingSession, session_id)
    if session is None or session.program_id != program.id:
        abort(404)
    return session


def _linked_date(program: Program, now: datetime) -> tuple[int, str | None]:
    """The date a link to the form names (``?session=ID``), to preselect, and why it is not
    preselected when it cannot be had or is not found (``services.signup_date_refusal``), for
    the page to say."""
    if not request.args.get("session"):
        return NO_CHOICE, None
    session_id = query_number("session", NO_CHOICE)
    session = db.session.get(TrainingSession, session_id) if session_id != NO_CHOICE else None
    if session is not None and session.program_id != program.id:
        session = None  # another program's date is not one this form offers
    if (refusal := services.signup_date_refusal(session, now)) is not None:
        return NO_CHOICE, str(refusal)
    return session_id, None


def _offer_dates(form: SignupForm, program: Program, now: datetime) -> None:
    """Put the bookable dates in the signup form's lists, with a note under the first when some
    start inside the change cutoff (so their date could not be changed once booked, and a
    full one could not be waited for)."""
    hours = current_app.config["CHANGE_CUTOFF_HOURS"]
    options, inside_cutoff = _date_options(program, now, hours)
    form.set_sessions(options, program.attestation_text)
    form.first_choice.description = (
        f"Dates marked “starts within {hours} hours” are inside our change cutoff: once "
        "booked, their date and contacts can no longer be changed, though you can still "
        "cancel until the session starts. A full one has no waitlist: no seat can open for "
        "you in time."
        if inside_cutoff
        else ""
    )


def _date_options(program: Program, now: datetime, hours: int) -> tuple[list[SelectChoice], bool]:
    """The bookable dates as options, and whether any starts within the cutoff."""
    options = []
    inside_cutoff = False
    for session in program.sessions:
        if not session.is_bookable(now):
            continue
        seats = "full: waitlist" if session.is_full else session.seats_left_label
        if services.is_inside_cutoff(session, now):
            inside_cutoff = True
            seats = (
                f"full; {no_seat_in_time()}"
                if session.is_full
                else f"{seats}; starts within {hours} hours"
            )
        options.append(SelectChoice(session.id, f"{session.when} ({seats})"))
    return options, inside_cutoff


def _change_options(signup: Signup, now: datetime) -> list[SelectChoice]:
    return [SelectChoice(NO_CHOICE, "Choose a date")] + [
        SelectChoice(session.id, f"{session.when} ({session.seats_left_label})")
        for session in services.dates_open_to_change(signup, now)
    ]


def _render_signup(program, form, signup_state, now, status=200, linked_date_refusal=None):
    _offer_dates(form, program, now)
    return (
        render_template(
            "booking/signup.html",
            program=program,
            form=form,
            signup_state=signup_state,
            has_open_seats=any(s.is_bookable(now) and not s.is_full for s in program.sessions),
            can_wait=any(s.is_full and can_wait_for(s, now) for s in program.sessions),
            no_seat_in_time=no_seat_in_time(),
            no_choice=NO_CHOICE,
            linked_date_refusal=linked_date_refusal,
        ),
        status,
    )


def _render_already_signed_up(signup: Signup, typed_name: str, *, now: datetime):
    """The page for an organization that holds a place already. Found by the name typed, it
    says where; found only by the provider ID, it names neither that organization nor its date,
    which a visitor typing seven digits has no right to learn."""
    resend_form = ResendLinkForm(signup_ref=_resend_serializer().dumps(signup.id))
    by_name = organization_key(signup.organization_name) == organization_key(typed_name)
    return (
        render_template(
            "booking/already_signed_up.html",
            signup=signup,
            waiting_for=services.dates_waited_for(signup, now),
            not_waiting=services.not_waiting_reason(signup, now, chooser="it"),
            manage_offer=notices.manage_offer(signup, now),
            by_name=by_name,
            resend_form=resend_form,
        ),
        409,
    )


def _render_manage(
    signup, token, *, date_form=None, contacts_form=None, waitlist_form=None, status=200
):
    now = utcnow()
    if date_form is None:
        date_form = ChangeDateForm()
    # The dates open to a change now, whatever a refused post was checked against.
    date_form.session_id.choices = _change_options(signup, now)
    if not signup.is_confirmed:
        date_form.say_booking_a_first_date()
    if waitlist_form is None:
        waitlist_form = WaitlistForm(formdata=None)
    waitlist_form.set_sessions(
        [
            SelectChoice(session.id, f"{session.when} (full: waitlist)")
            for session in services.full_dates_to_wait_for(signup, now)
        ]
    )
    # Full dates left out of that list, and why: their waitlist can give no seat in time.
    no_wait_dates = [
        session
        for session in signup.program.sessions
        if session.is_full and session.is_bookable(now) and not can_wait_for(session, now)
    ]
    if contacts_form is None:
        contacts_form = mark_drawn(_contacts_form(signup))
    return (
        render_template(
            "booking/manage.html",
            signup=signup,
            token=token,
            date_form=date_form,
            contacts_form=contacts_form,
            waitlist_form=waitlist_form,
            is_waiting=bool(services.dates_waited_for(signup, now)),
            not_waiting=services.not_waiting_reason(signup, now),
            no_wait_dates=no_wait_dates,
            no_seat_in_time=no_seat_in_time(),
            no_choice=NO_CHOICE,
            window=services.change_window(signup, now),
            cutoff_hours=current_app.config["CHANGE_CUTOFF_HOURS"],
            waitlist=services.waitlist_places(signup, now),
        ),
        status,
    )


def _contacts_form(signup: Signup) -> ContactsForm:
    """The contacts form as the booking holds them now."""
    return ContactsForm(
        formdata=None,
        provider_id=signup.provider_id,
        contact_name=signup.contact_name,
        contact_email=signup.contact_email,
        contact_phone=signup.contact_phone,
        attendee_emails="\n".join(attendee.email for attendee in signup.attendees),
    )


def _resend_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="resend-manage-link")
