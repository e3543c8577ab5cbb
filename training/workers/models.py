"""When each background worker process was last seen."""

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from training.extensions import UTCDateTime, db


class WorkerHeartbeat(db.Model):
    """A worker process's latest round: one row a kind of worker ("mail", "sandbox"), host and
    process id, so one of two workers of a kind that stopped is seen to have stopped."""

    __tablename__ = "worker_heartbeats"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    pid: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
