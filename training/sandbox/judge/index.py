"""A compact map from row keys to small numbers: what the judge remembers across rows."""

from __future__ import annotations

from array import array

# Flags packed with a row number into one CompactIndex value.
DELETE = 0b10
ACCEPTED = 0b01
CLEARED = 0b1  # for completions: an accepted Delete cleared the learner's completion


class CompactIndex:
    """A map from 64-bit hashes to small ints in two flat arrays: 12 bytes a slot.

    The judge remembers one entry per distinct row key (for DUPLICATE_ROW and friends); a
    dict would cost about 100 bytes an entry, this about 12-24 (the table stays under 2/3 full).
    A 64-bit hash collision could make two different rows look the same: at a million rows
    the chance is about 3 in 100 million.
    """

    __slots__ = ("_keys", "_mask", "_used", "_values")

    def __init__(self, size_bits: int = 10) -> None:
        size = 1 << size_bits
        self._keys = array("Q", [0]) * size
        self._values = array("I", [0]) * size
        self._mask = size - 1
        self._used = 0

    @staticmethod
    def hash_of(value: object) -> int:
        """The 64-bit key for a hashable value (never 0, which marks a free slot)."""
        return (hash(value) & 0xFFFF_FFFF_FFFF_FFFF) or 1

    def __len__(self) -> int:
        return self._used

    @property
    def nbytes(self) -> int:
        """The memory the two arrays take."""
        return len(self._keys) * 12

    def get(self, key: int) -> int | None:
        """The value for the key, or None."""
        # Inlined, not a shared method: this runs for every row, often more than once.
        keys, mask = self._keys, self._mask
        slot = (key ^ (key >> 32)) & mask
        while True:
            held = keys[slot]
            if held == key:
                return self._values[slot]
            if held == 0:
                return None
            slot = (slot + 1) & mask

    def set(self, key: int, value: int) -> None:
        """Set the value for the key."""
        # Inlined, as in get.
        keys, mask = self._keys, self._mask
        slot = (key ^ (key >> 32)) & mask
        while True:
            held = keys[slot]
            if held == key:
                self._values[slot] = value
                return
            if held == 0:
                break
            slot = (slot + 1) & mask
        keys[slot] = key
        self._values[slot] = value
        self._used += 1
        if self._used * 3 > len(keys) * 2:
            self._grow()

    def reserve(self, count: int) -> None:
        """Make room for ``count`` more keys now, so that the table does not double later,
        while the caller holds more memory than it does now."""
        while (self._used + count) * 3 > len(self._keys) * 2:
            self._grow()

    def _grow(self) -> None:
        old_keys, old_values = self._keys, self._values
        size = len(old_keys) * 2
        keys = array("Q", [0]) * size
        values = array("I", [0]) * size
        mask = size - 1
        for key, value in zip(old_keys, old_values, strict=True):
            if key:
                slot = (key ^ (key >> 32)) & mask
                while keys[slot]:
                    slot = (slot + 1) & mask
                keys[slot] = key
                values[slot] = value
        self._keys, self._values, self._mask = keys, values, mask
