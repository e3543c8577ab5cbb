"""Staff sign-in, passwords and (for admins) accounts."""

from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from training.booking.display import format_moment
from training.extensions import db, limiter, login_manager, utcnow
from training.signups import services as signup_services
from training.staff import services
from training.staff.auth import SESSION_TOKEN_KEY, load_staff_member, role_required
from training.staff.forms import AccountForm, AccountUpdateForm, ChangePasswordForm, SignInForm
from training.staff.models import ROLE_ADMIN, StaffMember
from training.submissions.guard import commit_and_redirect, once_per_submission
from training.workers import services as worker_services

bp = Blueprint("staff", __name__, url_prefix="/staff")


def init_app(app: Flask) -> None:
    """Load staff from the sign-in cookie; show staff-facing times in the display zone."""
    login_manager.user_loader(load_staff_member)
    app.teardown_request(_note_staff_session_use)

    @app.template_filter("staff_moment")
    def staff_moment(moment: datetime) -> str:
        return format_moment(moment, ZoneInfo(app.config["DISPLAY_TIMEZONE"]))

    app.add_template_filter(worker_services.seen_ago, "seen_ago")


def _note_staff_session_use(_error: BaseException | None = None) -> None:
    """After the request, note that its sign-in was used (at most once a minute).

    A short transaction of its own at the request's edge; what the request did not commit is
    rolled back first, as it would be anyway. The user loader only reads.
    """
    seen = g.pop("staff_session_seen", None)
    if seen is None:
        return
    session_id, last_seen_at = seen
    now = utcnow()
    every = timedelta(seconds=float(current_app.config["STAFF_SESSION_TOUCH_SECONDS"]))
    if now - last_seen_at < every:
        return
    try:
        db.session.rollback()
        services.touch_session(session_id, now=now, every=every)
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.warning("could not note the use of staff session %s", session_id)


def _safe_next(target: str | None) -> str:
    """Only paths on this site; anything else goes to the console's home."""
    if not target or not target.isprintable() or not target.startswith("/"):
        return url_for("staff.home")  # control characters (CR, LF) cannot go in a header
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("/\\"):
        return url_for("staff.home")
    return target


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["SIGN_IN_RATE_LIMIT"], methods=["POST"])
def sign_in():
    if current_user.is_authenticated:
        return redirect(url_for("staff.home"))
    form = SignInForm()
    if form.validate_on_submit():
        member = services.authenticate(form.email.data, form.password.data)
        if member is not None:
            token = services.start_session(member, now=utcnow())
            login_user(member)
            session[SESSION_TOKEN_KEY] = token
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")), code=303)
        db.session.commit()  # the failed attempt, for the audit log
        flash("That email and password do not match an active account.", "error")
    return render_template("staff/sign_in.html", form=form)


@bp.post("/sign-out")
@login_required
def sign_out():
    token = session.pop(SESSION_TOKEN_KEY, None)
    if isinstance(token, str):
        services.end_session(token, now=utcnow())
    g.pop("staff_session_seen", None)
    logout_user()
    db.session.commit()
    flash("You are signed out.", "success")
    return redirect(url_for("staff.sign_in"), code=303)


@bp.get("/")
@login_required
def home():
    """The dashboard for admins and staff; facilitators see the sessions assigned to them."""
    if not current_user.can_manage:
        return render_template("staff/home.html", dashboard=None)
    now = utcnow()
    figures = signup_services.dashboard(now, ZoneInfo(current_app.config["DISPLAY_TIMEZONE"]))
    stale_after = timedelta(seconds=float(current_app.config["WORKER_STALE_SECONDS"]))
    workers = worker_services.workers_seen(now, stale_after=stale_after)
    return render_template("staff/home.html", dashboard=figures, workers=workers, now=now)


@bp.route("/password", methods=["GET", "POST"])
@login_required
@once_per_submission
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(
                current_user, form.current_password.data, form.new_password.data
            )
        except services.StaffError as error:
            form.current_password.errors.append(str(error))
        else:
            login_user(current_user)  # the cookie carries the new login version
            flash("Your password is changed. Other devices have been signed out.", "success")
            return commit_and_redirect(url_for("staff.home"))
    return render_template("staff/password.html", form=form)


@bp.route("/accounts", methods=["GET", "POST"])
@role_required(ROLE_ADMIN)
@once_per_submission
def accounts():
    form = AccountForm()
    if form.validate_on_submit():
        try:
            member = services.create_staff(
                form.email.data,
                form.password.data,
                form.role.data,
                name=form.name.data,
                actor=current_user,
            )
        except services.StaffError as error:
            form.email.errors.append(str(error))
        else:
            flash(f"Account created for {member.email}.", "success")
            return commit_and_redirect(url_for("staff.accounts"))
    members = db.session.scalars(select(StaffMember).order_by(StaffMember.email)).all()
    rows = [
        (
            member,
            AccountUpdateForm(
                formdata=None,
                prefix=f"account-{member.id}",
                role=member.role,
                status="disabled" if member.is_disabled else "active",
            ),
        )
        for member in members
    ]
    return render_template("staff/accounts.html", form=form, rows=rows)


@bp.post("/accounts/<id:member_id>")
@role_required(ROLE_ADMIN)
@once_per_submission
def update_account(member_id: int):
    member = db.get_or_404(StaffMember, member_id)
    form = AccountUpdateForm(prefix=f"account-{member.id}")
    if not form.validate_on_submit():
        flash("Choose a role and a status from the lists.", "error")
    elif member.id == current_user.id:
        flash("You cannot change your own role or disable yourself.", "error")
    else:
        try:
            if form.role.data != member.role:
                services.set_role(member, form.role.data, actor=current_user)
            if (form.status.data == "disabled") != member.is_disabled:
                services.set_disabled(member, form.status.data == "disabled", actor=current_user)
        except services.StaffError as error:
            flash(str(error), "error")
        else:
            flash(f"Saved {member.email}.", "success")
            return commit_and_redirect(url_for("staff.accounts"))
    return redirect(url_for("staff.accounts"), code=303)
