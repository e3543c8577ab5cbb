"""Default settings; secrets and addresses come from ``TRAINING_*`` environment variables."""

SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}

# Booking rules.
CHANGE_CUTOFF_HOURS = 24

# Served pages never embed the app in another site's frame.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

WTF_CSRF_TIME_LIMIT = None

# Links in emails are built from this address, never from the request's Host header.
PUBLIC_URL = "http://127.0.0.1:5000"
MAIL_DEFAULT_SENDER = "Training Desk <no-reply@training-desk.localhost>"
