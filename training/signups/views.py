"""Staff pages for all signups: search, possible duplicates, exports."""

from flask import Blueprint

from training.signups import models  # noqa: F401 (the review table belongs to this blueprint)

bp = Blueprint("signups", __name__, url_prefix="/staff")
