"""What the judge says: findings with their codes, stages and messages; row results; totals."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from training.sandbox import rules

if TYPE_CHECKING:
    from training.sandbox.judge.records import LearnerRecord


@dataclass(frozen=True)
class Finding:
    """One thing to fix (error) or to know (warning) about a row, a cell or the file."""

    row: int | None  # the row number the person sees in their spreadsheet; None for the file
    column: str  # header name; "" for a row- or file-level finding
    severity: str  # "error" | "warning"
    code: str
    message: str

    @property
    def is_error(self) -> bool:
        """True for an error (the row, or the file, is rejected)."""
        return self.severity == rules.ERROR

    @property
    def stage(self) -> str:
        """When PARS would say so: rules.STAGE_UPLOAD or rules.STAGE_BOARD (identity)."""
        return rules.CODES[self.code].stage

    @property
    def stage_label(self) -> str:
        """The stage in words ("PARS refuses it at upload")."""
        return rules.CODES[self.code].stage_label()


def make_finding(code: str, row: int | None, column: str = "", **params: object) -> Finding:
    """A finding with the severity and message rules.CODES gives the code."""
    rule = rules.CODES[code]
    return Finding(
        row, column, rule.severity, code, rule.message.format(column=column, **params).strip()
    )


def column_order(column: str) -> int:
    """Where a finding's column comes in the template ("First Name / Last Name" as First Name;
    row-level findings, with no column, last)."""
    first = column.split(" / ")[0]
    return rules.HEADERS.index(first) if first in rules.HEADERS else len(rules.HEADERS)


class RowResult(NamedTuple):
    """What the judge found on one data row (a tuple: one is made for every row)."""

    row: int
    action: str  # "Add" | "Delete" | "" when unreadable, or when only the learner was checked
    findings: tuple[Finding, ...]
    record: LearnerRecord | None  # the parsed record to keep or delete (whole rows, no error)
    accepted: bool  # no error: warnings do not block


@dataclass
class Summary:
    """Counts for the results page: rows read, accepted, rejected, findings by code."""

    rows_read: int = 0
    accepted: int = 0
    rejected: int = 0
    warnings: int = 0  # warning findings
    errors: int = 0  # error findings, file-level ones included
    by_code: Counter[str] = field(default_factory=Counter)
    file_findings: list[Finding] = field(default_factory=list)

    @property
    def file_rejected(self) -> bool:
        """True when a file-level error stopped the judging: no row counts."""
        return any(finding.is_error for finding in self.file_findings)

    def add(self, item: RowResult | Finding) -> None:
        """Count one item from judge_file."""
        if isinstance(item, Finding):
            self.file_findings.append(item)
            self._count(item)
            return
        self.rows_read += 1
        if item.accepted:
            self.accepted += 1
        else:
            self.rejected += 1
        if item.findings:
            by_code = self.by_code
            for finding in item.findings:
                by_code[finding.code] += 1
                if finding.severity == rules.ERROR:
                    self.errors += 1
                else:
                    self.warnings += 1

    def _count(self, finding: Finding) -> None:
        self.by_code[finding.code] += 1
        if finding.is_error:
            self.errors += 1
        else:
            self.warnings += 1


def summarize(results: Iterable[RowResult | Finding]) -> Summary:
    """Count the results of judge_file (a judgement's batches counted whole: no RowResult is
    made for their rows)."""
    summary = Summary()
    batched = getattr(results, "batched", None)
    items = iter(results if batched is None else batched())
    while (item := next(items, None)) is not None:
        if isinstance(item, (RowResult, Finding)):
            summary.add(item)
        else:
            item.count(summary)
        del item  # a counted batch is let go before the next is judged
    return summary
