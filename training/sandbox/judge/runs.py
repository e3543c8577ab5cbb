"""What the batch path remembers across rows: 64-bit keys in sorted runs (polars columns).

RowJudge remembers one number a key (a row's record key, a learner's completion, an ABS day)
in a CompactIndex, one row at a time. The batch path (``judge.batches``) keeps the same
numbers as sorted runs of (key, value) columns, 12 bytes a key outside Python's objects, and
looks up a whole batch's keys at once. Past ``SPILL_KEYS`` keys a run goes to a temporary
file, so that the keys a process holds do not grow with the file. The files have no name (the
system's unnamed temporary files): a worker killed while judging leaves nothing behind.
"""

from __future__ import annotations

import mmap
import operator
import tempfile
import weakref
from array import array
from bisect import bisect_left
from functools import reduce

import polars as pl

# The keys a KeyRuns holds in memory (12 bytes each, about 0.8 MB) before its run is written
# to a temporary file.
SPILL_KEYS = 1 << 16


def _last_of_each_key(frame: pl.DataFrame) -> pl.DataFrame:
    """A frame sorted by key, each key kept once: its last row (no hash table, so that merging
    a million keys takes little more than the runs themselves)."""
    key = pl.col("key")
    return frame.filter((key != key.shift(-1)).fill_null(value=True))


def _found(run: pl.DataFrame, keys: pl.Series) -> pl.Series:
    """Each key's value in one sorted run, or null."""
    run_keys = run["key"]
    at = run_keys.search_sorted(keys).clip(0, run.height - 1)
    return pl.select(pl.when(run_keys.gather(at) == keys).then(run["value"].gather(at))).to_series()


# A run in a file has a Bloom filter in memory, 10 bits a key (about 1 in 40 keys it does
# not hold is looked for in the file anyway): most of a batch's keys are new, and are not.
_HASHES = 3
_BITS_A_KEY = 10
# Each hash is taken of its own 21 of a key's 64 bits (a key is a hash already: a SHA-256
# prefix or the file's xxh3).
_HASH_BITS = 64 // _HASHES


def _filter_size(keys: int) -> int:
    """The bits of a filter for this many keys."""
    return min(max(keys * _BITS_A_KEY, 64), 1 << _HASH_BITS)


def _position(keys: pl.Series, size: int, number: int) -> pl.Series:
    """Where hash ``number`` puts each key in a filter of ``size`` bits."""
    return ((keys // (1 << (_HASH_BITS * number))) % (1 << _HASH_BITS) % size).cast(pl.UInt32)


def _positions(keys: pl.Series, size: int) -> list[pl.Series]:
    """Where each hash puts each key in a filter of ``size`` bits."""
    return [_position(keys, size, number) for number in range(_HASHES)]


def _filter(keys: pl.Series, size: int) -> pl.Series:
    """The filter: a Boolean a bit (polars packs them), set where a hash puts a key; a hash
    at a time, so that the run's positions are never all held."""
    bits = pl.Series("filter", [False], dtype=pl.Boolean).extend_constant(value=False, n=size - 1)
    for number in range(_HASHES):
        bits = bits.scatter(_position(keys, size, number), values=True)
    return bits


class _Spilled:
    """One run in a temporary file, its keys then its values as raw arrays, mapped (read only
    where a key is looked for); with a filter in memory of which keys may be there. The file
    has no name: the mapping keeps it, and the system frees it when the mapping goes, however
    the process ends."""

    __slots__ = ("_keys", "_map", "_values", "filter", "height", "size")

    def __init__(self, run: pl.DataFrame) -> None:
        self.height = run.height
        self.size = _filter_size(run.height)
        self.filter = _filter(run["key"], self.size)
        with tempfile.TemporaryFile(prefix="sandbox-keys-") as handle:
            # A slice at a time, so that Python never holds a run's numbers.
            for column, code in (("key", "Q"), ("value", "I")):
                for start in range(0, run.height, 8192):
                    array(code, run[column].slice(start, 8192).to_list()).tofile(handle)
            handle.flush()
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        view = memoryview(self._map)
        self._keys = view[: 8 * run.height].cast("Q")
        self._values = view[8 * run.height :].cast("I")

    def may_hold(self, positions: list[pl.Series]) -> pl.Series:
        """Whether each key may be in the run (False: it is not)."""
        bits = self.filter
        return reduce(operator.and_, (bits.gather(position) for position in positions))

    def found(self, keys: pl.Series) -> pl.Series:
        """Each key's value, or null: many keys searched in the run as columns, a few one at a
        time where the run is mapped; then the run's pages are let go of."""
        if len(keys) * 64 > self.height:
            run = pl.DataFrame(
                {
                    "key": pl.Series(self._keys, dtype=pl.UInt64),
                    "value": pl.Series(self._values, dtype=pl.UInt32),
                }
            )
            found = _found(run, keys)
            del run
        else:
            found = pl.Series([self.get(key) for key in keys.to_list()], dtype=pl.UInt32)
        self.forget_pages()
        return found

    def get(self, key: int) -> int | None:
        """One key's value, or None."""
        keys = self._keys
        at = bisect_left(keys, key)
        if at < len(keys) and keys[at] == key:
            return self._values[at]
        return None

    def forget_pages(self) -> None:
        """Let the process's memory go of the pages read (the file keeps them)."""
        if hasattr(mmap, "MADV_DONTNEED"):  # not on every system
            self._map.madvise(mmap.MADV_DONTNEED)

    def close(self) -> None:
        self._keys.release()
        self._values.release()
        self._map.close()


def _remove(spilled: list[_Spilled]) -> None:
    for run in spilled:
        run.close()
    spilled.clear()


class KeyRuns:
    """A map from 64-bit keys to small ints as sorted runs: each batch's keys are merged into
    one run in memory; when that run reaches ``spill_keys`` keys it is written to a temporary
    file, and the next batches start a new one. The newest run holding a key has its value.

    A batch's keys are looked up in each run in turn, a file's run read whole while it is
    searched (at most ``spill_keys`` keys, so the memory the runs take stays near two runs'
    however large the file); one key at a time, a file's run is searched where it is mapped.
    The files go with the KeyRuns (or ``close``)."""

    def __init__(self, spill_keys: int | None = None) -> None:
        self._run: pl.DataFrame | None = None
        self._spill_keys = SPILL_KEYS if spill_keys is None else spill_keys
        self._spilled: list[_Spilled] = []
        self._finalizer = weakref.finalize(self, _remove, self._spilled)

    @property
    def empty(self) -> bool:
        """Whether nothing is remembered yet."""
        return self._run is None and not self._spilled

    @property
    def nbytes(self) -> int:
        """The memory the runs take: the run held in memory, and the filters of the runs in
        files (about 1.25 bytes a key)."""
        held = 0 if self._run is None else self._run.estimated_size()
        return held + sum(spilled.filter.estimated_size() for spilled in self._spilled)

    @property
    def spilled(self) -> int:
        """How many runs are in files."""
        return len(self._spilled)

    def close(self) -> None:
        """Remove the runs' files."""
        self._finalizer()

    def lookup(self, keys: pl.Series) -> pl.Series:
        """Each key's value, or null (keys hold no null)."""
        found: list[pl.Series] = []
        if self._run is not None:
            found.append(_found(self._run, keys))
        positions: dict[int, list[pl.Series]] = {}
        for spilled in reversed(self._spilled):
            if spilled.size not in positions:
                positions[spilled.size] = _positions(keys, spilled.size)
            maybe = spilled.may_hold(positions[spilled.size])
            if not maybe.any():
                continue
            values = spilled.found(keys.filter(maybe))
            nothing = pl.repeat(None, len(keys), dtype=pl.UInt32, eager=True)
            found.append(nothing.scatter(maybe.arg_true(), values))
        if not found:
            return pl.repeat(None, len(keys), dtype=pl.UInt32, eager=True).alias("value")
        if len(found) == 1:
            return found[0].alias("value")
        return pl.select(pl.coalesce(found)).to_series().alias("value")

    def lookup_one(self, key: int) -> int | None:
        """One key's value, or None."""
        run = self._run
        if run is not None:
            run_keys = run["key"]
            at = run_keys.search_sorted(key)
            if at < run.height and run_keys[at] == key:
                return run["value"][at]
        for spilled in reversed(self._spilled):
            value = spilled.get(key)
            if value is not None:
                return value
        return None

    def add(self, frame: pl.DataFrame) -> None:
        """Remember (key: UInt64, value: UInt32) rows; a key given twice keeps its last value."""
        for spilled in self._spilled:
            spilled.forget_pages()
        if frame.height == 0:
            return
        # One stable sort of the run and the batch's keys together (the older run's rows first,
        # so a key's last row is its newest): a third less CPU than sorting the batch's keys
        # and merging them into the run, each taken once.
        frames = [frame] if self._run is None else [self._run, frame]
        run = _last_of_each_key(pl.concat(frames).sort("key", maintain_order=True))
        self._run = None
        if run.height < self._spill_keys:
            self._run = run
            return
        self._spilled.append(_Spilled(run))


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
