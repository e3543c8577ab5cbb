"""Staff pages for all signups: search, possible duplicates, exports."""

from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from training import spreadsheets
from training.audit.services import record_export
from training.booking.display import possessive
from training.booking.models import Signup
from training.database import writes_after_reading
from training.edge import carry_out
from training.extensions import db, utcnow
from training.paging import query_page
from training.signups import services
from training.signups.forms import (
    DismissDuplicateForm,
    MergeDuplicateForm,
    SignupSearchForm,
    UndoMergeForm,
)
from training.signups.models import DuplicateReview
from training.staff.auth import MANAGERS, role_required
from training.submissions.guard import once_per_submission

bp = Blueprint("signups", __name__, url_prefix="/staff")

ROSTER_ENDPOINT = "rosters.roster"


@bp.app_template_global()
def roster_url(session_id: int) -> str | None:
    """The session's roster page, once the rosters blueprint serves one."""
    if ROSTER_ENDPOINT not in current_app.view_functions:
        return None
    return url_for(ROSTER_ENDPOINT, session_id=session_id)


@bp.get("/signups")
@role_required(*MANAGERS)
def index():
    """Search all signups by organization, contact or attendee, and by status."""
    form = SignupSearchForm(request.args)
    if not form.validate():
        return render_template("signups/index.html", form=form, results=None), 400
    now = utcnow()
    results = services.search_signups(
        form.q.data or "", form.status.data or None, page=form.page.data or 1, now=now
    )
    return render_template("signups/index.html", form=form, results=results, now=now)


@bp.get("/signups.<any(csv, xlsx):extension>")
@writes_after_reading
@role_required(*MANAGERS)
def export(extension: str):
    """All signups as CSV or XLSX (audited)."""
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])
    now = utcnow()
    header, rows = services.signup_export(zone, now)
    if extension == "csv":
        body, mimetype = spreadsheets.csv_bytes(header, rows), spreadsheets.CSV_MIMETYPE
    else:
        body = spreadsheets.xlsx_bytes(header, rows, title="Signups")
        mimetype = spreadsheets.XLSX_MIMETYPE
    filename = f"signups-{now.astimezone(zone):%Y-%m-%d}.{extension}"
    return carry_out(
        lambda: record_export("signups", actor=current_user, rows=len(rows), format=extension),
        respond=lambda _: spreadsheets.attachment(
            body, filename=filename, mimetype=mimetype, personal=True
        ),
    )


@bp.get("/duplicates")
@role_required(*MANAGERS)
def duplicates():
    """Pairs of signups that may be one organization, to dismiss or merge; recent merges, to
    undo."""
    pairs = services.possible_duplicates(page=query_page())
    rows = [(pair, *_pair_forms(pair.first, pair.second, formdata=None)) for pair in pairs.items]
    merges = services.recent_merges(utcnow())
    return render_template(
        "signups/duplicates.html",
        pairs=pairs,
        rows=rows,
        merges=merges,
        undo_form=UndoMergeForm(),
    )


@bp.post("/duplicates/<id:first_id>/<id:second_id>/dismiss")
@role_required(*MANAGERS)
@once_per_submission
def dismiss_duplicate(first_id: int, second_id: int):
    """Record that two signups are different organizations."""
    first, second = db.get_or_404(Signup, first_id), db.get_or_404(Signup, second_id)
    form = _pair_forms(first, second)[0]
    if not form.validate_on_submit():
        flash(form.note.errors[0] if form.note.errors else "Please try again.", "error")
        return redirect(_duplicates_page_url(), code=303)
    return carry_out(
        lambda: services.dismiss_duplicate(
            first, second, note=form.note.data or "", now=utcnow(), actor=current_user
        ),
        done=f"Marked {first.organization_name} and {second.organization_name} "
        "as different organizations.",
        redirect_to=_duplicates_page_url(),
    )


@bp.get("/duplicates/<id:first_id>/<id:second_id>/merge")
@role_required(*MANAGERS)
def confirm_merge(first_id: int, second_id: int):
    """Both organizations side by side and what a merge would do, before anything changes."""
    first, second = db.get_or_404(Signup, first_id), db.get_or_404(Signup, second_id)
    form = _pair_forms(first, second, formdata=request.args)[1]
    listing = _duplicates_page_url()
    if not form.validate():
        flash("Choose which signup stays.", "error")
        return redirect(listing, code=303)
    keep, drop = (first, second) if form.keep.data == "first" else (second, first)
    try:
        preview = services.merge_preview(keep, drop)
    except services.DuplicateReviewError as error:
        flash(str(error), "error")
        return redirect(listing, code=303)
    return render_template(
        "signups/merge_confirm.html",
        first=first,
        second=second,
        keep=keep,
        drop=drop,
        preview=preview,
        form=form,
        listing=listing,
        pairs_page=query_page() if query_page() > 1 else None,
        # The form read from the address carries no CSRF token; the one posted from here does.
        post_form=_pair_forms(first, second, formdata=None)[1],
    )


@bp.post("/duplicates/<id:first_id>/<id:second_id>/merge")
@role_required(*MANAGERS)
@once_per_submission
def merge_duplicate(first_id: int, second_id: int):
    """Keep one signup of a pair and cancel the other, moving its attendees."""
    first, second = db.get_or_404(Signup, first_id), db.get_or_404(Signup, second_id)
    form = _pair_forms(first, second)[1]
    if not form.validate_on_submit():
        flash("Choose which signup stays.", "error")
        return redirect(_duplicates_page_url(), code=303)
    keep, drop = (first, second) if form.keep.data == "first" else (second, first)
    return carry_out(
        lambda: services.merge_duplicates(keep, drop, now=utcnow(), actor=current_user),
        done=f"Kept {possessive(keep.organization_name)} signup and cancelled "
        f"{possessive(drop.organization_name)} (its contacts were emailed). Recent merges, below, "
        "can be undone.",
        redirect_to=_duplicates_page_url(),
    )


@bp.post("/duplicates/merges/<id:review_id>/undo")
@role_required(*MANAGERS)
@once_per_submission
def undo_merge(review_id: int):
    """Give a merged-away signup its place back and list the pair for review again."""
    review = db.get_or_404(DuplicateReview, review_id)
    if not UndoMergeForm().validate_on_submit():
        flash("Please try again.", "error")
        return redirect(_duplicates_page_url(), code=303)
    return carry_out(
        lambda: services.undo_merge(review, now=utcnow(), actor=current_user),
        done=lambda signup: (
            f"Merge undone: {signup.organization_name} has its place back "
            "(its contacts were emailed a new confirmation)."
        ),
        redirect_to=_duplicates_page_url(),
    )


def _duplicates_page_url() -> str:
    """The possible duplicates page a decision was taken from (its ``?page=``), to go back to."""
    return url_for("signups.duplicates", page=query_page() if query_page() > 1 else None)


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
