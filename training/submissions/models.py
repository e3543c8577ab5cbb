"""The record that a state-changing form has been acted on."""

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from training.extensions import UTCDateTime, db, utcnow


class FormSubmission(db.Model):
    """A form the app acted on, known by a hash of its one-time key.

    Written in the same transaction as the form's effect, so a submission is recorded exactly
    when its effect is; the unique ``key_hash`` makes a second copy of the form wait for the
    first and then find it, on every process and host.
    """

    __tablename__ = "form_submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-256 of the key, the path it was posted to, the signed-in account and the form's
    # values: the same form sent again matches; an edited form sent with the same key does not.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    endpoint: Mapped[str] = mapped_column(String(100))
    # Where the first answer sent the person (a manage link's token replaced by "<token>").
    result_path: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
