"""The batch path's memory of earlier rows' keys (judge.runs): past a threshold, on disk."""

import os
import random
import signal
import subprocess
import sys
import tempfile

import polars as pl

from training.sandbox.judge.runs import KeyRuns


def batch(keys: list[int], values: list[int]) -> pl.DataFrame:
    return pl.DataFrame(
        {"key": keys, "value": values}, schema={"key": pl.UInt64, "value": pl.UInt32}
    )


def test_keys_past_the_spill_threshold_go_to_files_and_memory_stays_within_a_run():
    """A million-row file's keys in small: 60 batches of 500 keys, 1,000 kept in memory. What
    the runs hold in memory never passes a run of the threshold plus a batch and the files'
    filters (10 bits a key, where the keys take 96); every key is still found, by batch and one
    at a time, with its last value."""
    randomness = random.Random(14)
    runs = KeyRuns(spill_keys=1_000)
    remembered: dict[int, int] = {}
    largest = 0
    for number in range(60):
        # Some keys again (their value is the newest), most of them new, a few small ones.
        keys = [randomness.choice(list(remembered)) for _ in range(20)] if remembered else []
        keys += [randomness.getrandbits(64) or 1 for _ in range(480 - len(keys))]
        keys += [randomness.randrange(1, 50) for _ in range(20)]
        values = [randomness.randrange(1 << 32) for _ in keys]
        asked = pl.Series(keys, dtype=pl.UInt64)
        assert runs.lookup(asked).to_list() == [remembered.get(key) for key in keys], number
        runs.add(batch(keys, values))
        remembered.update(zip(keys, values, strict=True))
        largest = max(largest, runs.nbytes - len(remembered) * 10 // 8)
    assert len(remembered) > 25_000
    assert runs.spilled >= 20
    assert largest <= (1_000 + 500) * 12
    sample = randomness.sample(list(remembered), 500)
    assert [runs.lookup_one(key) for key in sample] == [remembered[key] for key in sample]
    # Keys never given: not found (a filter may let one through to the file, which has not it).
    strangers = [randomness.getrandbits(64) or 1 for _ in range(2_000)]
    strangers = [key for key in strangers if key not in remembered]
    assert runs.lookup(pl.Series(strangers, dtype=pl.UInt64)).null_count() == len(strangers)
    assert all(runs.lookup_one(key) is None for key in strangers[:200])


def test_a_few_keys_asked_of_a_run_on_disk_are_found_one_at_a_time():
    """A run in a file is searched where it is mapped when few keys may be in it, and as
    columns when many may: the same values either way."""
    keys = list(range(10, 20_010, 2))
    runs = KeyRuns(spill_keys=5_000)
    runs.add(batch(keys, [key * 3 for key in keys]))
    assert runs.spilled == 1
    assert runs.nbytes <= 10_000 * 10 // 8 + 64
    few = [12, 13, 20_008, 9]
    assert runs.lookup(pl.Series(few, dtype=pl.UInt64)).to_list() == [36, None, 60_024, None]
    many = list(range(0, 20_020, 3))
    expected = [key * 3 if key in set(keys) else None for key in many]
    assert runs.lookup(pl.Series(many, dtype=pl.UInt64)).to_list() == expected


def test_the_runs_files_have_no_name_in_the_temporary_folder(tmp_path, monkeypatch):
    """The runs in files are found as before, and nothing of them is in the temporary folder,
    where a worker killed while judging would leave it."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    runs = KeyRuns(spill_keys=10)
    runs.add(batch(list(range(1, 30)), list(range(29))))
    runs.add(batch(list(range(30, 60)), list(range(30))))
    assert runs.spilled == 2
    assert runs.lookup(pl.Series([3, 45, 99], dtype=pl.UInt64)).to_list() == [2, 15, None]
    assert runs.lookup_one(59) == 29
    assert list(tmp_path.iterdir()) == []
    runs.close()
    assert runs.spilled == 0


KILLED_WORKER = """
import os, signal
import polars as pl
from training.sandbox.judge.runs import KeyRuns
runs = KeyRuns(spill_keys=10)
runs.add(pl.DataFrame({"key": list(range(1, 30)), "value": list(range(29))},
                      schema={"key": pl.UInt64, "value": pl.UInt32}))
assert runs.spilled == 1
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_worker_killed_with_runs_in_files_leaves_no_files_behind(tmp_path):
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_WORKER],
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert list(tmp_path.iterdir()) == []
