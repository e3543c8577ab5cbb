"""Training Desk: signups, invites and rosters for small-group learner reporting training."""

import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from training import body_limits, config, database
from training.extensions import csrf, db, limiter, login_manager, migrate

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(test_config: dict | None = None) -> Flask:
    """Build the application from defaults, ``TRAINING_*`` variables and ``test_config``."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        instance_path=os.environ.get("TRAINING_INSTANCE_PATH")
        or os.path.join(PROJECT_ROOT, "instance"),
        template_folder=os.path.join(PROJECT_ROOT, "templates"),
    )
    app.config.from_object(config)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(
        app.instance_path, "training.sqlite3"
    )
    app.config.from_prefixed_env("TRAINING")
    if test_config is not None:
        app.config.update(test_config)
    _check_settings(app)
    os.makedirs(app.instance_path, exist_ok=True)

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(PROJECT_ROOT, "migrations"))
    body_limits.init_app(app)  # before CSRF's check, the first to read a form
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            database.configure_sqlite(
                db.engine, busy_timeout_ms=int(app.config["SQLITE_BUSY_TIMEOUT_MS"])
            )
        elif db.engine.dialect.driver == "psycopg":
            database.configure_psycopg(db.engine)
    # First of the request hooks: it decides how the request's transactions begin.
    database.init_app(app)

    from training import cli, errors, health, logs, routing, scripted, security
    from training.audit import views as audit
    from training.booking import views as booking
    from training.challenges import views as challenges
    from training.live import cache as live_cache
    from training.live import views as live
    from training.mail import layout as mail_layout
    from training.resources import views as resources
    from training.rosters import views as rosters
    from training.sandbox import views as sandbox
    from training.signups import views as signups
    from training.staff import views as staff
    from training.submissions import guard as submissions

    routing.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(booking.bp)
    app.register_blueprint(staff.bp)
    app.register_blueprint(rosters.bp)
    app.register_blueprint(signups.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(resources.bp)
    app.register_blueprint(challenges.bp)
    app.register_blueprint(sandbox.bp)
    app.register_blueprint(live.bp)
    booking.init_app(app)
    mail_layout.init_app(app)
    staff.init_app(app)
    resources.init_app(app)
    challenges.init_app(app)
    sandbox.init_app(app)
    cli.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    scripted.init_app(app)
    submissions.init_app(app)
    logs.init_app(app)
    live_cache.init_app(app)  # it wraps the finished WSGI app
    if proxies := int(app.config["TRUSTED_PROXIES"]):
        # Outermost, so everything inside sees the client's address and scheme.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    return app


def _check_settings(app: Flask) -> None:
    """Refuse to start with settings that would be unsafe or cannot work."""
    if not app.config.get("SECRET_KEY"):
        if not (app.debug or app.testing):
            raise RuntimeError(
                "TRAINING_SECRET_KEY is not set. Set it to a long random value, for example:\n"
                "  export TRAINING_SECRET_KEY=\"$(python -c 'import secrets; "
                "print(secrets.token_hex(32))')\"\n"
                "Next to the demo `make run` serves, use its key (from the project's folder):\n"
                '  export TRAINING_SECRET_KEY="$(cat instance/secret_key)"'
            )
        app.config["SECRET_KEY"] = "dev-only-not-secret"  # noqa: S105 (debug and tests only)
    if app.config["PUBLIC_URL"].startswith("https://"):
        # Served over HTTPS: the session cookie must never travel over plain HTTP.
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    # psycopg 3 is the driver we ship; plain postgresql:// URLs would ask for psycopg2.
    for prefix in ("postgres://", "postgresql://"):
        if uri.startswith(prefix):
            app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + uri[len(prefix) :]
