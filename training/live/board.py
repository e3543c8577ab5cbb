"""What the live pages show, and their ETags: the facilitator's board (each organization's
check-in, signals and latest sandbox upload) and the participant's page, each answered with a
cheap query when nothing changed."""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app, url_for
from sqlalchemy import and_, func, select

from training.booking.links import hash_token
from training.booking.models import (
    SIGNUP_CANCELLED,
    SIGNUP_CONFIRMED,
    ManageLink,
    Signup,
    TrainingSession,
)
from training.extensions import db
from training.live.models import LiveAttendance, LiveSession
from training.live.steps import step_position, walkthrough
from training.resources.markdown import render_markdown
from training.sandbox.models import ATTEMPT_DONE, ATTEMPT_FAILED, SandboxAttempt
from training.sandbox.rules import CODES, ERROR


def roster(session: TrainingSession) -> list[Signup]:
    """The organizations booked on ``session``, by name."""
    return list(
        db.session.scalars(
            select(Signup)
            .where(Signup.session_id == session.id, Signup.status == SIGNUP_CONFIRMED)
            .order_by(Signup.organization_name, Signup.id)
        )
    )


def attendances(session: TrainingSession) -> dict[int, LiveAttendance]:
    """Each organization's live row in ``session``, by signup id."""
    rows = db.session.scalars(select(LiveAttendance).where(LiveAttendance.session_id == session.id))
    return {row.signup_id: row for row in rows}


def _etag(*parts: object) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()


def participant_etag(
    signup_id: int, status: str, session_id: int | None, version: int | None, revision: int | None
) -> str:
    """The ETag of a participant's live page: its booking, the session's live version and the
    organization's live revision (``training.live.cache`` computes it from Redis alike)."""
    return "p" + _etag(signup_id, status, session_id, version, revision)


@dataclass(frozen=True)
class ParticipantTag:
    """A manage link's signup, its live page's ETag parts, and the organization's signals."""

    signup_id: int
    status: str
    session_id: int | None
    version: int | None
    revision: int | None
    help_requested_at: datetime | None = None
    reported_step_id: int | None = None
    done_at: datetime | None = None
    starts_at: datetime | None = None  # the session's
    helped_at: datetime | None = None

    @property
    def etag(self) -> str:
        """The live page's ETag once check-in is open (the shared cache's too)."""
        return participant_etag(
            self.signup_id, self.status, self.session_id, self.version, self.revision
        )

    def etag_at(self, *, checkin_open: bool) -> str:
        """The live page's ETag: before check-in opens, another one (the page offers no
        "I need help" yet), which the shared cache never answers, so the page changes when
        check-in opens with nothing written."""
        return self.etag if checkin_open else self.etag + "-before-checkin"

    @property
    def is_cancelled(self) -> bool:
        """Whether the booking was cancelled."""
        return self.status == SIGNUP_CANCELLED

    @property
    def needs_help(self) -> bool:
        """Whether the organization asked for help and nobody has cleared it."""
        return self.help_requested_at is not None

    @property
    def was_helped(self) -> bool:
        """Whether a facilitator marked it helped and it has not asked again since."""
        return self.helped_at is not None and self.help_requested_at is None

    def is_done_with(self, step_id: int | None) -> bool:
        """Whether the organization said it is done with step ``step_id``."""
        return step_id is not None and self.reported_step_id == step_id and self.done_at is not None


@dataclass(frozen=True)
class StepShown:
    """The step on every participant's screen."""

    id: int
    title: str


@dataclass(frozen=True)
class LiveShown:
    """What every participant of a live session sees at one ``version`` of its live state."""

    session_id: int
    version: int
    ended_at: datetime | None
    step: StepShown | None
    step_number: int | None
    step_count: int
    step_html: str


# The app's session id -> the newest LiveShown this process built: participants' answers at one
# version share it (the version changes with everything it holds), so it is built once per
# version. Kept per app: another app (another database) has its own.
_SHOWN = "live_shown"
_SHOWN_SIZE = 1000


def live_shown(session_id: int, version: int) -> LiveShown | None:
    """What the participants of session ``session_id`` see at ``version`` or newer; None before
    the session was first started. Built from the database once per version per process."""
    _shown: dict[int, LiveShown] = current_app.extensions.setdefault(_SHOWN, {})
    shown = _shown.get(session_id)
    if shown is not None and shown.version == version:
        return shown
    live = db.session.get(LiveSession, session_id)
    if live is None:
        return None
    steps = walkthrough()
    step = live.current_step if live.started_at is not None else None
    shown = LiveShown(
        session_id=session_id,
        version=live.version,
        ended_at=live.ended_at,
        step=StepShown(step.id, step.title) if step is not None else None,
        step_number=step_position(step, steps),
        step_count=len(steps),
        step_html=render_markdown(step.participant_text) if step is not None else "",
    )
    held = _shown.get(session_id)
    if held is None or held.version < shown.version:
        if len(_shown) >= _SHOWN_SIZE:
            _shown.clear()
        _shown[session_id] = shown
    return shown


def participant_tag(token: str) -> ParticipantTag | None:
    """The manage link's signup, the ETag of its live page and its signals, in one indexed
    query."""
    row = db.session.execute(
        select(
            Signup.id,
            Signup.status,
            Signup.session_id,
            LiveSession.version,
            LiveAttendance.revision,
            LiveAttendance.help_requested_at,
            LiveAttendance.reported_step_id,
            LiveAttendance.done_at,
            TrainingSession.starts_at,
            LiveAttendance.helped_at,
        )
        .select_from(ManageLink)
        .join(Signup, Signup.id == ManageLink.signup_id)
        .outerjoin(TrainingSession, TrainingSession.id == Signup.session_id)
        .outerjoin(LiveSession, LiveSession.session_id == Signup.session_id)
        .outerjoin(
            LiveAttendance,
            and_(
                LiveAttendance.session_id == Signup.session_id,
                LiveAttendance.signup_id == Signup.id,
            ),
        )
        .where(ManageLink.token_hash == hash_token(token), ManageLink.revoked_at.is_(None))
        .limit(1)
    ).first()
    if row is None:
        return None
    return ParticipantTag(*row)


def board_tag(session_id: int, *, checkin_open: bool) -> str:
    """The ETag of the facilitator's board: live counters, roster and uploads, in one query,
    and whether check-in is open (the board changes when it opens, with nothing written)."""
    in_session = Signup.session_id == session_id
    columns = (
        select(LiveSession.board_version)
        .where(LiveSession.session_id == session_id)
        .scalar_subquery(),
        select(func.count(Signup.id)).where(in_session).scalar_subquery(),
        select(func.max(Signup.updated_at)).where(in_session).scalar_subquery(),
        select(func.max(SandboxAttempt.id))
        .join(Signup, Signup.id == SandboxAttempt.signup_id)
        .where(in_session)
        .scalar_subquery(),
        # A judged attempt changes its own row, not the newest id: count finished ones too.
        select(func.count(SandboxAttempt.finished_at))
        .join(Signup, Signup.id == SandboxAttempt.signup_id)
        .where(in_session)
        .scalar_subquery(),
    )
    return "b" + _etag(session_id, checkin_open, *db.session.execute(select(*columns)).one())


@dataclass(frozen=True)
class UploadSummary:
    """An organization's latest sandbox attempt, as the board and the follow-up show it."""

    uploaded_at: datetime
    status: str
    rows: int
    accepted: int
    rejected: int
    errors: int
    warnings: int
    errors_by_code: dict[str, int] = field(default_factory=dict)

    @property
    def is_judged(self) -> bool:
        """Whether the whole file was judged."""
        return self.status == ATTEMPT_DONE

    @property
    def is_failed(self) -> bool:
        """Whether the judge gave up on the file."""
        return self.status == ATTEMPT_FAILED


def latest_uploads(signup_ids: Iterable[int]) -> dict[int, UploadSummary]:
    """Each signup's latest sandbox attempt, in one query whatever the number of signups.

    Signups that have uploaded nothing are left out (the board says "no upload yet").
    """
    ids = list(signup_ids)
    if not ids:
        return {}
    latest = (
        select(func.max(SandboxAttempt.id))
        .where(SandboxAttempt.signup_id.in_(ids))
        .group_by(SandboxAttempt.signup_id)
    )
    attempts = db.session.scalars(select(SandboxAttempt).where(SandboxAttempt.id.in_(latest)))
    return {
        attempt.signup_id: UploadSummary(
            uploaded_at=attempt.created_at,
            status=attempt.status,
            rows=attempt.rows_read,
            accepted=attempt.rows_accepted,
            rejected=attempt.rows_rejected,
            errors=attempt.error_count,
            warnings=attempt.warning_count,
            errors_by_code={
                code: count
                for code, count in sorted(
                    (attempt.counts_by_code or {}).items(), key=lambda item: (-item[1], item[0])
                )
                if code in CODES and CODES[code].severity == ERROR
            },
        )
        for attempt in attempts
    }


@dataclass(frozen=True)
class BoardRow:
    """One organization on the facilitator's board."""

    signup: Signup
    attendance: LiveAttendance | None
    upload: UploadSummary | None

    @property
    def needs_help(self) -> bool:
        """Whether the organization asked for help and nobody has cleared it."""
        return self.attendance is not None and self.attendance.needs_help

    @property
    def staff_sandbox_path(self) -> str:
        """The organization's sandbox, as staff open it."""
        return url_for("sandbox.staff_sandbox", signup_id=self.signup.id)


def board(session: TrainingSession) -> list[BoardRow]:
    """Every organization in the session with its check-in, signals and latest upload."""
    signups = roster(session)
    rows = attendances(session)
    uploads = latest_uploads(signup.id for signup in signups)
    return [BoardRow(signup, rows.get(signup.id), uploads.get(signup.id)) for signup in signups]


def participant_attendance(signup: Signup) -> LiveAttendance | None:
    """The signup's row in its session's live state, if it has one yet."""
    if signup.session_id is None:
        return None
    return db.session.scalars(
        select(LiveAttendance).where(
            LiveAttendance.session_id == signup.session_id,
            LiveAttendance.signup_id == signup.id,
        )
    ).first()


def sandbox_path(token: str) -> str:
    """The organization's own sandbox page, from its manage ``token``."""
    return url_for("sandbox.home", token=token)
