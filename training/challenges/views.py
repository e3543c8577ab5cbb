"""The challenges: an organization's own entries, and staff's progress, exports and drawings."""

from flask import Blueprint, Flask, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from training.audit.services import record_export
from training.booking.display import counted, sentence
from training.booking.links import label_sent_fields, signup_or_404
from training.booking.models import Program
from training.booking.services import current_program
from training.challenges import services
from training.challenges.eligibility import ACCME, ACCME_ACTIVITIES, CMA, CMA_ACTIVITIES
from training.challenges.forms import ActionForm, DrawingForm, EntryForm, StaffEntryForm
from training.challenges.models import ChallengeDrawing, ChallengeEntry
from training.database import writes_after_reading
from training.edge import carry_out, shown_under
from training.extensions import db, utcnow
from training.spreadsheets import CSV_MIMETYPE, attachment, csv_bytes
from training.staff.auth import MANAGERS, role_required
from training.submissions.guard import once_per_submission

bp = Blueprint("challenges", __name__)
bp.add_app_template_filter(services.short_date, "short_date")


def init_app(app: Flask) -> None:
    """Name the entry form's fields when what was sent to a replaced manage link is given
    back."""
    label_sent_fields(bp.name, EntryForm, ActionForm)


@bp.app_template_global()
def challenge_rules(program: Program) -> list[dict]:
    """Each challenge as the pages and emails announce it: ``name``, ``needed`` (distinct
    activities with learners entered in PARS) and ``due`` (a date in the program's zone)."""
    return [
        {"name": services.CHALLENGE_NAMES[challenge], "needed": needed, "due": due}
        for challenge, needed, due in (
            (ACCME, ACCME_ACTIVITIES, program.accme_challenge_due_on),
            (CMA, CMA_ACTIVITIES, program.cma_challenge_due_on),
        )
    ]


@bp.route("/manage/<token>/challenges", methods=["GET", "POST"])
@once_per_submission
def organization(token: str):
    """An organization's challenge page: its entries and progress, and a form to record one."""
    signup = signup_or_404(token)
    form = EntryForm()

    def page():
        entries = _entries_of(signup.id)
        return render_template(
            "challenges/organization.html",
            signup=signup,
            token=token,
            form=form,
            remove_form=ActionForm(),
            row=services.organization_progress(signup, entries),
            dates=services.challenge_dates(signup.program),
        )

    if not form.validate_on_submit():
        return page()
    return carry_out(
        lambda: services.record_entry(
            signup,
            form.activity_id.data,
            form.entered_on.data,
            form.learners.data,
            now=utcnow(),
        ),
        done=f"Recorded activity {form.activity_id.data}.",
        redirect_to=url_for("challenges.organization", token=token),
        refused=shown_under(form.entered_on, page),
    )


@bp.post("/manage/<token>/challenges/<id:entry_id>/remove")
@once_per_submission
def remove_own_entry(token: str, entry_id: int):
    """Remove an entry the organization recorded by mistake (not once verified)."""
    signup = signup_or_404(token)
    entry = db.session.get(ChallengeEntry, entry_id)
    back = url_for("challenges.organization", token=token)
    if entry is None or entry.signup_id != signup.id or not ActionForm().validate_on_submit():
        flash("That entry is no longer there.", "error")
        return redirect(back, code=303)
    activity_id = entry.activity_id
    return carry_out(
        lambda: services.remove_entry(entry),
        done=f"Removed activity {activity_id}.",
        redirect_to=back,
    )


@bp.route("/staff/challenges", methods=["GET", "POST"])
@role_required(*MANAGERS)
@once_per_submission
def progress():
    """Every organization's progress for staff, with a form to record entries, and drawings."""
    program = _current_program()
    rows = services.program_progress(program)
    form = StaffEntryForm()
    form.set_organizations(row.signup for row in rows)

    def page():
        drawings = db.session.scalars(
            select(ChallengeDrawing)
            .where(ChallengeDrawing.program_id == program.id)
            .order_by(ChallengeDrawing.id.desc())
        ).all()
        names = {row.signup.id: row.signup.organization_name for row in rows}
        return render_template(
            "challenges/progress.html",
            program=program,
            rows=rows,
            dates=services.challenge_dates(program),
            form=form,
            action_form=ActionForm(),
            drawing_form=DrawingForm(),
            drawings=[(d, services.check_drawing(d)) for d in drawings],
            standing={services.official_drawing(program, challenge) for challenge in (ACCME, CMA)},
            names=names,
            challenges=(ACCME, CMA),
        )

    if not form.validate_on_submit():
        return page()
    signup = next(row.signup for row in rows if row.signup.id == form.signup_id.data)
    organization = signup.organization_name
    return carry_out(
        lambda: services.record_entry(
            signup,
            form.activity_id.data,
            form.entered_on.data,
            form.learners.data,
            now=utcnow(),
            actor=current_user,
        ),
        done=sentence(f"Recorded activity {form.activity_id.data} for {organization}"),
        redirect_to=url_for("challenges.progress"),
        refused=shown_under(form.entered_on, page),
    )


@bp.post("/staff/challenges/entries/<id:entry_id>/verify")
@role_required(*MANAGERS)
@once_per_submission
def verify(entry_id: int):
    """Mark an entry verified."""
    return _entry_action(
        entry_id,
        lambda entry: services.verify_entry(entry, actor=current_user),
        lambda entry: sentence(
            f"Verified activity {entry.activity_id} for {entry.signup.organization_name}"
        ),
    )


@bp.post("/staff/challenges/entries/<id:entry_id>/remove")
@role_required(*MANAGERS)
@once_per_submission
def remove(entry_id: int):
    """Remove an entry (staff may remove verified ones)."""
    return _entry_action(
        entry_id,
        lambda entry: services.remove_entry(entry, actor=current_user),
        lambda entry: f"Removed activity {entry.activity_id}.",
    )


def _entry_action(entry_id: int, change, said):
    """A staff button on an entry: ``change(entry)`` carried out, ``said(entry)`` flashed;
    back to the progress page."""
    entry = db.get_or_404(ChallengeEntry, entry_id)
    back = url_for("challenges.progress")
    if not ActionForm().validate_on_submit():
        return redirect(back, code=303)
    message = said(entry)  # read before the change: a removed entry is gone after it
    return carry_out(lambda: change(entry), done=message, redirect_to=back)


@bp.post("/staff/challenges/drawing")
@role_required(*MANAGERS)
@once_per_submission
def drawing():
    """Draw winners among the organizations that met a challenge on verified entries."""
    program = _current_program()
    form = DrawingForm()
    if not form.validate_on_submit():
        flash("Choose a challenge and a number of winners from 1 to 100.", "error")
        return redirect(url_for("challenges.progress"), code=303)

    def refused(error: services.ChallengeError):
        # A challenge already drawn: back to the drawing that stands.
        anchor = (
            f"#drawing-{error.drawing.id}"
            if isinstance(error, services.AlreadyDrawn)
            else "#drawings"
        )
        flash(str(error), "error")
        return redirect(url_for("challenges.progress") + anchor, code=303)

    return carry_out(
        lambda: services.run_drawing(
            program,
            form.challenge.data,
            form.winners.data,
            actor=current_user,
            redraw_reason=form.redraw_reason.data,
        ),
        done=lambda drawn: (
            f"Drawing done: {counted(len(drawn.winner_signup_ids), 'winner')}, seed {drawn.seed}."
        ),
        redirect_to=url_for("challenges.progress") + "#drawings",
        refused=refused,
    )


@bp.get("/staff/challenges.csv")
@writes_after_reading
@role_required(*MANAGERS)
def export():
    """Every organization's progress as CSV (audited)."""
    program = _current_program()
    header = [
        "organization", "provider_id", "contact_email", "activities_by_accme_deadline",
        "accme_met", "activities_by_cma_deadline", "cma_met", "verified_accme_met",
        "verified_cma_met",
    ]  # fmt: skip
    rows = [
        [
            row.signup.organization_name,
            row.signup.provider_id,
            row.signup.contact_email,
            row.recorded.accme_activities,
            "yes" if row.recorded.accme_met else "no",
            row.recorded.cma_activities,
            "yes" if row.recorded.cma_met else "no",
            "yes" if row.verified.accme_met else "no",
            "yes" if row.verified.cma_met else "no",
        ]
        for row in services.program_progress(program)
    ]
    return carry_out(
        lambda: record_export(
            "challenge_progress", actor=current_user, rows=len(rows), program=program
        ),
        respond=lambda _: attachment(
            csv_bytes(header, rows),
            filename="challenge-progress.csv",
            mimetype=CSV_MIMETYPE,
            personal=True,
        ),
    )


def _entries_of(signup_id: int) -> list[ChallengeEntry]:
    return list(
        db.session.scalars(
            select(ChallengeEntry)
            .where(ChallengeEntry.signup_id == signup_id)
            .order_by(ChallengeEntry.entered_on, ChallengeEntry.id)
        )
    )


def _current_program() -> Program:
    program = current_program()
    if program is None:
        abort(404)
    return program
