"""The challenges: an organization's own entries, and staff's progress, exports and drawings."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from training.audit.services import record_export
from training.booking.models import Program
from training.booking.services import current_program
from training.booking.views import signup_or_404
from training.challenges import services
from training.challenges.eligibility import ACCME, CMA
from training.challenges.forms import ActionForm, DrawingForm, EntryForm, StaffEntryForm
from training.challenges.models import ChallengeDrawing, ChallengeEntry
from training.database import writes_after_reading
from training.extensions import db, utcnow
from training.signups.exports import CSV_MIMETYPE, csv_bytes
from training.staff.auth import role_required
from training.staff.models import ROLE_ADMIN, ROLE_STAFF
from training.submissions.guard import commit_and_redirect, once_per_submission

bp = Blueprint("challenges", __name__)

STAFF_ROLES = (ROLE_ADMIN, ROLE_STAFF)


@bp.route("/manage/<token>/challenges", methods=["GET", "POST"])
@once_per_submission
def organization(token: str):
    signup = signup_or_404(token)
    form = EntryForm()
    if form.validate_on_submit():
        try:
            services.record_entry(
                signup,
                form.activity_id.data,
                form.entered_on.data,
                form.learners.data,
                now=utcnow(),
            )
        except services.ChallengeError as error:
            form.entered_on.errors.append(str(error))
        else:
            flash(f"Recorded activity {form.activity_id.data}.", "success")
            return commit_and_redirect(url_for("challenges.organization", token=token))
    entries = _entries_of(signup.id)
    return render_template(
        "challenges/organization.html",
        signup=signup,
        token=token,
        form=form,
        remove_form=ActionForm(),
        row=services.organization_progress(signup, entries),
    )


@bp.post("/manage/<token>/challenges/<id:entry_id>/remove")
@once_per_submission
def remove_own_entry(token: str, entry_id: int):
    signup = signup_or_404(token)
    entry = db.session.get(ChallengeEntry, entry_id)
    if entry is None or entry.signup_id != signup.id or not ActionForm().validate_on_submit():
        flash("That entry is no longer there.", "error")
    else:
        try:
            services.remove_entry(entry)
        except services.ChallengeError as error:
            flash(str(error), "error")
        else:
            flash(f"Removed activity {entry.activity_id}.", "success")
            return commit_and_redirect(url_for("challenges.organization", token=token))
    return redirect(url_for("challenges.organization", token=token), code=303)


@bp.route("/staff/challenges", methods=["GET", "POST"])
@role_required(*STAFF_ROLES)
@once_per_submission
def progress():
    program = _current_program()
    rows = services.program_progress(program)
    form = StaffEntryForm()
    form.set_organizations(row.signup for row in rows)
    if form.validate_on_submit():
        signup = next(row.signup for row in rows if row.signup.id == form.signup_id.data)
        try:
            services.record_entry(
                signup,
                form.activity_id.data,
                form.entered_on.data,
                form.learners.data,
                now=utcnow(),
                actor=current_user,
            )
        except services.ChallengeError as error:
            form.entered_on.errors.append(str(error))
        else:
            flash(
                f"Recorded activity {form.activity_id.data} for {signup.organization_name}.",
                "success",
            )
            return commit_and_redirect(url_for("challenges.progress"))
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
        form=form,
        action_form=ActionForm(),
        drawing_form=DrawingForm(),
        drawings=[(d, services.check_drawing(d)) for d in drawings],
        names=names,
        challenges=(ACCME, CMA),
    )


@bp.post("/staff/challenges/entries/<id:entry_id>/verify")
@role_required(*STAFF_ROLES)
@once_per_submission
def verify(entry_id: int):
    entry = db.get_or_404(ChallengeEntry, entry_id)
    if ActionForm().validate_on_submit():
        services.verify_entry(entry, actor=current_user)
        flash(
            f"Verified activity {entry.activity_id} for {entry.signup.organization_name}.",
            "success",
        )
        return commit_and_redirect(url_for("challenges.progress"))
    return redirect(url_for("challenges.progress"), code=303)


@bp.post("/staff/challenges/entries/<id:entry_id>/remove")
@role_required(*STAFF_ROLES)
@once_per_submission
def remove(entry_id: int):
    entry = db.get_or_404(ChallengeEntry, entry_id)
    if ActionForm().validate_on_submit():
        services.remove_entry(entry, actor=current_user)
        flash(f"Removed activity {entry.activity_id}.", "success")
        return commit_and_redirect(url_for("challenges.progress"))
    return redirect(url_for("challenges.progress"), code=303)


@bp.post("/staff/challenges/drawing")
@role_required(*STAFF_ROLES)
@once_per_submission
def drawing():
    program = _current_program()
    form = DrawingForm()
    if not form.validate_on_submit():
        flash("Choose a challenge and a number of winners from 1 to 100.", "error")
        return redirect(url_for("challenges.progress"), code=303)
    try:
        result = services.run_drawing(
            program, form.challenge.data, form.winners.data, actor=current_user
        )
    except services.ChallengeError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("challenges.progress") + "#drawings", code=303)
    flash(
        f"Drawing done: {len(result.winner_signup_ids)} winner(s), seed {result.seed}.",
        "success",
    )
    return commit_and_redirect(url_for("challenges.progress") + "#drawings")


@bp.get("/staff/challenges.csv")
@writes_after_reading
@role_required(*STAFF_ROLES)
def export():
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
    record_export("challenge_progress", actor=current_user, rows=len(rows), program=program)
    db.session.commit()
    return current_app.response_class(
        csv_bytes(header, rows),
        mimetype=CSV_MIMETYPE,
        headers={"Content-Disposition": 'attachment; filename="challenge-progress.csv"'},
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
