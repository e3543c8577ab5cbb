"""What the batch path remembers across rows: 64-bit keys in sorted runs (polars columns).

RowJudge remembers one number a key (a row's record key, a learner's completion, an ABS day)
in a CompactIndex, one row at a time. The batch path (``judge.batches``) keeps the same
numbers as sorted runs of (key, value) columns, 12 bytes a key outside Python's objects, and
looks up a whole batch's keys at once.
"""

from __future__ import annotations

import polars as pl


def _last_of_each_key(frame: pl.DataFrame) -> pl.DataFrame:
    """A frame sorted by key, each key kept once: its last row (no hash table, so that merging
    a million keys takes little more than the runs themselves)."""
    key = pl.col("key")
    return frame.filter((key != key.shift(-1)).fill_null(value=True))


class KeyRuns:
    """A map from 64-bit keys to small ints as sorted runs: each batch adds one, merged with the
    run before it while that one is at most twice its size (so there are about log2(batches)
    runs, and adding n keys costs O(n log n)). The newest run holding a key has its value."""

    def __init__(self) -> None:
        self._runs: list[pl.DataFrame] = []

    @property
    def empty(self) -> bool:
        """Whether nothing is remembered yet."""
        return not self._runs

    @property
    def nbytes(self) -> int:
        """The memory the runs take."""
        return sum(run.estimated_size() for run in self._runs)

    def lookup(self, keys: pl.Series) -> pl.Series:
        """Each key's value, or null (keys hold no null)."""
        found = pl.Series("value", [None] * len(keys), dtype=pl.UInt32)
        for run in reversed(self._runs):
            run_keys = run["key"]
            at = run_keys.search_sorted(keys).clip(0, run.height - 1)
            hit = run_keys.gather(at) == keys
            found = (
                pl.DataFrame({"found": found, "hit": hit, "value": run["value"].gather(at)})
                .select(
                    pl.when(pl.col("found").is_null() & pl.col("hit"))
                    .then(pl.col("value"))
                    .otherwise(pl.col("found"))
                )
                .to_series()
            )
        return found

    def lookup_one(self, key: int) -> int | None:
        """One key's value, or None."""
        for run in reversed(self._runs):
            run_keys = run["key"]
            at = run_keys.search_sorted(key)
            if at < run.height and run_keys[at] == key:
                return run["value"][at]
        return None

    def add(self, frame: pl.DataFrame) -> None:
        """Remember (key: UInt64, value: UInt32) rows; a key given twice keeps its last value."""
        if frame.height == 0:
            return
        runs = self._runs
        runs.append(_last_of_each_key(frame.sort("key", maintain_order=True)))
        while len(runs) > 1 and runs[-2].height <= 2 * runs[-1].height:
            newer = runs.pop()
            # On equal keys merge_sorted puts the older run's row first: the newer one is kept.
            runs.append(_last_of_each_key(runs.pop().merge_sorted(newer, "key")))


class BatchIndex:
    """RowJudge's index (get, set) over KeyRuns while one batch is judged: the keys its rows
    will ask for are looked up together first (``load``); a key not loaded (a row judged
    whole) is looked up alone; what is set is kept here, and ``flush`` adds it to the runs as
    one run with the values set for the batch's other rows."""

    __slots__ = ("_changed", "_held", "runs")

    def __init__(self, runs: KeyRuns) -> None:
        self.runs = runs
        self._held: dict[int, int | None] = {}
        self._changed: dict[int, int] = {}

    def load(self, keys: list[int], values: list[int | None]) -> None:
        """Keep the runs' values (None: not held) of keys the batch's rows will ask for."""
        self._held.update(zip(keys, values, strict=True))

    def get(self, key: int) -> int | None:
        """The value for the key, or None."""
        held = self._held
        if key in held:
            return held[key]
        value = held[key] = self.runs.lookup_one(key)
        return value

    def set(self, key: int, value: int) -> None:
        """Set the value for the key."""
        self._held[key] = value
        self._changed[key] = value

    def reserve(self, count: int) -> None:
        """Nothing to make room for: runs grow as batches are added."""

    def flush(self, others: pl.DataFrame | None = None) -> None:
        """Add what was set, after ``others`` (key, value rows set for the batch's other rows),
        to the runs as one run, and forget the batch's keys."""
        changed = pl.DataFrame(
            {"key": list(self._changed), "value": list(self._changed.values())},
            schema={"key": pl.UInt64, "value": pl.UInt32},
        )
        frames = [
            frame.select(pl.col("key").cast(pl.UInt64), pl.col("value").cast(pl.UInt32))
            for frame in (others, changed)
            if frame is not None and frame.height
        ]
        if frames:
            self.runs.add(pl.concat(frames) if len(frames) > 1 else frames[0])
        self._held.clear()
        self._changed.clear()
