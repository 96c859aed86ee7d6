"""Imported CMS releases, kept by the period they are valid for, and the tables in force on a date of service.

The official files, read with :mod:`infucode.reference.cms_files` (never a second parser):

* MUE - CMS "Medically Unlikely Edits" (Medicare NCCI MUE tables), quarterly, one CSV per setting:
  ``MCR_MUE_PractitionerServices_Eff_10-01-2024.csv``, ``MCR_MUE_OutpatientHospitalServices_Eff_10-01-2024.csv``
  (https://www.cms.gov/medicare/coding-billing/national-correct-coding-initiative-ncci-edits/medicare-ncci-medically-unlikely-edits).
* PTP - CMS "NCCI Procedure-to-Procedure (PTP) edits", quarterly, four parts per setting, tab-delimited TXT:
  ``ccipra-v302r0-f1.txt`` (practitioner) / ``ccioph-v302r0-f1.txt`` (outpatient hospital); version 30.2 =
  the third quarter of 2024 (version NN.q: year 1994 + NN, quarter q + 1).
  Only the edits touching 96360-96549 are kept, with their effective and deletion dates.
* RVU - CMS "PFS Relative Value Files" RVUyyA-D (January, April, July, October), the national PPRRVU CSV
  inside: ``PPRRVU24_JUL.csv`` (RVU24C). The work RVU of each code without a modifier is kept.

:class:`ReleaseStore` keeps them in one SQLite database (``cms-releases.sqlite3``) under a data directory
(``--data-dir``, else ``$INFUCODE_DATA_DIR``, else the user data directory, e.g. ``~/.local/share/infucode``).
Every imported file is a row of ``releases`` (name, kind, part, file name, sha256, valid from/to, imported
at, row count); a PTP release is one name (``ccipra-v302r0``) with up to four parts. Two releases of the
same kind may not cover the same day; re-importing a file with the same sha256 does nothing.

Date-of-service selection: ``store.tables_on(day, codes, ptp)`` (the ``ruleset.TablesByDate`` protocol,
attached with ``ruleset.with_releases(store)``) builds, for that date of service, the code table with
the MUE and wRVU of the releases in force and the PTP table of the edits in force (effective on or
before the date, deletion date empty or after it), and names every release used; where none is in force,
that part stays the bundled table and says so. Tables are cached per release combination, so a batch of
claims builds each combination once.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
import sys
import threading
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import lru_cache
from pathlib import Path

from . import cms_files
from .codes import CodeTable, Mue
from .dated_tables import DatedTables
from .ncci import OUTPATIENT_HOSPITAL, PRACTITIONER, PtpEdit, PtpTable
from .release_kinds import KINDS, ImportFailure, Kind, detect_kind, kind_named, period_from_name, quarter_end, release_name
from .release_records import ImportOutcome, Release, ReleaseFile

__all__ = ["KINDS", "DATABASE_NAME", "ImportFailure", "ImportOutcome", "Kind", "Release", "ReleaseFile",
           "ReleaseStore", "default_data_dir", "detect_kind", "kind_named", "open_store",
           "period_from_name"]

DATABASE_NAME = "cms-releases.sqlite3"
_SCHEMA_VERSION = 1


def default_data_dir() -> Path:
    """``$INFUCODE_DATA_DIR``, else the platform's user data directory for infucode."""
    env = os.environ.get("INFUCODE_DATA_DIR")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "infucode"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "infucode"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "infucode"



@dataclass(frozen=True, slots=True)
class _Choice:
    """The releases in force on a day, per kind, and the PTP edit epoch of each PTP release."""

    mue_practitioner: Release | None
    mue_outpatient_hospital: Release | None
    ptp_practitioner: Release | None
    ptp_hospital: Release | None
    rvu: Release | None
    ptp_epochs: tuple[str, str]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS releases (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,              -- the CMS release (a PTP file's name without -f1..-f4)
    kind        TEXT NOT NULL,              -- mue_practitioner | mue_outpatient_hospital | ptp_practitioner | ptp_hospital | rvu
    part        TEXT NOT NULL DEFAULT '',   -- f1..f4 for PTP parts
    file_name   TEXT NOT NULL,
    sha256      TEXT NOT NULL UNIQUE,
    valid_from  TEXT NOT NULL,              -- YYYY-MM-DD inclusive
    valid_to    TEXT NOT NULL,              -- YYYY-MM-DD inclusive
    imported_at TEXT NOT NULL,
    row_count   INTEGER NOT NULL,
    UNIQUE (kind, name, part)
);
CREATE TABLE IF NOT EXISTS mue_rows (
    release_id INTEGER NOT NULL REFERENCES releases(id),
    code       TEXT NOT NULL,
    mue_value  INTEGER NOT NULL,
    mai        INTEGER NOT NULL,
    rationale  TEXT
);
CREATE INDEX IF NOT EXISTS mue_rows_release ON mue_rows(release_id);
CREATE TABLE IF NOT EXISTS ptp_rows (
    release_id         INTEGER NOT NULL REFERENCES releases(id),
    col1               TEXT NOT NULL,
    col2               TEXT NOT NULL,
    effective          TEXT NOT NULL,       -- YYYYMMDD
    deletion           TEXT,                -- YYYYMMDD, NULL while in effect ('*' in the file)
    modifier_indicator INTEGER NOT NULL,
    rationale          TEXT
);
CREATE INDEX IF NOT EXISTS ptp_rows_release ON ptp_rows(release_id);
CREATE TABLE IF NOT EXISTS rvu_rows (
    release_id INTEGER NOT NULL REFERENCES releases(id),
    code       TEXT NOT NULL,
    work_rvu   REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS rvu_rows_release ON rvu_rows(release_id);
"""
_ROW_TABLES = ("mue_rows", "ptp_rows", "rvu_rows")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _overlaps(a_from: str, a_to: str, b_from: str, b_to: str) -> bool:
    return a_from <= b_to and b_from <= a_to


class ReleaseStore:
    """The imported CMS releases in ``<data_dir>/cms-releases.sqlite3``.

    ``ReleaseStore(dir)`` opens an existing database (without one, the store is empty and every date
    falls back to the bundled tables); ``ReleaseStore(dir, create=True)`` creates it for importing.
    """

    def __init__(self, data_dir: str | Path | None = None, *, create: bool = False, file: str | Path | None = None) -> None:
        # ``file``: the database itself under another name (a copy shipped to a Spark executor)
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        self.path = Path(file) if file is not None else self.data_dir / DATABASE_NAME
        if file is not None:
            self.data_dir = self.path.parent
        self._db: sqlite3.Connection | None = None
        if create or self.path.exists():
            if create:
                self.data_dir.mkdir(parents=True, exist_ok=True)
            # The web server audits from its thread pool: one connection, reads serialised by _lock.
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            if create:
                self._db.executescript(_SCHEMA)
                self._db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        self._releases: tuple[Release, ...] = ()
        self._lock = threading.RLock()
        self._reload()

    @property
    def exists(self) -> bool:
        return self._db is not None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> "ReleaseStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ReleaseStore({str(self.data_dir)!r}, releases={len(self._releases)})"

    # ---------------------------------------------------------------- what is stored
    def releases(self) -> list[Release]:
        """Every release, by kind and period."""
        return list(self._releases)

    def files(self) -> list[ReleaseFile]:
        return [f for r in self._releases for f in r.files]

    def release_in_force(self, kind: str, day: str) -> Release | None:
        """The release of ``kind`` in force on ``day`` (YYYY-MM-DD), if any was imported."""
        found = [r for r in self._releases if r.kind == kind and r.in_force(day)]
        return max(found, key=lambda r: r.valid_from) if found else None

    def _reload(self) -> None:
        self._releases = tuple(self._group(self._read_files()))
        # the caches depend on what is stored
        self._choice = lru_cache(maxsize=4096)(self._choose)
        self._code_table = lru_cache(maxsize=64)(self._build_code_table)
        self._ptp_table = lru_cache(maxsize=256)(self._build_ptp_table)
        self._mue_values = lru_cache(maxsize=32)(self._read_mue_values)
        self._rvu_values = lru_cache(maxsize=32)(self._read_rvu_values)
        self._ptp_edits = lru_cache(maxsize=32)(self._read_ptp_edits)

    def _read_files(self) -> list[ReleaseFile]:
        if self._db is None:
            return []
        cur = self._db.execute(
            "SELECT id, name, kind, part, file_name, sha256, valid_from, valid_to, imported_at, row_count "
            "FROM releases ORDER BY kind, valid_from, name, part")
        return [ReleaseFile(*row) for row in cur]

    @staticmethod
    def _group(files: Iterable[ReleaseFile]) -> Iterator[Release]:
        groups: dict[tuple[str, str], list[ReleaseFile]] = {}
        for f in files:
            groups.setdefault((f.kind, f.name), []).append(f)
        for (kind, name), parts in groups.items():
            yield Release(name, kind, min(p.valid_from for p in parts), max(p.valid_to for p in parts), tuple(parts))

    # ---------------------------------------------------------------- importing
    def import_file(self, path: str | Path, *, kind: Kind | str | None = None, valid_from: date | None = None,
                    valid_to: date | None = None, replace: bool = False) -> ImportOutcome:
        """Import one CMS file. Raises ImportFailure naming the file (and the row) when it cannot be."""
        if self._db is None:
            raise ImportFailure(f"{self.path}: the store was opened read-only; open it with create=True")
        path = Path(path)
        try:
            digest = _sha256(path)
        except OSError as exc:
            raise ImportFailure(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
        same = next((f for f in self.files() if f.sha256 == digest), None)
        if same is not None:
            return ImportOutcome("unchanged", f"{path}: already imported as {same.name} "
                                 f"({KINDS[same.kind].label}, {same.valid_from} to {same.valid_to}) on "
                                 f"{same.imported_at[:10]}; nothing to do", same.name, same.kind)
        kind = kind_named(kind) if isinstance(kind, str) else (kind or detect_kind(path))
        start, end = self._period(kind, path, valid_from, valid_to)
        name, part = release_name(kind, path)
        conflicts = self._conflicts(kind, name, part, start, end)
        if conflicts and not replace:
            clash = "; ".join(f"{f.name}{' ' + f.part if f.part else ''} ({f.file_name}, {f.valid_from} to "
                              f"{f.valid_to})" for f in conflicts)
            raise ImportFailure(f"{path}: {KINDS[kind.key].label} {name}{' ' + part if part else ''} "
                                f"({start} to {end}) overlaps the imported {clash}; remove it with "
                                f"'infucode data remove' or import with --replace")
        try:
            with self._db:
                for f in conflicts:
                    self._delete_file(f.id)
                cur = self._db.execute(
                    "INSERT INTO releases (name, kind, part, file_name, sha256, valid_from, valid_to, imported_at, "
                    "row_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
                    (name, kind.key, part, path.name, digest, start.isoformat(), end.isoformat(),
                     datetime.now(timezone.utc).isoformat(timespec="seconds")))
                release_id = cur.lastrowid
                rows = self._insert_rows(kind, release_id, path)
                self._db.execute("UPDATE releases SET row_count = ? WHERE id = ?", (rows, release_id))
        except ValueError as exc:           # the readers name the file, the row and the line
            raise ImportFailure(str(exc)) from None
        except OSError as exc:
            raise ImportFailure(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
        finally:
            self._reload()
        replaced = tuple(sorted({f"{f.name}{' ' + f.part if f.part else ''}" for f in conflicts}))
        what = "drug-administration edits" if kind.family == "ptp" else "rows"
        message = (f"{path}: imported {kind.label} {name}{' ' + part if part else ''}, in force {start} to "
                   f"{end}: {rows} {what}" + (f" (replaced {', '.join(replaced)})" if replaced else ""))
        return ImportOutcome("imported", message, name, kind.key, rows, replaced)

    @staticmethod
    def _period(kind: Kind, path: Path, valid_from: date | None, valid_to: date | None) -> tuple[date, date]:
        inferred = period_from_name(kind, path.name)
        if valid_from is not None:
            start, end = valid_from, valid_to or quarter_end(valid_from)
        elif inferred is not None:
            start, end = inferred[0], valid_to or inferred[1]
        else:
            raise ImportFailure(f"{path}: cannot tell from its name which period this {kind.label} file is valid "
                                "for; pass --valid-from YYYY-MM-DD (and --valid-to), --quarter 2024Q3 or --year 2024")
        if end < start:
            raise ImportFailure(f"{path}: valid to {end} is before valid from {start}")
        return start, end

    def _conflicts(self, kind: Kind, name: str, part: str, start: date, end: date) -> list[ReleaseFile]:
        """Imported files of the same kind whose period overlaps: another release, or the same release
        with another period, or (for a PTP release) the same part again with other contents."""
        out = []
        for release in self._releases:
            if release.kind != kind.key:
                continue
            for f in release.files:
                if not _overlaps(f.valid_from, f.valid_to, start.isoformat(), end.isoformat()):
                    continue
                same_period = (f.valid_from, f.valid_to) == (start.isoformat(), end.isoformat())
                another_part = kind.family == "ptp" and f.name == name and f.part != part and same_period
                if not another_part:
                    out.append(f)
        return out

    def _insert_rows(self, kind: Kind, release_id: int, path: Path) -> int:
        db = self._db
        assert db is not None
        if kind.family == "mue":
            mues = cms_files.read_mue_file(path)
            rows = ((release_id, code, m.value, m.mai, m.rationale) for code, m in mues.items())
            sql = "INSERT INTO mue_rows VALUES (?, ?, ?, ?, ?)"
        elif kind.family == "ptp":
            edits = cms_files.iter_ptp_file(path, kind.setting, every_date=True)
            rows = ((release_id, e.col1, e.col2, e.effective, e.deletion, e.modifier_indicator, e.rationale)
                    for e in edits)
            sql = "INSERT INTO ptp_rows VALUES (?, ?, ?, ?, ?, ?, ?)"
        else:
            values = cms_files.read_pfs_rvu_file(path)
            rows = ((release_id, code, wrvu) for code, wrvu in values.items())
            sql = "INSERT INTO rvu_rows VALUES (?, ?, ?)"
        count = 0

        def counted(items):
            nonlocal count
            for item in items:
                count += 1
                yield item

        db.executemany(sql, counted(rows))
        return count

    def _delete_file(self, file_id: int) -> None:
        assert self._db is not None
        for table in _ROW_TABLES:
            self._db.execute(f"DELETE FROM {table} WHERE release_id = ?", (file_id,))
        self._db.execute("DELETE FROM releases WHERE id = ?", (file_id,))

    def remove(self, name: str) -> list[ReleaseFile]:
        """Remove a release (by release name, or one file by its file name); returns the files removed."""
        doomed = [f for f in self.files() if name in (f.name, f.file_name, Path(f.file_name).stem)]
        if not doomed:
            raise KeyError(f"no imported release or file named {name!r}")
        if self._db is None:
            raise ImportFailure(f"{self.path}: the store was opened read-only")
        with self._db:
            for f in doomed:
                self._delete_file(f.id)
        self._reload()
        return doomed

    # ---------------------------------------------------------------- reading rows back
    def _read_mue_values(self, release: Release) -> dict[str, Mue]:
        assert self._db is not None
        ids = [f.id for f in release.files]
        cur = self._db.execute(f"SELECT code, mue_value, mai, rationale FROM mue_rows WHERE release_id IN "
                               f"({','.join('?' * len(ids))})", ids)
        return {code: Mue(value, mai, rationale, source="CMS-MUE-FILE") for code, value, mai, rationale in cur}

    def _read_rvu_values(self, release: Release) -> dict[str, float]:
        assert self._db is not None
        ids = [f.id for f in release.files]
        cur = self._db.execute(f"SELECT code, work_rvu FROM rvu_rows WHERE release_id IN "
                               f"({','.join('?' * len(ids))})", ids)
        return dict(cur.fetchall())

    def _read_ptp_edits(self, release: Release) -> tuple[tuple[PtpEdit, ...], tuple[str, ...]]:
        """Every stored edit of a PTP release, and the sorted dates on which its edits start or end."""
        assert self._db is not None
        setting = KINDS[release.kind].setting
        ids = [f.id for f in release.files]
        cur = self._db.execute(
            "SELECT col1, col2, modifier_indicator, rationale, effective, deletion FROM ptp_rows "
            f"WHERE release_id IN ({','.join('?' * len(ids))}) ORDER BY release_id, rowid", ids)
        edits = tuple(PtpEdit(c1, c2, mod, rationale or "", setting, effective=eff, deletion=dele,
                              source="CMS-PTP-FILE") for c1, c2, mod, rationale, eff, dele in cur)
        breakpoints = sorted({e.effective for e in edits} | {e.deletion for e in edits if e.deletion})
        return edits, tuple(breakpoints)

    # ---------------------------------------------------------------- date-of-service selection
    def _epoch(self, release: Release | None, day: str) -> str:
        """The last date on or before ``day`` on which an edit of ``release`` started or ended: every day
        of one epoch has the same edits in force, so the PTP table is built once per epoch."""
        if release is None:
            return ""
        _, breakpoints = self._ptp_edits(release)
        i = bisect_right(breakpoints, day.replace("-", ""))
        return breakpoints[i - 1] if i else ""

    def _choose(self, day: str) -> _Choice:
        ptp_p = self.release_in_force("ptp_practitioner", day)
        ptp_h = self.release_in_force("ptp_hospital", day)
        return _Choice(
            mue_practitioner=self.release_in_force("mue_practitioner", day),
            mue_outpatient_hospital=self.release_in_force("mue_outpatient_hospital", day),
            ptp_practitioner=ptp_p,
            ptp_hospital=ptp_h,
            rvu=self.release_in_force("rvu", day),
            ptp_epochs=(self._epoch(ptp_p, day), self._epoch(ptp_h, day)),
        )

    def _build_code_table(self, base: CodeTable, mue_practitioner: Release | None,
                          mue_hospital: Release | None, rvu: Release | None) -> CodeTable:
        table = base
        if mue_practitioner is not None:
            table = table.with_mue(self._mue_values(mue_practitioner), None, mue_practitioner.name)
        if mue_hospital is not None:
            table = table.with_mue(None, self._mue_values(mue_hospital), mue_hospital.name)
        if rvu is not None:
            table = table.with_wrvu(self._rvu_values(rvu), rvu.name)
        return table

    def _build_ptp_table(self, base: PtpTable, practitioner: Release | None, hospital: Release | None,
                         epochs: tuple[str, str]) -> PtpTable:
        if practitioner is None and hospital is None:
            return base
        edits: list[PtpEdit] = []
        names = []
        for setting, release, epoch in ((PRACTITIONER, practitioner, epochs[0]),
                                        (OUTPATIENT_HOSPITAL, hospital, epochs[1])):
            if release is None:
                edits.extend(e for e in base if e.setting == setting)
                names.append(f"{setting.lower()}: bundled {base.release}")
            else:
                edits.extend(e for e in self._ptp_edits(release)[0] if e.in_force(epoch))
                names.append(f"{setting.lower()}: {release.name}")
        return PtpTable(edits, "; ".join(names))

    def tables_on(self, day: str, codes: CodeTable, ptp: PtpTable) -> DatedTables:
        """The tables in force on ``day`` (YYYY-MM-DD) and the release behind each part; ``codes`` and
        ``ptp`` are the tables to fall back to (the bundled ones)."""
        with self._lock:
            choice = self._choice(day)
            table = self._code_table(codes, choice.mue_practitioner, choice.mue_outpatient_hospital, choice.rvu)
            edits = self._ptp_table(ptp, choice.ptp_practitioner, choice.ptp_hospital, choice.ptp_epochs)
        releases = {key: (release.describe() if release is not None
                          else f"bundled (no imported release in force on {day})")
                    for key, release in (("mue_practitioner", choice.mue_practitioner),
                                         ("mue_outpatient_hospital", choice.mue_outpatient_hospital),
                                         ("ptp_practitioner", choice.ptp_practitioner),
                                         ("ptp_hospital", choice.ptp_hospital),
                                         ("rvu", choice.rvu))}
        return DatedTables(table, edits, releases)


def open_store(data_dir: str | Path | None) -> ReleaseStore:
    """The store a command codes or audits with. An explicit ``data_dir`` must hold the database; the default
    directory may not (the store is then empty and every date uses the bundled tables). Raises ValueError with
    the reason when the directory has no database or the database cannot be read."""
    if data_dir is not None and not (Path(data_dir) / DATABASE_NAME).is_file():
        raise ValueError(f"no imported CMS data in {data_dir} (no {DATABASE_NAME}); "
                         "import files with 'infucode data import FILE --data-dir DIR'")
    try:
        return ReleaseStore(data_dir)
    except sqlite3.Error as exc:
        where = data_dir if data_dir is not None else default_data_dir()
        raise ValueError(f"cannot read the imported CMS data in {where}: {exc}") from None
