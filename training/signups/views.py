"""Staff pages for all signups: search, possible duplicates, exports."""

from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from training.audit.services import record_export
from training.booking.models import Signup
from training.booking.services import BookingError
from training.database import writes_after_reading
from training.extensions import db, utcnow
from training.signups import exports, services
from training.signups.forms import DismissDuplicateForm, MergeDuplicateForm, SignupSearchForm
from training.staff.auth import role_required
from training.staff.models import ROLE_ADMIN, ROLE_STAFF
from training.submissions.guard import commit_and_redirect, once_per_submission

bp = Blueprint("signups", __name__, url_prefix="/staff")

ROSTER_ENDPOINT = "rosters.roster"


@bp.app_template_global()
def roster_url(session_id: int) -> str | None:
    """The session's roster page, once the rosters blueprint serves one."""
    if ROSTER_ENDPOINT not in current_app.view_functions:
        return None
    return url_for(ROSTER_ENDPOINT, session_id=session_id)


@bp.get("/signups")
@role_required(ROLE_ADMIN, ROLE_STAFF)
def index():
    form = SignupSearchForm(request.args)
    if not form.validate():
        return render_template("signups/index.html", form=form, results=None), 400
    results = services.search_signups(
        form.q.data or "", form.status.data or None, page=form.page.data or 1
    )
    return render_template("signups/index.html", form=form, results=results)


@bp.get("/signups.<any(csv, xlsx):extension>")
@writes_after_reading
@role_required(ROLE_ADMIN, ROLE_STAFF)
def export(extension: str):
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])
    header, rows = services.signup_export(zone)
    record_export("signups", actor=current_user, rows=len(rows), format=extension)
    db.session.commit()
    if extension == "csv":
        body, mimetype = exports.csv_bytes(header, rows), exports.CSV_MIMETYPE
    else:
        body, mimetype = exports.xlsx_bytes(header, rows, title="Signups"), exports.XLSX_MIMETYPE
    filename = f"signups-{utcnow().astimezone(zone):%Y-%m-%d}.{extension}"
    return Response(
        body,
        mimetype=mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


@bp.get("/duplicates")
@role_required(ROLE_ADMIN, ROLE_STAFF)
def duplicates():
    pairs = services.possible_duplicates()
    rows = [(pair, *_pair_forms(pair.first, pair.second, formdata=None)) for pair in pairs]
    return render_template("signups/duplicates.html", rows=rows)


@bp.post("/duplicates/<id:first_id>/<id:second_id>/dismiss")
@role_required(ROLE_ADMIN, ROLE_STAFF)
@once_per_submission
def dismiss_duplicate(first_id: int, second_id: int):
    first, second = db.get_or_404(Signup, first_id), db.get_or_404(Signup, second_id)
    form = _pair_forms(first, second)[0]
    if not form.validate_on_submit():
        flash(form.note.errors[0] if form.note.errors else "Please try again.", "error")
        return redirect(url_for("signups.duplicates"), code=303)
    try:
        services.dismiss_duplicate(
            first, second, note=form.note.data or "", now=utcnow(), actor=current_user
        )
    except BookingError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        flash(
            f"Marked {first.organization_name} and {second.organization_name} "
            "as different organizations.",
            "success",
        )
        return commit_and_redirect(url_for("signups.duplicates"))
    return redirect(url_for("signups.duplicates"), code=303)


@bp.post("/duplicates/<id:first_id>/<id:second_id>/merge")
@role_required(ROLE_ADMIN, ROLE_STAFF)
@once_per_submission
def merge_duplicate(first_id: int, second_id: int):
    first, second = db.get_or_404(Signup, first_id), db.get_or_404(Signup, second_id)
    form = _pair_forms(first, second)[1]
    if not form.validate_on_submit():
        flash("Choose which signup stays.", "error")
        return redirect(url_for("signups.duplicates"), code=303)
    keep, drop = (first, second) if form.keep.data == "first" else (second, first)
    try:
        services.merge_duplicates(keep, drop, now=utcnow(), actor=current_user)
    except BookingError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        flash(
            f"Kept {keep.organization_name}'s signup and cancelled {drop.organization_name}'s "
            "(its contacts were emailed).",
            "success",
        )
        return commit_and_redirect(url_for("signups.duplicates"))
    return redirect(url_for("signups.duplicates"), code=303)


def _pair_forms(first: Signup, second: Signup, **kwargs):
    """The dismiss and merge forms of one pair, prefixed so each pair's fields stay unique."""
    prefix = f"pair-{first.id}-{second.id}"
    dismiss = DismissDuplicateForm(prefix=f"{prefix}-dismiss", **kwargs)
    merge = MergeDuplicateForm(prefix=f"{prefix}-merge", **kwargs)
    merge.name_choices(
        f"Keep {first.organization_name} (signup {first.id}, the earlier)",
        f"Keep {second.organization_name} (signup {second.id})",
    )
    return dismiss, merge
