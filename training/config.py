"""Default settings; secrets and addresses come from ``TRAINING_*`` environment variables."""

from pathlib import Path

# hide_parameters: a database error's message never shows the values (emails, learner data).
# pool_recycle instead of pool_pre_ping: a pooled connection is replaced once it is this many
# seconds old (under the idle limits of firewalls and PostgreSQL's idle_session_timeout), so no
# request pays a ping round trip first. A connection dropped anyway (the database restarted)
# fails the one request that meets it; SQLAlchemy then discards every pooled connection, and
# the next request connects afresh (see the README's production section).
SQLALCHEMY_ENGINE_OPTIONS = {"pool_recycle": 300, "hide_parameters": True}
# SQLite: how long a statement waits for another connection's write lock before it fails with
# "database is locked" (well under gunicorn's 30 s worker timeout).
SQLITE_BUSY_TIMEOUT_MS = 10_000

# Data shipped with the code (demo program, walkthrough steps, fictional register, resource
# pages); tests and other installs may point elsewhere.
SEED_FOLDER = str(Path(__file__).resolve().parent.parent / "seed")

# Staff pages show times in this zone (programs show theirs in their own).
DISPLAY_TIMEZONE = "America/Los_Angeles"

# Booking rules.
CHANGE_CUTOFF_HOURS = 24
# Staff are warned of a session starting within this many hours with no meeting link.
MEETING_LINK_WARNING_HOURS = 24

# Served pages never embed the app in another site's frame.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

WTF_CSRF_TIME_LIMIT = None

# Links in emails are built from this address, never from the request's Host header.
PUBLIC_URL = "http://127.0.0.1:5000"
MAIL_DEFAULT_SENDER = "Training Desk <no-reply@training-desk.localhost>"

# Email. With no MAIL_SERVER the worker writes each message to <instance>/mail/*.eml instead.
MAIL_SERVER = None
MAIL_PORT = 25
MAIL_USERNAME = None
MAIL_PASSWORD = None
MAIL_USE_TLS = False  # STARTTLS, usually on port 587
MAIL_USE_SSL = False  # TLS from the first byte, usually on port 465
MAIL_TIMEOUT = 30
# Temporary failures wait 1, 2, 4... minutes, at most an hour, for about a day in all.
MAIL_RETRY_BASE_SECONDS = 60
MAIL_RETRY_MAX_SECONDS = 3600
MAIL_MAX_ATTEMPTS = 30
# A worker that dies mid-send leaves its claim; another takes the message after this long.
MAIL_LEASE_SECONDS = 300
# A claim older than this is flagged as held by a worker that may have stopped: a batch of
# MAIL_BATCH_SIZE messages over one SMTP connection takes seconds.
MAIL_HELD_WARNING_SECONDS = 60
MAIL_BATCH_SIZE = 50
# The worker writes the outcomes of this many sent messages at a time: a crash re-sends at most
# this many.
MAIL_RECORD_EVERY = 25
MAIL_POLL_SECONDS = 5
# Reminders go out this many hours before each session (`flask mail remind` or the worker).
MAIL_REMINDER_HOURS = [48, 2]

# Rate limits: "memory://" is per process; use redis://host:6379 when running several.
RATELIMIT_STORAGE_URI = "memory://"
# Every limit's key in that storage starts with this, so deployments sharing one Redis database
# (or the live cache beside them) never count each other's attempts.
RATELIMIT_KEY_PREFIX = "training"
RATELIMIT_HEADERS_ENABLED = True
# Failed staff sign-ins allowed: for one account from one client, and from one client whatever
# the accounts (a sign-in that works counts against neither).
SIGN_IN_RATE_LIMIT = "10 per minute;50 per hour"
SIGN_IN_CLIENT_RATE_LIMIT = "30 per minute;200 per hour"
# Proxies in front of the app (a load balancer: 1) whose X-Forwarded-For and X-Forwarded-Proto
# are trusted for the client's address and scheme (werkzeug's ProxyFix); 0 trusts none.
TRUSTED_PROXIES = 0

# Staff sign-ins end on sign-out, after this long without a request, and this long after
# signing in, whatever copy of the cookie is used. Last use is written at most this often.
STAFF_SESSION_IDLE_HOURS = 8
STAFF_SESSION_LIFETIME_DAYS = 7
STAFF_SESSION_TOUCH_SECONDS = 60

REMEMBER_COOKIE_HTTPONLY = True
REMEMBER_COOKIE_SAMESITE = "Lax"

# Request bodies (training.body_limits): every request but the sandbox's upload may be this long
# (the longest form, a resource page's 100,000 characters, is about 150 KB sent in English and at
# most 1.2 MB in characters of four UTF-8 bytes, each sent as 12); a longer one gets the 413 page
# "That form is too large", unread. Flask's own names: a multipart body's text fields (the
# upload's) are held to MAX_FORM_MEMORY_SIZE each.
MAX_CONTENT_LENGTH = 2 * 1024 * 1024
MAX_FORM_MEMORY_SIZE = 2 * 1024 * 1024

# Practice upload sandbox. Uploads above the byte or row limit are judged by the worker
# (`flask --app training sandbox work --watch`); smaller ones while the person waits.
SANDBOX_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
# The upload's request may be the upload limit plus this much room for the rest of its form;
# a longer one gets the 413 page naming the file limit.
SANDBOX_REQUEST_OVERHEAD_BYTES = 1024 * 1024
SANDBOX_INLINE_MAX_BYTES = 200 * 1024
SANDBOX_INLINE_MAX_ROWS = 2000
SANDBOX_POLL_SECONDS = 2
# Options for polars' allocator (jemalloc) in the sandbox worker, set as `_RJEM_MALLOC_CONF`
# before polars is loaded (polars adds them after its own); one arena for all of polars' threads
# keeps less freed memory. A `_RJEM_MALLOC_CONF` in the worker's environment wins; "" sets none.
SANDBOX_POLARS_MALLOC_CONF = "narenas:1"
SANDBOX_LEASE_SECONDS = 300
# Sandbox records, attempts and findings are deleted this many days after they were made
# (`flask --app training sandbox purge`).
SANDBOX_RETENTION_DAYS = 30

# Live sessions: how often a participant's page and the facilitator's board ask for changes.
LIVE_POLL_MS = 1000
LIVE_BOARD_POLL_MS = 2000
# Facilitators can check organizations in from this many minutes before a session starts (a
# check-in days before is a slip of the finger); follow-up emails wait for the session's end.
LIVE_CHECKIN_OPENS_MINUTES = 30
# Redis shared by every web process and host (redis://host:6379/0): a participant's unchanged
# poll is then answered 304 from it before Flask (training.live.cache). Unset: every poll reads
# the database.
LIVE_REDIS_URL = None
LIVE_CACHE_PREFIX = "training:live:"
LIVE_CACHE_SECONDS = 12 * 3600

# Background workers (`flask mail deliver --watch`, `flask sandbox work --watch`): after an error
# that may pass (a locked database, a mail server gone), each waits twice as long as the time
# before, up to this long; staff are warned when one has not been seen for this long.
WORKER_MAX_BACKOFF_SECONDS = 60
WORKER_STALE_SECONDS = 300
# A worker process not seen for this long is dropped from the dashboard and `mail status`.
WORKER_FORGET_SECONDS = 86400
