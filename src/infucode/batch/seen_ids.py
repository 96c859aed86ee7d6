"""A compact store of the encounter ids already seen, for the batch's duplicate-id check.

A Python ``set[str]`` of ids costs about 100 bytes per id (the string object plus the set slot), so
10 million encounters would hold about 1 GB in the parent process. :class:`SeenIds` keeps a 64-bit
hash of each id instead, about 8 bytes per id:

* The hash is ``blake2b(id as UTF-8, digest_size=8)`` read as a little-endian unsigned 64-bit
  integer: the same in every process and on every run (Python's ``hash()`` of a string is
  randomized per process, so workers could not compute it for the parent).
* The hashes live in sorted ``numpy.uint64`` runs merged like a binary counter (a small LSM tree):
  each chunk of ids becomes one new sorted run, and while a run is not larger than the one after
  it the two are merged (a linear merge: numpy's stable sort is a timsort, which merges two sorted
  halves in one pass). A chunk's ids are looked up in each run with
  ``numpy.searchsorted``.
* Memory: 8 bytes per distinct id held. A merge briefly holds its two inputs and its output, so
  merges stop at runs of :data:`MERGE_LIMIT` ids or a quarter of all ids, whichever is larger: a
  merge then needs at most 4 bytes per id more (instead of 8 when the two halves of everything
  merge). Measured with 10 million ids in chunks of 2000: 8.0 bytes per id held, a peak of 8.2
  (13.1 without the limit), 8 runs (5 without).
* Time: each chunk is looked up in every run, and a lookup in a large run costs a few cache and
  TLB misses per id: about 2 microseconds per id in the parent at 10 million ids (the hashing,
  about as much again, is done by the workers).

Semantics match a set: within a chunk and across chunks, the first occurrence of an id is new and
every later one is reported as a duplicate, in input order.

Collisions: two *different* ids with the same 64-bit hash make the later one look like a
duplicate (it goes to the errors file instead of being coded; nothing is silently merged). Among
``n`` distinct ids the chance that any two collide is about ``n**2 / 2**65``: about 3e-8 at 1
million ids, 3e-6 at 10 million, 3e-4 at 100 million.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

__all__ = ["MERGE_LIMIT", "SeenIds", "hash_ids"]

_DTYPE = np.dtype("<u8")
#: Runs are not merged past this many ids (8 MB), or past a quarter of all ids if that is more.
MERGE_LIMIT = 1 << 20


def hash_ids(ids: Sequence[str]) -> bytes:
    """The 8-byte blake2b digest of each id, concatenated (what :meth:`SeenIds.add_hashes` takes)."""
    b2 = hashlib.blake2b
    return b"".join([b2(i.encode("utf-8", "surrogatepass"), digest_size=8).digest() for i in ids])


def _as_hashes(data: bytes | np.ndarray) -> np.ndarray:
    if isinstance(data, np.ndarray):
        return data.astype(np.uint64, copy=False)
    return np.frombuffer(data, dtype=_DTYPE).astype(np.uint64, copy=False)


class SeenIds:
    """Ids seen so far, as sorted runs of 64-bit hashes; see the module docstring."""

    __slots__ = ("_count", "_runs")

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []
        self._count = 0

    def __len__(self) -> int:
        """Distinct ids (hashes) stored."""
        return self._count

    @property
    def nbytes(self) -> int:
        """Bytes held by the runs (the numpy data; each run adds about 100 bytes of object overhead)."""
        return sum(run.nbytes for run in self._runs)

    @property
    def runs(self) -> int:
        return len(self._runs)

    def add(self, ids: Sequence[str]) -> np.ndarray:
        """Add a chunk of ids; returns a boolean array, True where the id was seen before (earlier
        in the chunk or in an earlier chunk)."""
        return self.add_hashes(hash_ids(ids))

    def add_hashes(self, data: bytes | np.ndarray) -> np.ndarray:
        """As :meth:`add`, given the ids' hashes (from :func:`hash_ids`, possibly computed in another
        process)."""
        hashes = _as_hashes(data)
        n = len(hashes)
        duplicate = np.ones(n, dtype=bool)
        if n == 0:
            return duplicate
        unique, first = np.unique(hashes, return_index=True)  # first occurrence of each, sorted
        known = np.zeros(len(unique), dtype=bool)
        for run in self._runs:
            pos = np.searchsorted(run, unique)
            np.minimum(pos, len(run) - 1, out=pos)
            known |= run[pos] == unique
        duplicate[first[~known]] = False
        new = unique[~known] if known.any() else unique
        if len(new):
            self._push(np.ascontiguousarray(new))
        return duplicate

    def __contains__(self, ident: str) -> bool:
        h = _as_hashes(hash_ids([ident]))[0]
        for run in self._runs:
            pos = int(np.searchsorted(run, h))
            if pos < len(run) and run[pos] == h:
                return True
        return False

    def _push(self, run: np.ndarray) -> None:
        """Add a run, then merge while some run is not larger than the one after it (the binary
        counter's rule, applied along the whole list so that runs left behind while the limit was
        lower merge once it has grown) and the merged run stays within the limit."""
        runs = self._runs
        runs.append(run)
        self._count += len(run)
        limit = max(MERGE_LIMIT, self._count // 4)
        i = len(runs) - 2
        while i >= 0:
            if len(runs[i]) <= len(runs[i + 1]) and len(runs[i]) + len(runs[i + 1]) <= limit:
                merged = np.concatenate((runs[i], runs[i + 1]))
                runs[i : i + 2] = [merged]  # the inputs are freed here, before sorting
                merged.sort(kind="stable")  # timsort: one linear merge of the two sorted halves
                i = len(runs) - 2
            else:
                i -= 1
