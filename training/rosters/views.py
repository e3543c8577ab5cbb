"""Staff pages for sessions and their rosters."""

from flask import Blueprint

from training.rosters import models  # noqa: F401 (the feed table belongs to this blueprint)

bp = Blueprint("rosters", __name__, url_prefix="/staff")
