"""Staff sign-in, passwords and (for admins) accounts."""

import hashlib
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
from flask.wrappers import Response
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from training.booking.display import format_moment
from training.drawn import mark_drawn, redrawn_when_changed, require_unchanged
from training.edge import carry_out, flashed_above, shown_under
from training.extensions import db, limiter, login_manager, utcnow
from training.staff import dashboard, services
from training.staff.auth import ADMINS, SESSION_TOKEN_KEY, load_staff_member, role_required
from training.staff.forms import AccountForm, AccountUpdateForm, ChangePasswordForm, SignInForm
from training.staff.models import StaffMember
from training.submissions.guard import once_per_submission
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


def _audit_limited_sign_in(_limit) -> None:
    """A sign-in the rate limit refuses is a failed sign-in in the audit log, once a request
    (Flask-Limiter calls this for each limit hit: per minute, per hour)."""
    if g.get("sign_in_refusal_audited"):
        return
    g.sign_in_refusal_audited = True
    services.refuse_sign_in(SignInForm().email.data or "", "too many attempts")
    db.session.commit()


def _account_from_this_client() -> str:
    """The sign-in limit's key for one account tried from one client: the client's address and
    a digest of the email typed, matched as accounts are (the address itself is not kept)."""
    typed = services.normalize_email(request.form.get("email") or "")
    return f"{get_remote_address()}/{hashlib.sha256(typed.encode()).hexdigest()[:24]}"


def _not_signed_in(response: Response) -> bool:
    """Whether a sign-in POST's answer counts against the limits: every answer but a redirect
    into the console (a sign-in that worked uses up nothing)."""
    return response.status_code not in (302, 303)


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["SIGN_IN_RATE_LIMIT"],
    key_func=_account_from_this_client,
    methods=["POST"],
    deduct_when=_not_signed_in,
    on_breach=_audit_limited_sign_in,
)
@limiter.limit(
    lambda: current_app.config["SIGN_IN_CLIENT_RATE_LIMIT"],
    methods=["POST"],
    deduct_when=_not_signed_in,
    on_breach=_audit_limited_sign_in,
)
def sign_in():
    """Staff sign-in (rate limited); a failed attempt is audited too."""
    if current_user.is_authenticated:
        return redirect(url_for("staff.home"))
    form = SignInForm()
    if not form.is_submitted():
        return render_template("staff/sign_in.html", form=form)
    if not form.validate():
        missing = "password" if not form.password.data else "email"
        return carry_out(  # the refused attempt is committed, for the audit log
            lambda: services.refuse_sign_in(form.email.data or "", f"no {missing} given"),
            respond=lambda _: render_template("staff/sign_in.html", form=form),
        )

    def signed_in(member: StaffMember | None):
        if member is None:  # the failed attempt is committed too, for the audit log
            flash("That email and password do not match an active account.", "error")
            return render_template("staff/sign_in.html", form=form)
        return redirect(_safe_next(request.args.get("next")), code=303)

    return carry_out(lambda: _sign_in(form.email.data, form.password.data), respond=signed_in)


def _sign_in(email: str, password: str) -> StaffMember | None:
    """Check the password and, when it matches, start a sign-in in this browser."""
    member = services.authenticate(email, password)
    if member is not None:
        token = services.start_session(member, now=utcnow())
        login_user(member)
        session[SESSION_TOKEN_KEY] = token
    return member


@bp.post("/sign-out")
@login_required
def sign_out():
    """End this browser's sign-in."""
    return carry_out(_sign_out, done="You are signed out.", redirect_to=url_for("staff.sign_in"))


def _sign_out() -> None:
    """End this browser's sign-in, in the database and in its cookie."""
    token = session.pop(SESSION_TOKEN_KEY, None)
    if isinstance(token, str):
        services.end_session(token, now=utcnow())
    g.pop("staff_session_seen", None)
    logout_user()


@bp.get("/")
@login_required
def home():
    """The dashboard for admins and staff; facilitators see the sessions assigned to them."""
    if not current_user.can_manage:
        return render_template("staff/home.html", dashboard=None)
    now = utcnow()
    figures = dashboard.figures(
        now,
        ZoneInfo(current_app.config["DISPLAY_TIMEZONE"]),
        link_warning_hours=current_app.config["MEETING_LINK_WARNING_HOURS"],
    )
    workers = worker_services.workers_seen(now)
    return render_template("staff/home.html", dashboard=figures, workers=workers, now=now)


@bp.route("/password", methods=["GET", "POST"])
@login_required
@once_per_submission
def change_password():
    """Change one's own password; other devices are signed out."""
    form = ChangePasswordForm()

    def page():
        return render_template("staff/password.html", form=form)

    def change_password() -> None:
        services.change_password(current_user, form.current_password.data, form.new_password.data)
        login_user(current_user)  # the cookie carries the new login version

    if not form.validate_on_submit():
        return page()
    return carry_out(
        change_password,
        done="Your password is changed. Other devices have been signed out.",
        redirect_to=url_for("staff.home"),
        refused=shown_under(form.current_password, page),
    )


@bp.route("/accounts", methods=["GET", "POST"])
@role_required(*ADMINS)
@once_per_submission
def accounts():
    """Admins' list of staff accounts, with a form to add one."""
    form = AccountForm()

    def page():
        members = db.session.scalars(select(StaffMember).order_by(StaffMember.email)).all()
        rows = [
            (
                member,
                mark_drawn(_account_form(member)),
            )
            for member in members
        ]
        return render_template("staff/accounts.html", form=form, rows=rows)

    if not form.validate_on_submit():
        return page()
    return carry_out(
        lambda: services.create_staff(
            form.email.data,
            form.password.data,
            form.role.data,
            name=form.name.data,
            actor=current_user,
        ),
        done=lambda member: f"Account created for {member.email}.",
        redirect_to=url_for("staff.accounts"),
        refused=shown_under(form.email, page),
    )


@bp.post("/accounts/<id:member_id>")
@role_required(*ADMINS)
@once_per_submission
def update_account(member_id: int):
    """Change an account's role or status (never one's own)."""
    member = db.get_or_404(StaffMember, member_id)
    form = AccountUpdateForm(prefix=f"account-{member.id}")
    if not form.validate_on_submit():
        flash("Choose a role and a status from the lists.", "error")
        return redirect(url_for("staff.accounts"), code=303)
    if member.id == current_user.id:
        flash("You cannot change your own role or disable yourself.", "error")
        return redirect(url_for("staff.accounts"), code=303)

    def update() -> None:
        require_unchanged(member, form, lambda: _account_form(member), thing="account")
        if form.role.data != member.role:
            services.set_role(member, form.role.data, actor=current_user)
        if (form.status.data == "disabled") != member.is_disabled:
            services.set_disabled(member, form.status.data == "disabled", actor=current_user)

    back = url_for("staff.accounts")
    return carry_out(
        update,
        done=f"Saved {member.email}.",
        redirect_to=back,
        refused=redrawn_when_changed(
            form,
            lambda: _account_form(member),
            lambda _now: redirect(back, code=303),
            flashed_above(lambda: redirect(back, code=303)),
        ),
    )


def _account_form(member: StaffMember) -> AccountUpdateForm:
    """The row form of ``member``'s account as it is now."""
    return AccountUpdateForm(
        formdata=None,
        prefix=f"account-{member.id}",
        role=member.role,
        status="disabled" if member.is_disabled else "active",
    )
