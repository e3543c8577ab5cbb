"""Booking's emails: confirmations, waitlist and cancellation notes, manage links, changes to
who is on a booking, a session changed by staff, and reminders before it. Each is queued in the
caller's transaction, to the booking's ``Signup.mailboxes``."""

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from training.booking.cutoff import can_wait_for, changes_close_at, is_inside_cutoff
from training.booking.display import sentence
from training.booking.ical import (
    InviteDetails,
    build_invite,
    google_calendar_url,
    outlook_calendar_url,
)
from training.booking.links import issue_manage_link
from training.booking.models import (
    SESSION_SCHEDULED,
    SIGNUP_CONFIRMED,
    Signup,
    TrainingSession,
    waitlist_line,
)
from training.extensions import db, utcnow
from training.mail.addresses import ascii_address, parsed_address
from training.mail.models import Reminder
from training.mail.services import mail_domain, mailbox_key, public_url, queue_email


def subject_for(signup: Signup, text: str) -> str:
    """A booking email's subject: ``text``, then the organization in brackets, the same way on
    every email, so a contact with several bookings can tell them apart (``"Reminder: Tue, Dec
    1, 10:00–11:30 AM PT (Sierra Valley Medical Society)"``). A subject already ending with
    the organization in brackets (a staff member's, typed that way) keeps it once."""
    suffix = f"({signup.organization_name})"
    if text.rstrip().endswith(suffix):
        return text.rstrip()
    return f"{text} {suffix}"


def invite_details(signup: Signup, session: TrainingSession | None = None) -> InviteDetails:
    """What the calendar invite for a signup's ``session`` (its own by default) says.

    The UID names the signup and the session, so each booked date is one calendar event;
    SEQUENCE is the signup's counter, which only goes up, so any invite outranks every
    earlier one for the same UID.
    """
    session = session or signup.session
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    sender_name, sender_email = parsed_address(sender)[0], ascii_address(sender)
    lines = [
        sentence(f"{signup.program.name}: small-group training for {signup.organization_name}"),
        f"When: {session.when}",
        *session.joining_lines,
        "Bring your learner data (name, month and day of birth, license number, state) and "
        "make sure you have your learners' permission to report their credit.",
        f"Questions: {signup.program.staff_email}",
    ]
    return InviteDetails(
        uid=f"signup-{signup.id}-session-{session.id}@{mail_domain()}",
        sequence=signup.invite_sequence,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        summary=f"{signup.program.name}: training session",
        description="\n".join(lines),
        organizer_email=sender_email,
        organizer_name=sender_name or signup.program.name,
        # As the email reaches them: a domain in another script in its ASCII form.
        attendees=tuple((name, ascii_address(email)) for name, email in signup.mailboxes),
        meeting_url=session.meeting_url,
        joining=tuple(session.joining_lines),
    )


def raise_invite_sequence(signup: Signup) -> int:
    """Add one to ``signup``'s invite SEQUENCE in the database and return the new value.

    One ``UPDATE … SET invite_sequence = invite_sequence + 1``: the row lock orders two
    changes sent at once, so each invite gets a SEQUENCE of its own (a Python ``+= 1`` would
    let both write the same number).
    """
    signup.invite_sequence = Signup.invite_sequence + 1
    db.session.flush()
    db.session.refresh(signup, ["invite_sequence"])
    return signup.invite_sequence


def queue_with_invite(
    kind: str,
    recipients: list[str],
    subject: str,
    signup: Signup,
    *,
    invite: InviteDetails,
    method: str,
    whole_event: bool = True,
    **context,
) -> int:
    """``queue_email`` with the calendar invite ``invite``, for ``method`` REQUEST or CANCEL,
    built now with a fresh DTSTAMP; a REQUEST also offers the add-to-calendar links. A CANCEL
    with ``whole_event`` false withdraws only the invite's attendees (see ``build_invite``)."""
    calendar = build_invite(invite, method=method, stamp=utcnow(), whole_event=whole_event)
    calendar = calendar.decode()
    if method == "REQUEST":
        context["calendar_links"] = {
            "Google Calendar": google_calendar_url(invite),
            "Outlook (work or school)": outlook_calendar_url(invite, account="work"),
            "Outlook.com": outlook_calendar_url(invite, account="personal"),
        }
    return queue_email(
        kind, recipients, subject, signup, calendar=calendar, method=method, **context
    )


# Said by a new booking's confirmation page and email when its first choice had no seat.
FIRST_CHOICE_FULL = "Your first choice was full, so we booked your next choice with a seat."
# How a booking came to its date when it was not the organization's own signup, said alike by
# its confirmation page (``services.how_it_was_booked``) and its email: staff booked it from the
# waitlist (a roster's "Book into"), it booked itself from the waitlist, or staff signed it up.
STAFF_BOOKED_FROM_WAITLIST = "The training staff booked you on this date from the waitlist."
OWN_BOOKING_FROM_WAITLIST = "You booked this date with your manage link."
STAFF_SIGNED_UP = "The training staff signed you up for this date."
# The waitlist email's words for a place staff added by hand (a roster's "Add a signup").
STAFF_ADDED_TO_WAITLIST = "The training staff signed you up."


def queue_confirmation(
    signup: Signup,
    token: str,
    *,
    previous: TrainingSession | None = None,
    promoted: bool = False,
    cancelled_date: TrainingSession | None = None,
    now: datetime | None = None,
    by_staff: bool = False,
    merge_undone: Signup | None = None,
    first_choice_full: bool = False,
    how_booked: str | None = None,
    no_longer_waiting_for: Sequence[TrainingSession] = (),
) -> None:
    """Queue the "you're booked" email with its invite (REQUEST); after a move, first the CANCEL
    of the old date, as an email of its own. ``promoted`` says it came off the waitlist: into
    a seat that opened up, or, with ``cancelled_date``, on another date it chose because that
    one was cancelled (no seat opened: its own date went). ``by_staff``: the training staff
    made the move, and both emails say so. ``merge_undone``: staff undid the merge of this
    booking into that signup, which had cancelled it; the email says it is booked again.
    ``first_choice_full``: a new signup booked on a later choice because its first was full
    (``FIRST_CHOICE_FULL``, as its confirmation page says). ``how_booked``: how else it came to
    this date, in its confirmation page's words (``STAFF_BOOKED_FROM_WAITLIST``…).
    ``no_longer_waiting_for``: the other dates it was in line for, which this booking took it
    off."""
    when = signup.session.when
    if previous is not None:
        # Two emails, one invite each: clients act on one calendar per message, and the old
        # date is another event (another UID) that must be cancelled on its own.
        queue_signup_email(
            signup,
            None,
            "date_released",
            subject_for(signup, f"Cancelled: {previous.when}, moved to {when}"),
            method="CANCEL",
            invite_session=previous,
            by_staff=by_staff,
            now=now,
        )
        subject = subject_for(signup, f"Your training date has changed: {when}")
    elif merge_undone is not None:
        subject = subject_for(signup, f"Merge undone: you're booked again for {when}")
    elif cancelled_date is not None:
        cancelled = cancelled_date.when
        subject = subject_for(signup, f"{cancelled} is cancelled: you're booked for {when}")
    elif promoted:
        subject = subject_for(signup, f"A seat opened up: you're booked for {when}")
    else:
        subject = subject_for(signup, f"You're booked: {when}")
    queue_signup_email(
        signup,
        token,
        "booking_confirmed",
        subject,
        method="REQUEST",
        previous=previous,
        promoted=promoted,
        cancelled_date=cancelled_date,
        by_staff=by_staff,
        merge_undone=merge_undone,
        how_booked=FIRST_CHOICE_FULL if first_choice_full else how_booked,
        no_longer_waiting_for=no_longer_waiting_for,
        now=now,
    )


def queue_signup_email(
    signup: Signup,
    token: str | None,
    kind: str,
    subject: str,
    *,
    method: str | None = None,
    invite_session: TrainingSession | None = None,
    recipients: list[str] | None = None,
    now: datetime | None = None,
    **context,
) -> int:
    """Queue ``mail/<kind>`` to the signup's recipients (or ``recipients``), with an invite when
    ``method`` is set (for ``invite_session``, the signup's own session by default) and the
    manage link when ``token`` is given; returns the message's id.

    Every booking email with a manage link is built here, so each offers what its reader can
    still do at ``now`` (the moment it is built; the clock by default): inside the change
    cutoff, the footer offers only seeing or cancelling the booking (``manage_actions``).
    """
    now = now or utcnow()
    context.update(
        # When the email is built: its session's lines say so of a meeting link still missing.
        built_at=now,
        manage_url=public_url("booking.manage", token=token) if token else None,
        # Where the manage link leads besides the booking: practice, and the challenges.
        sandbox_url=public_url("sandbox.home", token=token) if token else None,
        **manage_actions(signup, now),
        manage_offer=manage_offer(signup, now),
        challenges_url=public_url("challenges.organization", token=token) if token else None,
        invite_session=invite_session,
    )
    recipients = signup.recipients if recipients is None else recipients
    if method is None:
        return queue_email(kind, recipients, subject, signup, **context)
    invite = invite_details(signup, invite_session)
    return queue_with_invite(
        kind, recipients, subject, signup, invite=invite, method=method, **context
    )


def manage_actions(signup: Signup, now: datetime) -> dict[str, datetime | bool | None]:
    """What the emails' footer (``mail/_footer.txt``, ``mail/_layout.html``) offers at ``now``:
    ``changes_close_at`` is set once date and contact changes have closed for a booked
    ``signup`` (only seeing or cancelling it is left), None while they are open, for a
    waitlist place, or for a booking whose session staff cancelled (it goes back to choosing a
    date). ``is_waiting`` is true for a signup in line for a date (it may choose other dates
    or leave the waitlist), ``waits_for_no_date`` for one with no date booked or waited for
    (it may book a date, join a waitlist, or cancel the signup)."""
    lost_booking = signup.is_confirmed and signup.session and signup.session.is_cancelled
    if signup.is_waitlisted or lost_booking:
        # A booking whose session staff cancelled goes back to the other dates it chose.
        # The same rule as ``services.dates_waited_for``: a date inside its cutoff gives no seat.
        waiting = any(can_wait_for(session, now) for session in signup.chosen_sessions)
        return {"changes_close_at": None, "is_waiting": waiting, "waits_for_no_date": not waiting}
    actions: dict[str, datetime | bool | None] = {
        "changes_close_at": None,
        "is_waiting": False,
        "waits_for_no_date": False,
    }
    if not signup.is_confirmed or signup.session is None:
        return actions
    closes = changes_close_at(signup.session)
    return actions | {"changes_close_at": closes if now >= closes else None}


# What a manage link lets an organization do, by where its signup stands (``manage_offer``):
# each completes "Use it to …", "it lets you …" and "To …, use the manage link".
MANAGE_OFFERS = {
    "booked": "change your date, update who is attending, or cancel",
    "inside_cutoff": "see your booking, or cancel it until the session starts",
    "started": "see your booking",
    "waiting": "book a date with a free seat, update who is attending, or leave the waitlist",
    "waits_for_no_date": (
        "book a date that still has seats, join the waitlist of a full date, or cancel your signup"
    ),
    "cancelled": "see your cancelled booking",
}


def manage_offer(signup: Signup, now: datetime) -> str:
    """What ``signup``'s manage link lets its organization do at ``now`` (``MANAGE_OFFERS``),
    by the rule the emails' footer follows (``manage_actions``): booked with changes open,
    booked inside the change cutoff (only seeing or cancelling), booked and started (only
    seeing), waiting for a date, waiting for no date, or cancelled. Every page and email that
    words what the link offers (already-signed-up page, re-sent link, confirmation) uses it."""
    if signup.is_cancelled:
        return MANAGE_OFFERS["cancelled"]
    actions = manage_actions(signup, now)
    if actions["waits_for_no_date"]:
        return MANAGE_OFFERS["waits_for_no_date"]
    if actions["is_waiting"]:
        return MANAGE_OFFERS["waiting"]
    if actions["changes_close_at"] is None:
        return MANAGE_OFFERS["booked"]
    if signup.session.has_started(now):
        return MANAGE_OFFERS["started"]
    return MANAGE_OFFERS["inside_cutoff"]


def queue_waitlisted(
    signup: Signup,
    token: str,
    waitlist: list,
    *,
    now: datetime,
    merge_undone: Signup | None = None,
    by_staff: bool = False,
) -> None:
    """Queue the "you're on the waitlist" email (no invite: no date is booked yet), listing
    ``waitlist`` (its ``services.WaitlistPlace``s at ``now``: each date's place in line, or
    why no seat will come from it, as the manage page says), its subject naming the first date
    it chose that a seat can still come from and the organization; sent on signing up, on
    joining a waitlist from the manage page, and (``merge_undone``: the signup it had been
    merged into) when staff undo a merge that had cancelled the waitlist place. ``by_staff``:
    staff added the signup by hand, and the email says so."""
    waited_for = [place.session for place in waitlist if place.is_waiting]
    named = waited_for or signup.chosen_sessions
    first_choice = named[0].when if named else signup.program.name
    text = "Merge undone: you're back on the waitlist" if merge_undone else "You're on the waitlist"
    queue_signup_email(
        signup,
        token,
        "waitlisted",
        subject_for(signup, f"{text} for {first_choice}"),
        now=now,
        merge_undone=merge_undone,
        waitlist=waitlist,
        how_added=STAFF_ADDED_TO_WAITLIST if by_staff else None,
    )


def queue_waitlist_date_left(
    signup: Signup,
    token: str,
    left: TrainingSession,
    waitlist: list,
    *,
    now: datetime,
) -> None:
    """Queue ``mail/waitlist_date_left``: staff took ``signup`` off ``left``'s waitlist alone;
    it says so, and lists its places on its other dates (``waitlist``: its
    ``services.WaitlistPlace``s)."""
    queue_signup_email(
        signup,
        token,
        "waitlist_date_left",
        subject_for(signup, f"Waitlist update: you are off the waitlist for {left.when}"),
        left=left,
        waitlist=waitlist,
        now=now,
    )


def send_people_update(
    signup: Signup,
    before: list[tuple[str, str]],
    *,
    by_staff: bool = False,
    waitlist: Sequence = (),
) -> bool:
    """Tell everyone concerned that who is on ``signup`` changed; False when nothing did.
    A waitlist place's email lists ``waitlist`` (its ``services.WaitlistPlace``s: each date's
    place in line, or why no seat will come from it).

    ``before`` is ``signup.mailboxes`` as it was before the change (the contact first).
    Mailboxes compare case-insensitively and in any order, names too (a renamed contact is a
    new ATTENDEE CN), so a form saved unchanged or reordered, or a phone number or provider ID
    changed, sends nothing.
    Otherwise everyone now on the booking gets one email (for a booked date, the invite:
    REQUEST, the next SEQUENCE, the full ATTENDEE list, and a fresh manage link), and the
    addresses taken off get one email of their own (for a booked date, a CANCEL of the same
    UID and SEQUENCE listing only them, no manage link); a changed contact is named in both,
    so the old and the new contact address each learn of it. The old contact address gets its
    email apart, saying who made the change: from the manage page (the contact) or, with
    ``by_staff``, the training staff; the others taken off are told to ask the contact to add
    them again. Call it in the transaction of the change.
    """
    after = signup.mailboxes
    if signup.is_cancelled or _mailbox_keys(before) == _mailbox_keys(after):
        return False
    now_on = {mailbox_key(email) for _name, email in after}
    was_on = {mailbox_key(email) for _name, email in before}
    removed = [(name, email) for name, email in before if mailbox_key(email) not in now_on]
    context: dict[str, Any] = {
        "people": after,
        "added": [(name, email) for name, email in after if mailbox_key(email) not in was_on],
        "removed": removed,
        "previous_contact": (
            before[0] if _mailbox_keys(before)[0] != _mailbox_keys(after)[0] else None
        ),
        "by_staff": by_staff,
        "waitlist": waitlist,
    }
    booked = signup.session if signup.is_confirmed else None
    method = None
    if booked is not None:
        raise_invite_sequence(signup)
        method = "REQUEST"
        subject = subject_for(signup, f"Updated: who attends {booked.when}")
    else:
        subject = subject_for(signup, "Updated: the contacts for your waitlist place")
    queue_signup_email(
        signup, issue_manage_link(signup), "people_updated", subject, method=method, **context
    )
    # The old contact address apart: it is told who changed it, never to ask itself back.
    old_contact = mailbox_key(before[0][1])
    contact = [mailbox for mailbox in removed if mailbox_key(mailbox[1]) == old_contact]
    others = [mailbox for mailbox in removed if mailbox_key(mailbox[1]) != old_contact]
    for group, was_contact in ((contact, True), (others, False)):
        if group:
            _queue_people_removed(signup, booked, group, context | {"was_contact": was_contact})
    return True


def _queue_people_removed(
    signup: Signup,
    booked: TrainingSession | None,
    removed: list[tuple[str, str]],
    context: dict[str, Any],
) -> None:
    # For a booked date, the CANCEL of the same UID and SEQUENCE, listing only them.
    recipients = [email for _name, email in removed]
    if booked is None:
        subject = subject_for(signup, "Removed: you are no longer on the waitlist place")
        queue_email("people_removed", recipients, subject, signup, **context)
        return
    subject = subject_for(signup, f"Removed: you are no longer on the booking for {booked.when}")
    queue_with_invite(
        "people_removed",
        recipients,
        subject,
        signup,
        invite=replace(invite_details(signup), attendees=tuple(removed)),
        method="CANCEL",
        whole_event=False,
        **context,
    )


def _mailbox_keys(mailboxes: list[tuple[str, str]]) -> tuple[tuple[str, str], frozenset]:
    # The contact, then the others in any order: listing the same people in another order or
    # spelling changes no one's calendar.
    keys = [(name, mailbox_key(email)) for name, email in mailboxes]
    return keys[0], frozenset(keys[1:])


def queue_manage_link(signup: Signup, token: str) -> None:
    """Queue a fresh manage link to the contact on file (never to the attendees)."""
    queue_signup_email(
        signup,
        token,
        "manage_link",
        subject_for(signup, f"Your manage link for {signup.program.name}"),
        recipients=[signup.contact_email],
    )


# What the "session changed" email names, in its order: (label, columns). Joining details go
# in the order of ``TrainingSession.joining_lines``: link, passcode, dial-in.
SESSION_CHANGE_FIELDS = (
    ("Time", ("starts_at", "ends_at")),
    ("Meeting link", ("meeting_url",)),
    ("Passcode", ("passcode",)),
    ("Dial-in", ("dial_in",)),
)
NOT_SET = "not set"


def session_changes(
    session: TrainingSession, previous: Mapping[str, Any]
) -> list[tuple[str, str, str]]:
    """What staff changed on ``session``, as ``(label, old, new)`` lines for people to read.

    ``previous`` maps the session's columns (``starts_at``, ``ends_at``, ``meeting_url``,
    ``dial_in``, ``passcode``) to their values before the change; columns it lacks count as
    unchanged. Only what changed is listed; times read as ``session.when`` does, a cleared
    value reads "not set".
    """
    changes = []
    for label, columns in SESSION_CHANGE_FIELDS:
        old = tuple(previous.get(column, getattr(session, column)) for column in columns)
        new = tuple(getattr(session, column) for column in columns)
        if old == new:
            continue
        if label == "Time":
            old_text = session.program.session_when(*old)
            changes.append((label, old_text, session.when))
        else:
            changes.append((label, old[0] or NOT_SET, new[0] or NOT_SET))
    return changes


def emails_session_changes(session: TrainingSession, now: datetime) -> bool:
    """Whether a change to ``session`` at ``now`` is emailed to the organizations booked on it:
    not once it has started (an invite for a date gone by helps no one)."""
    return not session.has_started(now)


def send_session_update(
    session: TrainingSession, previous: Mapping[str, Any] | None = None, *, now: datetime
) -> int:
    """Tell everyone booked on ``session`` that staff changed its time, link or dial-in;
    returns how many were told.

    Call it after the change, in the same transaction: each booking gets a REQUEST with the
    next SEQUENCE, whose email lists what changed from ``previous``, the columns' values before
    the change (see ``session_changes``). Each booking's SEQUENCE goes up, so its .ics download
    is newer than any invite a calendar holds; but a change to a session that has started at
    ``now`` is emailed to nobody (an invite for a date gone by helps no one) and returns 0.
    A cancelled session is told by ``rosters.notices.queue_session_cancelled`` instead, once
    each booking's new place is known.
    """
    changes = session_changes(session, previous) if previous is not None else []
    signups = db.session.scalars(
        select(Signup)
        .where(Signup.session_id == session.id, Signup.status == SIGNUP_CONFIRMED)
        .order_by(Signup.id)
    ).all()
    for signup in signups:
        raise_invite_sequence(signup)
    if not emails_session_changes(session, now):
        return 0
    for signup in signups:
        queue_signup_email(
            signup,
            issue_manage_link(signup),
            "session_changed",
            subject_for(signup, f"Updated: your training session, {session.when}"),
            invite_session=session,
            method="REQUEST",
            now=now,
            changes=changes,
        )
    db.session.flush()
    return len(signups)


def send_waitlist_session_moved(
    session: TrainingSession, previous: Mapping[str, Any], *, now: datetime
) -> int:
    """Tell every organization waiting for ``session`` that staff moved it (``previous`` holds
    its ``starts_at`` and ``ends_at`` before); returns how many were told.

    Nothing is sent when its time did not change or the session has started at ``now``. The
    email says the new time, the organization's place in line (none once the new time is
    inside the change cutoff: nobody is booked from a waitlist then) and how to leave the
    waitlist from the manage link.
    """
    moved = (previous["starts_at"], previous["ends_at"]) != (session.starts_at, session.ends_at)
    if not moved or session.is_cancelled or session.has_started(now):
        return 0
    waiting = db.session.scalars(waitlist_line(session.id)).all()
    was = session.program.session_when(previous["starts_at"], previous["ends_at"])
    too_soon = is_inside_cutoff(session, now)
    for line, signup in enumerate(waiting, start=1):
        queue_signup_email(
            signup,
            issue_manage_link(signup),
            "waitlist_session_moved",
            subject_for(signup, f"Waitlist update: {was} has moved to {session.when}"),
            now=now,
            session=session,
            was=was,
            position=None if too_soon else line,
        )
    return len(waiting)


def send_reminders(now: datetime) -> int:
    """Queue the reminders due at ``now``; each booking gets each reminder at most once.

    A reminder is due from ``hours`` before the session until it starts. When several are due
    together (a late booking, a worker that was down) only the nearest goes out, and one due
    before the booking was confirmed is skipped: the confirmation said it all.
    """
    offsets = sorted({_minutes(hours) for hours in current_app.config["MAIL_REMINDER_HOURS"]})
    if not offsets:
        return 0
    rows = db.session.execute(
        select(Signup, TrainingSession)
        .join(TrainingSession, Signup.session_id == TrainingSession.id)
        .where(
            Signup.status == SIGNUP_CONFIRMED,
            TrainingSession.status == SESSION_SCHEDULED,
            TrainingSession.starts_at > now,
            TrainingSession.starts_at <= now + timedelta(minutes=offsets[-1]),
        )
        .order_by(TrainingSession.starts_at, Signup.id)
    ).all()
    queued = 0
    for signup, session in rows:
        due = [
            minutes for minutes in offsets if session.starts_at - timedelta(minutes=minutes) <= now
        ]
        recorded = set(
            db.session.scalars(
                select(Reminder.minutes_before).where(
                    Reminder.signup_id == signup.id,
                    Reminder.session_id == session.id,
                    Reminder.session_starts_at == session.starts_at,
                )
            )
        )
        pending = [minutes for minutes in due if minutes not in recorded]
        if not pending:
            continue
        nearest = pending[0]
        covered = signup.confirmed_at is not None and signup.confirmed_at >= (
            session.starts_at - timedelta(minutes=nearest)
        )
        reminders = [
            Reminder(
                signup_id=signup.id,
                session_id=session.id,
                session_starts_at=session.starts_at,
                minutes_before=minutes,
            )
            for minutes in pending
        ]
        try:
            with db.session.begin_nested():
                db.session.add_all(reminders)
                db.session.flush()
        except IntegrityError:
            continue  # another worker recorded it first
        if covered:
            continue
        message_id = queue_signup_email(
            signup,
            issue_manage_link(signup),
            "reminder",
            subject_for(signup, f"Reminder: your training session, {session.when}"),
            now=now,
            starts_in=_starts_in(session.starts_at - now),
        )
        reminders[0].outbox_message_id = message_id
        queued += 1
    db.session.flush()
    return queued


def _minutes(hours: float) -> int:
    return round(float(hours) * 60)


def _starts_in(left: timedelta) -> str:
    hours = left.total_seconds() / 3600
    if hours >= 36:
        return f"in {round(hours / 24)} days"
    if hours >= 1.5:
        return f"in {round(hours)} hours"
    return f"in {max(round(hours * 60), 1)} minutes"
