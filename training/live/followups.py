"""After a live session: each organization's follow-up email, once (its results and next steps
if it came, another date if it did not)."""

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import update

from training.audit.services import COMMAND_LINE_ACTOR, record
from training.booking.display import format_long_date, format_moment
from training.booking.links import issue_manage_link
from training.booking.models import Signup, TrainingSession
from training.booking.notices import subject_for
from training.extensions import db
from training.live.board import UploadSummary, attendances, latest_uploads, roster
from training.live.models import LiveAttendance
from training.live.services import LiveError, bump, open_live
from training.mail.services import public_url, queue_email


class FollowUpsNotReady(LiveError):
    """The session has not ended, or some organization of it is not checked in yet."""


@dataclass
class FollowUpReport:
    """Follow-ups queued (to those who came, to no-shows), and how many had gone before."""

    attended: int = 0
    missed: int = 0
    already_sent: int = 0

    @property
    def sent(self) -> int:
        """Follow-ups queued now."""
        return self.attended + self.missed


def send_followups(session: TrainingSession, *, actor=None, now: datetime) -> FollowUpReport:
    """Email each organization once: results and next steps if it came, another date if not.

    Raises ``FollowUpsNotReady`` before the session's scheduled end (nobody can have come to,
    or missed, a session that has not happened), and until every organization is checked in
    (present, joined late or no-show), so nobody who came is told they were missed. A session
    still running is ended: participants' signals are no longer taken once follow-ups are out.
    """
    if not session.has_ended(now):
        raise FollowUpsNotReady(
            "Follow-ups go out after the session ends, "
            f"{format_moment(session.ends_at, session.program.zone)}."
        )
    signups = roster(session)
    rows = attendances(session)
    unmarked = [s.organization_name for s in signups if not _checked_in(rows.get(s.id))]
    if unmarked:
        raise FollowUpsNotReady(
            "Check in every organization first (present, joined late or no-show): "
            + ", ".join(unmarked)
            + "."
        )
    report = FollowUpReport()
    uploads = latest_uploads(signup.id for signup in signups)
    for signup in signups:
        attendance = rows[signup.id]
        claimed = db.session.execute(
            update(LiveAttendance)
            .where(LiveAttendance.id == attendance.id, LiveAttendance.followup_sent_at.is_(None))
            .values(followup_sent_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.expire(attendance, ["followup_sent_at"])
        if not claimed:
            report.already_sent += 1
            continue
        if attendance.has_attended:
            _queue_followup(signup, uploads.get(signup.id))
            report.attended += 1
        else:
            _queue_missed(signup, now)
            report.missed += 1
    if report.sent:
        live = open_live(session)
        # Once the follow-ups are out the session is over: a timer left running is stopped,
        # so participants' pages say so and stop offering "I need help" and "Done".
        was_running = live.is_running
        if was_running:
            live.ended_at = now
        bump(live, seen_by_participants=was_running)
        if was_running:
            record(
                "live.ended",
                actor=actor,
                actor_label=None if actor is not None else COMMAND_LINE_ACTOR,
                session=session,
            )
        record(
            "live.followups_sent",
            actor=actor,
            actor_label=None if actor is not None else COMMAND_LINE_ACTOR,
            session=session,
            attended=report.attended,
            missed=report.missed,
        )
    return report


def _checked_in(attendance: LiveAttendance | None) -> bool:
    return attendance is not None and attendance.checkin_status is not None


def _long_date(day: date) -> str:
    return f"{day:%A, %B} {day.day}, {day.year}"


def _queue_followup(signup: Signup, upload: UploadSummary | None) -> None:
    program = signup.program
    token = issue_manage_link(signup)
    queue_email(
        "live_followup",
        signup.recipients,
        subject_for(signup, "After your training: your sandbox results and next steps"),
        signup=signup,
        upload=upload,
        session_date=format_long_date(signup.session.starts_at, program.zone),
        sandbox_url=public_url("sandbox.home", token=token),
        challenges_url=public_url("challenges.organization", token=token),
        accme_due=_long_date(program.accme_challenge_due_on),
        cma_due=_long_date(program.cma_challenge_due_on),
    )


def _queue_missed(signup: Signup, now: datetime) -> None:
    program = signup.program
    open_dates = [
        session
        for session in program.sessions
        if session.is_bookable(now) and not session.is_full and session.id != signup.session_id
    ]
    queue_email(
        "live_missed",
        signup.recipients,
        subject_for(signup, "We missed you: book another training date"),
        signup=signup,
        session_date=format_long_date(signup.session.starts_at, program.zone),
        open_dates=open_dates,
        home_url=public_url("booking.index"),
    )
