"""When each background worker was last seen."""

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from training.extensions import UTCDateTime, db


class WorkerHeartbeat(db.Model):
    """A worker's latest round: one row a worker name ("mail", "sandbox"), whichever host ran
    it."""

    __tablename__ = "worker_heartbeats"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
