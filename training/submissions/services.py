"""Claiming a form's one-time key in the transaction that carries out the form's change."""

import hashlib
from collections.abc import Iterable

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import make_transient_to_detached

from training.extensions import UTCDateTime, db, utcnow
from training.submissions.models import FormSubmission

# The same words on PostgreSQL and SQLite. Written out because the dialects' own ``insert``
# constructs with ``on_conflict_do_nothing`` are never cached: they were compiled again on
# every form posted, which cost more CPU than the rest of the claim.
_CLAIM = text(
    "INSERT INTO form_submissions (key_hash, endpoint, result_path, created_at)"
    " VALUES (:key_hash, :endpoint, :result_path, :created_at)"
    " ON CONFLICT (key_hash) DO NOTHING RETURNING id"
).bindparams(bindparam("created_at", type_=UTCDateTime()))


class AlreadySubmitted(Exception):
    """This form was acted on before; ``submission`` says where its answer sent the person."""

    def __init__(self, submission: FormSubmission):
        super().__init__("This form was already sent.")
        self.submission = submission


def submission_identity(
    key: str,
    *,
    path: str,
    account_id: int | None,
    values: Iterable[tuple[str, str]],
    files: Iterable[tuple[str, str, bytes]] = (),
) -> str:
    """The hex SHA-256 that names one submission of one form.

    ``values`` are the form's (name, value) pairs and ``files`` its (field, filename, SHA-256
    digest) triples; order does not matter. The key alone is never stored.
    """
    digest = hashlib.sha256()
    for part in (key, path, str(account_id or "")):
        digest.update(part.encode() + b"\0")
    for name, value in sorted(values):
        digest.update(name.encode() + b"=" + value.encode() + b"\0")
    for name, filename, content_digest in sorted(files):
        digest.update(name.encode() + b"@" + filename.encode() + b":" + content_digest + b"\0")
    return digest.hexdigest()


def claim_submission(identity: str, *, endpoint: str, result_path: str) -> FormSubmission:
    """Record that the submission named ``identity`` is being acted on, in one statement
    (``INSERT ... ON CONFLICT DO NOTHING RETURNING id``); never commits.

    Returns the new record, persistent in the session (a later change to its ``result_path``
    is written with the request's commit, none when it is unchanged). Raises
    ``AlreadySubmitted`` with the earlier submission when it was acted on before. On
    PostgreSQL a copy sent while the first is still running waits here until the first commits
    (then finds it) or rolls back (then goes ahead); SQLite runs the two one after the other.
    """
    values = {
        "key_hash": identity,
        "endpoint": endpoint,
        "result_path": result_path,
        "created_at": utcnow(),
    }
    claimed = db.session.execute(_CLAIM, values).scalar_one_or_none()
    if claimed is None:
        earlier = db.session.scalars(
            select(FormSubmission).where(FormSubmission.key_hash == identity)
        ).one()
        raise AlreadySubmitted(earlier)
    # The row as inserted, known to the session without reading it back.
    submission = FormSubmission(id=claimed, **values)
    make_transient_to_detached(submission)
    db.session.add(submission)
    return submission
