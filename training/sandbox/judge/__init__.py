"""Judges a learner file the way PARS would: pure code, streamed, no app needed.

By concern: ``values`` reads and shows one cell, ``register`` is the fictional register,
``records`` what rows are judged against, ``findings`` what the judge says, ``index`` what it
remembers across rows, ``rows`` judges one row by its named fields, ``fast`` judges plain rows
from remembered verdicts of RowJudge's own checks, ``batches`` judges a text file of one-line
rows in batches (polars) from the same verdicts, ``stored`` is what the worker stores of the
results, and ``files`` a whole file.
"""

from training.sandbox.judge.files import (
    BY_NAME,
    BY_POSITION,
    MAPPED,
    TEMPLATE,
    FileJudgement,
    FileLayout,
    LearnerRows,
    RowShaper,
    header_mismatch,
    judge_file,
    learner_rows,
)
from training.sandbox.judge.findings import Finding, RowResult, Summary, make_finding, summarize
from training.sandbox.judge.index import CompactIndex
from training.sandbox.judge.records import (
    Activity,
    BoardRegistration,
    JudgeContext,
    LearnerRecord,
    NoRecords,
    RecordKey,
    RecordLookup,
    record_key,
)
from training.sandbox.judge.register import (
    LearnerKey,
    Register,
    RegisterEntry,
    learner_identity,
    learner_key,
    name_key,
)
from training.sandbox.judge.rows import LearnerRow, RowJudge
from training.sandbox.judge.stored import (
    DIGEST_FIELDS,
    FINDING_FIELDS,
    RECORD_FIELDS,
    Columns,
    StoredPart,
    change_of,
    finding_row,
    key_digest,
    learner_digest,
    record_digest,
)
from training.sandbox.judge.values import (
    board_code,
    cell_text,
    column_letter,
    masked,
    npi_is_valid,
    state_code,
)

__all__ = [
    "BY_NAME",
    "BY_POSITION",
    "DIGEST_FIELDS",
    "FINDING_FIELDS",
    "MAPPED",
    "RECORD_FIELDS",
    "TEMPLATE",
    "Activity",
    "BoardRegistration",
    "Columns",
    "CompactIndex",
    "FileJudgement",
    "FileLayout",
    "Finding",
    "JudgeContext",
    "LearnerKey",
    "LearnerRecord",
    "LearnerRow",
    "LearnerRows",
    "NoRecords",
    "RecordKey",
    "RecordLookup",
    "Register",
    "RegisterEntry",
    "RowJudge",
    "RowResult",
    "RowShaper",
    "StoredPart",
    "Summary",
    "board_code",
    "cell_text",
    "change_of",
    "column_letter",
    "finding_row",
    "header_mismatch",
    "judge_file",
    "key_digest",
    "learner_digest",
    "learner_identity",
    "learner_key",
    "learner_rows",
    "make_finding",
    "masked",
    "name_key",
    "npi_is_valid",
    "record_digest",
    "record_key",
    "state_code",
    "summarize",
]
