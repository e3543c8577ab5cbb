"""The practice upload sandbox: an organization's own pages from its manage link, and staff's
read-only view of any organization's sandbox."""

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from training.audit.services import record_export
from training.body_limits import takes_upload
from training.booking.display import counted, possessive
from training.booking.links import label_sent_fields, signup_or_404
from training.booking.models import Signup
from training.database import writes_after_reading
from training.drawn import mark_drawn, redrawn_when_changed, require_unchanged
from training.edge import carry_out, shown_under
from training.errors import render_error
from training.extensions import db, utcnow
from training.paging import query_page
from training.sandbox import attempts, downloads, mapping, rules, services, tasks
from training.sandbox.columns import ColumnMap
from training.sandbox.forms import (
    ActionForm,
    ActivityForm,
    ColumnMappingForm,
    DeleteAllForm,
    FindingsFilterForm,
    ParsStatesForm,
    RemoveActivityForm,
    UploadForm,
)
from training.sandbox.models import SandboxActivity, SandboxAttempt
from training.sandbox.readers import human_size
from training.spreadsheets import (
    CSV_MIMETYPE,
    PLAIN_TEXT_MIMETYPE,
    TAB_SEPARATED_MIMETYPE,
    XLSX_MIMETYPE,
    attachment,
    file_stem,
    named_attachment,
)
from training.staff.auth import EVERY_ROLE, MANAGERS, role_required
from training.submissions.guard import entered_values, once_per_submission
from training.workers.services import SANDBOX_WORKER, WorkerSeen, stalled_worker

bp = Blueprint("sandbox", __name__)


@bp.context_processor
def owner_words() -> dict[str, Callable[..., str]]:
    """How the sandbox's pages, and the partials they share, name the organization: "your" and
    "you" on its own pages (reached from its manage link), its name to staff."""
    own = "token" in (request.view_args or {})

    def your(signup: Signup, *, capital: bool = False) -> str:
        if own:
            return "Your" if capital else "your"
        return possessive(signup.organization_name)

    def you(signup: Signup) -> str:
        return "you" if own else signup.organization_name

    return {"your": your, "you": you}


def init_app(_app: Flask) -> None:
    """Name the sandbox's fields when what was sent to a replaced manage link is given back."""
    label_sent_fields(bp.name, ActivityForm, UploadForm, DeleteAllForm, ColumnMappingForm)


def _max_bytes() -> int:
    return int(current_app.config["SANDBOX_MAX_UPLOAD_BYTES"])


def _max_request_bytes() -> int:
    """The longest upload request read: the file limit plus room for the rest of its form."""
    return _max_bytes() + int(current_app.config["SANDBOX_REQUEST_OVERHEAD_BYTES"])


def _upload_too_large():
    """The 413 page for an upload far above the limit, naming the limit."""
    message = rules.CODES["FILE_TOO_LARGE"].message.format(limit=human_size(_max_bytes()))
    token = (request.view_args or {}).get("token")
    back = (url_for("sandbox.home", token=token), "Back to your sandbox") if token else None
    return render_error(413, "That file is too large", message, back=back)


def _today(signup: Signup) -> date:
    return signup.program.today(utcnow())


def _inline_limits() -> dict:
    config = current_app.config
    return {
        "inline_max_bytes": int(config["SANDBOX_INLINE_MAX_BYTES"]),
        "inline_max_rows": int(config["SANDBOX_INLINE_MAX_ROWS"]),
        "lease_seconds": float(config["SANDBOX_LEASE_SECONDS"]),
    }


# --- The organization's sandbox ----------------------------------------------------------------


@bp.get("/manage/<token>/sandbox")
def home(token: str):
    """The organization's sandbox: its activities, the downloads, its uploads and their results."""
    signup = signup_or_404(token)
    return _render_home(signup, token)


def _render_home(signup: Signup, token: str, *, upload_form: UploadForm | None = None, status=200):
    return (
        render_template(
            "sandbox/home.html",
            signup=signup,
            token=token,
            activities=services.activities_of(signup),
            record_counts=services.record_counts(signup),
            attempts=(attempts := services.attempts_of(signup)),
            stalled=services.stalled_uploads(attempts, utcnow()),
            now=utcnow(),
            upload_form=upload_form or UploadForm(max_bytes=_max_bytes()),
            action_form=ActionForm(),
            max_size=human_size(_max_bytes()),
            retention_days=current_app.config["SANDBOX_RETENTION_DAYS"],
        ),
        status,
    )


@bp.route("/manage/<token>/sandbox/activities/new", methods=["GET", "POST"])
@once_per_submission
def add_activity(token: str):
    """Add a practice activity."""
    signup = signup_or_404(token)
    form = ActivityForm()

    def page():
        page = render_template("sandbox/activity_form.html", signup=signup, token=token, form=form)
        return page, 422 if form.errors else 200

    if not form.validate_on_submit():
        return page()
    return carry_out(
        lambda: services.add_activity(signup, form.details()),
        done=lambda activity: f"Added activity {activity.activity_id}.",
        redirect_to=url_for("sandbox.home", token=token) + "#activities",
        refused=shown_under(form.activity_id, page),
    )


@bp.post("/manage/<token>/sandbox/activities/example")
@once_per_submission
def add_example_activity(token: str):
    """Add the shipped example activity, its dates around today."""
    signup = signup_or_404(token)
    back = url_for("sandbox.home", token=token) + "#activities"
    if not ActionForm().validate_on_submit():
        return redirect(back, code=303)
    return carry_out(
        lambda: services.add_example_activity(signup, _today(signup)),
        done=lambda activity: f"Added the example activity {activity.activity_id}.",
        redirect_to=back,
    )


@bp.route("/manage/<token>/sandbox/activities/<id:activity_pk>/remove", methods=["GET", "POST"])
@once_per_submission
def remove_activity(token: str, activity_pk: int):
    """Remove a practice activity and its sandbox records: asked first (a ticked box, as the
    sandbox data's deletion is) when it has records."""
    signup = signup_or_404(token)
    activity = db.session.get(SandboxActivity, activity_pk)
    back = url_for("sandbox.home", token=token) + "#activities"
    if activity is None or activity.signup_id != signup.id:
        flash("That activity is no longer in your sandbox.", "error")
        return redirect(back, code=303)
    records = services.held_records(activity)
    form = RemoveActivityForm(records=records)
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            flash("That activity is no longer in your sandbox.", "error")
            return redirect(back, code=303)
        # The list's button, or the address opened: asked for the first time, so no error.
        asked = request.method == "POST" and form.asked.data
        if not asked:
            form.confirm.errors = []
        page = render_template(
            "sandbox/remove_activity.html",
            signup=signup,
            token=token,
            activity=activity,
            records=records,
            form=form,
        )
        return page, 422 if asked else 200
    activity_id = activity.activity_id
    return carry_out(
        lambda: services.remove_activity(activity),
        done=lambda removed: (
            f"Removed activity {activity_id} and its {counted(removed, 'sandbox record')}."
            if removed
            else f"Removed activity {activity_id}; it had no sandbox records."
        ),
        redirect_to=back,
    )


@bp.get("/manage/<token>/sandbox/learner-template.<any(xlsx, csv, txt):kind>")
def template(token: str, kind: str):
    """The learner template as XLSX, CSV or tab-delimited text."""
    signup_or_404(token)
    guidance = request.args.get("guidance") == "1"
    name = "learner-template"
    if kind == "xlsx":  # the workbook always has its guidance line
        body, mimetype = downloads.template_xlsx(), XLSX_MIMETYPE
    else:
        delimiter, mimetype = (
            (",", CSV_MIMETYPE) if kind == "csv" else ("\t", TAB_SEPARATED_MIMETYPE)
        )
        body = downloads.template_text(delimiter, guidance=guidance)
        if guidance:  # a file of its own, never saved over the plain template
            name = "learner-template-with-guidance"
    return attachment(body, filename=f"{name}.{kind}", mimetype=mimetype, personal=False)


def _practice_rows(signup: Signup) -> list[downloads.PracticeRow]:
    activities = services.activities_of(signup)
    today = _today(signup)
    activity = (
        services.judge_activity(activities[0])
        if activities
        else services.judge_example_activity(today)
    )
    return downloads.practice_rows(
        activity, services.read_register_entries(), today, services.pars_states().states
    )


@bp.get("/manage/<token>/sandbox/practice-file.<any(xlsx, csv):kind>")
def practice_file(token: str, kind: str):
    """A file of fictional learners with the typical mistakes, to upload for practice."""
    signup = signup_or_404(token)
    rows = downloads.practice_file_rows(_practice_rows(signup))
    return _rows_file(rows, kind, "practice-learners")


@bp.get("/manage/<token>/sandbox/practice-corrections.<any(xlsx, csv):kind>")
def practice_corrections(token: str, kind: str):
    """The practice file with every mistake corrected."""
    signup = signup_or_404(token)
    rows = downloads.corrected_file_rows(_practice_rows(signup))
    return _rows_file(rows, kind, "practice-corrections")


def _rows_file(rows, kind: str, name: str):
    """A practice file of fictional learners, in the template's layout."""
    if kind == "xlsx":
        body, mimetype = downloads.template_xlsx(rows), XLSX_MIMETYPE
    else:
        body, mimetype = downloads.template_text(",", rows=rows), CSV_MIMETYPE
    return attachment(body, filename=f"{name}.{kind}", mimetype=mimetype, personal=False)


@bp.post("/manage/<token>/sandbox/uploads")
@takes_upload(_max_request_bytes, _upload_too_large)
@once_per_submission
def upload(token: str):
    """Take a learner file: judged at once when small, else by the worker."""
    signup = signup_or_404(token)
    form = UploadForm(max_bytes=_max_bytes())
    if not form.validate_on_submit():
        return _render_home(signup, token, upload_form=form, status=422)
    upload = form.learner_file.data
    mode = form.mode.data if form.mode.data in rules.MODES else rules.MODE_FULL
    # Committed before judging, so a file the judge chokes on is still recorded as failed.
    return carry_out(
        lambda: attempts.start_attempt(
            signup,
            upload.filename or "upload",
            upload.stream,
            form.file_size(),
            mode=mode,
            **_inline_limits(),
        ),
        redirect_to=lambda started: url_for(
            "sandbox.attempt", token=token, attempt_id=started[0].id
        ),
        after=lambda started: _judge_now(*started, upload.stream),
    )


def _judge_now(attempt: SandboxAttempt, inline: bool, stream) -> None:
    """Judge a small upload while its person waits (after its attempt is committed)."""
    if inline:
        tasks.judge_in_request(attempt, stream)


def _attempt_or_404(signup: Signup, attempt_id: int) -> SandboxAttempt:
    attempt = services.attempt_of(signup, attempt_id)
    if attempt is None:
        # Said on the page and to its polling, with the way back to the sandbox: an upload
        # still being checked in one tab may be deleted with the sandbox data from another.
        # Another organization's upload is not in this sandbox either: the same words.
        # Staff's pages name the organization where its own say "your".
        token = (request.view_args or {}).get("token")
        if token:
            home = (url_for("sandbox.home", token=token), "Back to your sandbox")
            title, message = services.upload_not_held()
        else:
            home = (
                url_for("sandbox.staff_sandbox", signup_id=signup.id),
                "Back to this organization's sandbox",
            )
            title, message = services.upload_not_held(signup.organization_name)
        abort(make_response(render_error(404, title, message, back=home)))
    return attempt


@bp.get("/manage/<token>/sandbox/attempts/<id:attempt_id>")
def attempt(token: str, attempt_id: int):
    """An upload's results: findings, a column mapping to confirm, the PARS-ready file; with
    ``?mapping=``, the mapping as previewed (a draft of this organization's, for this upload)."""
    signup = signup_or_404(token)
    attempt = _attempt_or_404(signup, attempt_id)
    if "mapping" not in request.args:
        return _render_own_attempt(signup, attempt, token)
    entries = services.mapping_draft_entries(signup, attempt, request.args["mapping"])
    if entries is None:
        back = (
            url_for("sandbox.attempt", token=token, attempt_id=attempt.id),
            "Back to this upload's results",
        )
        return render_error(
            404,
            "That preview is not kept",
            "This preview is not one of this upload's, or is no longer kept: choose the columns "
            "and show the preview again.",
            back=back,
        )
    return _render_own_attempt(signup, attempt, token, mapping_entries=MultiDict(entries))


def _render_own_attempt(
    signup: Signup,
    attempt: SandboxAttempt,
    token: str,
    *,
    mapping_form: ColumnMappingForm | None = None,
    mapping_entries: MultiDict | None = None,
    status: int = 200,
):
    columns = None
    # Said where the form would be: the HEADER_MISMATCH finding points "below" to it.
    mapping_problem = None
    if services.can_map_columns(attempt):
        try:
            columns = services.columns_to_map(attempt, today=_today(signup), max_bytes=_max_bytes())
        except services.SandboxError as error:
            mapping_problem = str(error)
    elif services.needs_mapping(attempt):
        mapping_problem = (
            "This upload's file is no longer kept, so its columns cannot be matched here: "
            "upload the file again to match them to the template."
        )
    if columns is not None and mapping_form is None:
        mapping_form = _mapping_form(signup, attempt, columns, formdata=mapping_entries)
    preview = None
    if columns is not None and mapping_form is not None:
        preview = mapping.preview(mapping_form.column_map(), columns.samples, today=_today(signup))
    page = _render_attempt(
        signup,
        attempt,
        page_url=lambda **args: url_for(
            "sandbox.attempt", token=token, attempt_id=attempt.id, **args
        ),
        csv_url=url_for("sandbox.findings_csv", token=token, attempt_id=attempt.id),
        status_url=url_for("sandbox.attempt_status", token=token, attempt_id=attempt.id),
        back_url=url_for("sandbox.home", token=token),
        upload_form=UploadForm(max_bytes=_max_bytes()),
        token=token,
        columns=columns,
        mapping_form=mapping_form,
        mapping_problem=mapping_problem,
        preview=preview,
        pars_ready=services.can_make_pars_file(attempt),
        pars_files=_pars_files_state(signup, attempt),
    )
    return page, status


def _pars_files_state(signup: Signup, attempt: SandboxAttempt) -> services.ParsFilesState | None:
    """How far the worker got with a large upload's PARS-ready files; None when they are made
    in the request (a small upload) or there are none."""
    if _builds_in_request(attempt) or not services.can_make_pars_file(attempt):
        return None
    return services.pars_files_state(attempt, _pars_inputs(signup)[2])


def _mapping_form(signup: Signup, attempt: SandboxAttempt, columns, formdata=None):
    activities = tuple(
        (activity.activity_id, activity.title) for activity in services.activities_of(signup)
    )
    return ColumnMappingForm(
        formdata,
        header=columns.header,
        current=columns.current,
        activities=activities,
        learners_only=attempt.learners_only,
    )


@bp.post("/manage/<token>/sandbox/attempts/<id:attempt_id>/columns")
@once_per_submission
def map_columns(token: str, attempt_id: int):
    """Preview or confirm a column mapping, then judge the file again through it."""
    signup = signup_or_404(token)
    attempt = _attempt_or_404(signup, attempt_id)
    back = url_for("sandbox.attempt", token=token, attempt_id=attempt.id)
    if not services.can_map_columns(attempt):
        flash("This upload's columns can no longer be mapped; upload the file again.", "error")
        return redirect(back, code=303)
    try:
        columns = services.columns_to_map(attempt, today=_today(signup), max_bytes=_max_bytes())
    except services.SandboxError:  # the results page says why, where the mapping would be
        return redirect(back, code=303)
    form = _mapping_form(signup, attempt, columns, formdata=request.form)
    if not form.validate_on_submit():
        return _render_own_attempt(signup, attempt, token, mapping_form=form, status=422)
    if form.preview.data:
        # Kept as a draft and shown by a GET, so Back and Reload show the preview again.
        return carry_out(
            lambda: services.save_mapping_draft(signup, attempt, entered_values(), utcnow()),
            redirect_to=lambda draft: url_for(
                "sandbox.attempt",
                token=token,
                attempt_id=attempt.id,
                mapping=draft.id,
                _anchor="preview",
            ),
        )
    # Committed before judging, so a file the judge chokes on is still recorded as failed.
    return carry_out(
        lambda: attempts.map_columns(attempt, form.column_map(), **_inline_limits()),
        # A fragment of its own: a browser would keep the form's #form-errors on a redirect
        # without one, and open the new results scrolled to nothing.
        redirect_to=lambda mapped: url_for(
            "sandbox.attempt", token=token, attempt_id=mapped[0].id, _anchor="results"
        ),
        after=lambda mapped: _judge_now(*mapped, services.upload_stream(mapped[0])),
        refused=back,
    )


def _builds_in_request(attempt: SandboxAttempt) -> bool:
    config = current_app.config
    return services.builds_in_request(
        attempt,
        max_bytes=int(config["SANDBOX_INLINE_MAX_BYTES"]),
        max_rows=int(config["SANDBOX_INLINE_MAX_ROWS"]),
    )


def _pars_inputs(signup: Signup) -> tuple[dict, date, str]:
    """The activities and day a PARS-ready file is made from now, with their digest."""
    activities = services.pars_activities(signup.id)
    today = _today(signup)
    return activities, today, services.pars_inputs_key(activities, today)


@bp.get("/manage/<token>/sandbox/attempts/<id:attempt_id>/pars-ready.<any(xlsx, txt):kind>")
def pars_ready(token: str, attempt_id: int, kind: str):
    """The accepted rows as a file ready for the real PARS upload: made here for a small upload,
    else the one the worker made (until it has, the results page, which offers to prepare it)."""
    signup = signup_or_404(token)
    attempt = _attempt_or_404(signup, attempt_id)
    back = url_for("sandbox.attempt", token=token, attempt_id=attempt.id) + "#pars-ready"
    if (missing := services.pars_file_missing(attempt, kind)) is not None:
        # An address not linked, opened all the same: say why, and lead back to the results.
        results = (back, "Back to this upload's results")
        return render_error(404, "Nothing to download", missing, back=results)
    activities, today, inputs_key = _pars_inputs(signup)
    if _builds_in_request(attempt):
        try:
            body = services.make_pars_file(
                attempt, kind, activities, today=today, max_bytes=_max_bytes()
            )
        except services.SandboxError as error:
            flash(str(error), "error")
            return redirect(back, code=303)
    else:
        body = services.ready_pars_file(attempt, kind, inputs_key)
        if body is None:
            flash(
                "That PARS-ready file is not ready: it is prepared when you ask for it below, "
                "then the download link appears here.",
                "info",
            )
            return redirect(back, code=303)
    mimetype = XLSX_MIMETYPE if kind == "xlsx" else PLAIN_TEXT_MIMETYPE
    stem = file_stem(attempt.filename.rsplit(".", 1)[0][:80]) or "learners"
    # With no accepted row, the workbook holds only the rejected rows: nothing in it is for PARS.
    suffix = "pars-ready" if attempt.rows_accepted else "rejected-rows"
    return named_attachment(body, filename=f"{stem}-{suffix}.{kind}", mimetype=mimetype)


@bp.post("/manage/<token>/sandbox/attempts/<id:attempt_id>/pars-ready")
@once_per_submission
def prepare_pars_files(token: str, attempt_id: int):
    """Ask the worker to make a large upload's PARS-ready files."""
    signup = signup_or_404(token)
    attempt = _attempt_or_404(signup, attempt_id)
    back = url_for("sandbox.attempt", token=token, attempt_id=attempt.id) + "#pars-ready"
    if not ActionForm().validate_on_submit():
        return redirect(back, code=303)
    _activities, today, inputs_key = _pars_inputs(signup)
    return carry_out(
        lambda: services.request_pars_files(attempt, today=today, inputs_key=inputs_key),
        redirect_to=back,
    )


@bp.get("/manage/<token>/sandbox/attempts/<id:attempt_id>/pars-ready/status")
def pars_files_status(token: str, attempt_id: int):
    """How far the worker got with an upload's PARS-ready files, as JSON for the page's polling."""
    signup = signup_or_404(token)
    attempt = _attempt_or_404(signup, attempt_id)
    state = services.pars_files_state(attempt, _pars_inputs(signup)[2])
    return jsonify(
        percent=state.percent,
        label=state.label,
        finished=not state.preparing,
        ready=state.ready,
    )


@bp.get("/manage/<token>/sandbox/attempts/<id:attempt_id>/status")
def attempt_status(token: str, attempt_id: int):
    """An upload's progress as JSON, for the page's polling."""
    signup = signup_or_404(token)
    attempt = _attempt_or_404(signup, attempt_id)
    now = utcnow()
    stalled = attempt.id in services.stalled_uploads([attempt], now)
    stopped = stalled and attempt.check_lapsed(now)
    return jsonify(
        status=attempt.status,
        rows_judged=attempt.rows_judged,
        rows_expected=attempt.rows_expected,
        percent=attempt.percent_judged,
        label=attempt.stopped_label if stopped else attempt.progress_label,
        finished=attempt.is_finished,
        worker_stalled=stalled,
        stopped=stopped,
    )


@bp.get("/manage/<token>/sandbox/attempts/<id:attempt_id>/findings.csv")
def findings_csv(token: str, attempt_id: int):
    """An upload's findings as CSV."""
    signup = signup_or_404(token)
    return _findings_csv(_attempt_or_404(signup, attempt_id))


@bp.route("/manage/<token>/sandbox/delete", methods=["GET", "POST"])
@once_per_submission
def delete_all(token: str):
    """Ask, then delete the organization's sandbox data."""
    signup = signup_or_404(token)
    form = DeleteAllForm()
    if not form.validate_on_submit():
        status = 422 if form.errors else 200
        return render_template("sandbox/delete.html", signup=signup, token=token, form=form), status
    return carry_out(
        lambda: services.delete_sandbox_data(
            signup, include_activities=form.include_activities.data
        ),
        done=lambda deleted: (
            "There was nothing to delete: your sandbox held no records or uploads."
            if deleted.is_nothing
            else f"Deleted {counted(deleted.records, 'sandbox record')} and "
            f"{counted(deleted.attempts, 'upload')} with their findings"
            + (
                f", and {counted(deleted.activities, 'practice activity', 'practice activities')}."
                if deleted.activities
                else "."
            )
        ),
        redirect_to=url_for("sandbox.home", token=token),
    )


# --- Shared by the organization's and staff's pages ------------------------------------------


def _render_attempt(
    signup: Signup,
    attempt: SandboxAttempt,
    *,
    page_url: Callable[..., str],
    csv_url: str,
    status_url: str | None,
    back_url: str,
    upload_form: UploadForm | None = None,
    token: str | None = None,
    columns: services.ColumnsToMap | None = None,
    mapping_form: ColumnMappingForm | None = None,
    mapping_problem: str | None = None,
    preview=None,
    pars_ready: bool = False,
    pars_files: services.ParsFilesState | None = None,
):
    filters = FindingsFilterForm(formdata=request.args)
    filters.set_codes(attempt.counts_by_code)
    code = filters.code.data if filters.code.data in attempt.counts_by_code else ""
    severity = (
        filters.severity.data if filters.severity.data in (rules.ERROR, rules.WARNING) else ""
    )
    page = query_page()
    findings = services.findings_page(attempt, code=code, severity=severity, page=page)
    now = utcnow()
    layout = attempt.file_layout or {}
    return render_template(
        "sandbox/attempt.html",
        signup=signup,
        attempt=attempt,
        file_findings=services.file_findings(attempt) if attempt.is_finished else [],
        records_removed=services.records_removed(attempt) if attempt.is_finished else None,
        findings=findings,
        filters=filters,
        code=code,
        severity=severity,
        severities={code: rules.CODES[code].severity for code in rules.CODES},
        page_url=page_url,
        csv_url=csv_url,
        status_url=status_url,
        back_url=back_url,
        upload_form=upload_form,
        token=token,
        max_size=human_size(_max_bytes()),
        poll_seconds=current_app.config["SANDBOX_POLL_SECONDS"],
        layout=layout,
        column_map=ColumnMap.from_json(attempt.column_map) if attempt.column_map else None,
        columns=columns,
        mapping_form=mapping_form,
        mapping_problem=mapping_problem,
        preview=preview,
        pars_ready=pars_ready,
        pars_files=pars_files,
        stalled_worker=_stalled_worker(attempt, pars_files, now),
        stalled=services.stalled_uploads([attempt], now),
        now=now,
        action_form=ActionForm(),
        stage_labels={code: rule.stage_label() for code, rule in rules.CODES.items()},
        reasons=mapping.REASONS,
        rules=rules,
    )


def _stalled_worker(
    attempt: SandboxAttempt, pars_files: services.ParsFilesState | None, now: datetime
) -> WorkerSeen | None:
    """The sandbox worker, when this upload (waiting, or its check stopped with the worker) or
    its PARS-ready file waits for it and it has not been seen lately (the page says so, rather
    than "waiting" or "checking" for ever)."""
    if pars_files is not None and pars_files.waiting:
        return stalled_worker(SANDBOX_WORKER, now)
    return services.stalled_uploads([attempt], now).get(attempt.id)


POINTED_RESULTS_PAGE = "on this upload's results page"


def _findings_csv(attempt: SandboxAttempt):
    # The CSV has no mapping section under its findings: it is on the results page.
    findings = (
        replace(finding, message=rules.mapping_pointed(finding.message, POINTED_RESULTS_PAGE))
        for finding in services.all_findings(attempt)
    )
    lines = downloads.findings_csv(findings)
    return attachment(
        stream_with_context(lines),
        filename=f"findings-upload-{attempt.number}.csv",
        mimetype=CSV_MIMETYPE,
        personal=True,
    )


# --- Staff and facilitators: read-only --------------------------------------------------------


@bp.get("/staff/sandbox")
@role_required(*EVERY_ROLE)
def staff_index():
    """The organizations with sandbox activity, for staff and facilitators."""
    attempts = (
        select(
            SandboxAttempt.signup_id,
            func.count(SandboxAttempt.id).label("uploads"),
            func.max(SandboxAttempt.created_at).label("last_upload_at"),
        )
        .group_by(SandboxAttempt.signup_id)
        .subquery()
    )
    activities = (
        select(SandboxActivity.signup_id, func.count(SandboxActivity.id).label("activities"))
        .group_by(SandboxActivity.signup_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Signup, attempts.c.uploads, attempts.c.last_upload_at, activities.c.activities)
        .outerjoin(attempts, attempts.c.signup_id == Signup.id)
        .outerjoin(activities, activities.c.signup_id == Signup.id)
        .where((attempts.c.uploads.is_not(None)) | (activities.c.activities.is_not(None)))
        .order_by(Signup.organization_name)
    ).all()
    return render_template("sandbox/staff_index.html", rows=rows)


def _signup_for_staff(signup_id: int) -> Signup:
    signup = db.session.get(Signup, signup_id)
    if signup is None:
        abort(404)
    return signup


@bp.get("/staff/sandbox/<id:signup_id>")
@role_required(*EVERY_ROLE)
def staff_sandbox(signup_id: int):
    """An organization's sandbox, read only."""
    signup = _signup_for_staff(signup_id)
    return render_template(
        "sandbox/staff_sandbox.html",
        signup=signup,
        activities=services.activities_of(signup),
        record_counts=services.record_counts(signup),
        attempts=(attempts := services.attempts_of(signup)),
        stalled=services.stalled_uploads(attempts, utcnow()),
        now=utcnow(),
    )


@bp.get("/staff/sandbox/<id:signup_id>/attempts/<id:attempt_id>")
@role_required(*EVERY_ROLE)
def staff_attempt(signup_id: int, attempt_id: int):
    """An upload's results, read only."""
    signup = _signup_for_staff(signup_id)
    attempt = _attempt_or_404(signup, attempt_id)
    return _render_attempt(
        signup,
        attempt,
        page_url=lambda **args: url_for(
            "sandbox.staff_attempt", signup_id=signup.id, attempt_id=attempt.id, **args
        ),
        csv_url=url_for("sandbox.staff_findings_csv", signup_id=signup.id, attempt_id=attempt.id),
        status_url=None,
        back_url=url_for("sandbox.staff_sandbox", signup_id=signup.id),
    )


@bp.get("/staff/sandbox/<id:signup_id>/attempts/<id:attempt_id>/findings.csv")
@writes_after_reading
@role_required(*EVERY_ROLE)
def staff_findings_csv(signup_id: int, attempt_id: int):
    """An upload's findings as CSV (audited)."""
    signup = _signup_for_staff(signup_id)
    attempt = _attempt_or_404(signup, attempt_id)
    return carry_out(
        lambda: record_export(
            "sandbox_findings",
            actor=current_user,
            rows=sum(attempt.counts_by_code.values()),
            signup=signup,
            upload=attempt.id,
        ),
        respond=lambda _: _findings_csv(attempt),
    )


@bp.route("/staff/sandbox/pars-states", methods=["GET", "POST"])
@role_required(*MANAGERS)
@once_per_submission
def pars_states():
    """The list of state boards using PARS data: shown, and updated by staff."""
    form = mark_drawn(_pars_states_form())

    def page(shown=form, status=None):
        current = services.pars_states()
        page = render_template("sandbox/pars_states.html", form=shown, current=current, rules=rules)
        return page, status or (422 if form.errors else 200)

    if not form.validate_on_submit():
        return page()

    def drawn_now() -> ParsStatesForm:
        return _pars_states_form(formdata=None)

    def change() -> None:
        # The latest check is the row two saves race over (before staff's first check there is
        # none to lock: on PostgreSQL two first checks at the same moment both pass).
        latest = services.latest_pars_state_list()
        require_unchanged(latest, form, drawn_now, thing="list")
        services.update_pars_states(
            form.states.data, form.source.data, form.checked_on.data, actor=current_user
        )

    return carry_out(
        change,
        done="Saved the list of state boards using PARS data.",
        redirect_to=url_for("sandbox.pars_states"),
        refused=redrawn_when_changed(
            form, drawn_now, lambda now: page(now, 409), shown_under(form.states, page)
        ),
    )


def _pars_states_form(**kwargs) -> ParsStatesForm:
    """The PARS states form drawn from the current list (``kwargs`` as for any form;
    ``formdata=None``: as the list is now, whatever was posted)."""
    current = services.pars_states()
    return ParsStatesForm(
        **kwargs,
        data={
            "states": sorted(current.states),
            "source": current.source,
            "checked_on": current.checked_on,
        },
    )
