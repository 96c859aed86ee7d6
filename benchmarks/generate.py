"""Seeded generator of realistic synthetic infusion encounters, written as JSON Lines.

    python benchmarks/generate.py N OUT.jsonl [--seed 1]
    python benchmarks/generate.py N OUT.parquet [--seed 1]     # or OUT.csv: one administration per row

The mix (by share of encounters): hydration alone; therapeutic infusions with pushes (antiemetics,
steroids, antihistamines, antibiotics, IVIG, iron, infliximab); chemotherapy days with
pre-medications and hydration; SC/IM injections; busy days with overlaps, gaps and same-day
repeats. A few records carry documentation errors on purpose: a missing stop time (~1%), a
missing route (~0.5%) and a bad time string (~0.1%, an input error). Settings are office and
facility; times are ``HH:MM`` on the encounter's date; nothing crosses midnight.

Writing streams (constant memory) and uses msgspec; the same N and seed give the same bytes.
The flat form (``flat_rows``, ``write_flat``, ``jsonl_to_flat``) has the columns of
``infucode.adapters.flat.INPUT_COLUMNS``, one administration per row; in Parquet the columns are
typed (``minutes`` int64, the flags bool, the quantities float64, the rest strings).
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import msgspec

from infucode.adapters.flat import BOOLEAN_COLUMNS, INPUT_COLUMNS, NUMBER_COLUMNS, rows_from_encounter

__all__ = ["flat_rows", "generate", "iter_encounters", "jsonl_to_flat", "write_flat", "write_jsonl"]

_DAY0 = date(2024, 1, 1)

# (drug name as documented, family, typical minutes (lo, hi), dose (value, unit) or None)
HYDRATION = [("normal saline", (1000, 500, 250)), ("NS", (1000, 500)), ("lactated Ringer's", (1000, 500)), ("LR", (1000,))]
PUSHES = [
    ("ondansetron", (4, 8), "mg"),
    ("Zofran", (4, 8), "mg"),
    ("dexamethasone", (4, 8, 10, 12), "mg"),
    ("diphenhydramine", (25, 50), "mg"),
    ("Benadryl", (25, 50), "mg"),
    ("famotidine", (20,), "mg"),
    ("iron sucrose", (100, 200), "mg"),
]
THERAPEUTIC_INFUSIONS = [
    ("ceftriaxone", (25, 45), (1000, 2000), "mg"),
    ("vancomycin", (60, 150), (1000, 1250, 1500), "mg"),
    ("Gammagard", (150, 300), (20, 30, 40), "g"),
    ("IVIG", (150, 300), (20, 35), "g"),
    ("iron sucrose", (15, 45), (200, 300), "mg"),
    ("infliximab", (110, 150), (300, 400, 500), "mg"),
    ("Remicade", (110, 150), (400,), "mg"),
    ("dexamethasone", (10, 20), (10, 12), "mg"),
    ("ondansetron", (15, 20), (8,), "mg"),
]
CHEMO = [
    ("paclitaxel", (170, 190), (140, 175, 300), "mg"),
    ("Taxol", (170, 190), (175,), "mg"),
    ("carboplatin", (30, 60), (300, 450, 600), "mg"),
    ("oxaliplatin", (110, 130), (130, 150), "mg"),
    ("rituximab", (180, 360), (500, 700), "mg"),
    ("Rituxan", (90, 240), (700,), "mg"),
    ("pembrolizumab", (28, 35), (200,), "mg"),
    ("Keytruda", (28, 35), (200, 400), "mg"),
]
INJECTIONS = [
    ("denosumab", "sc", (60, 120), "mg"),
    ("Prolia", "sc", (60,), "mg"),
    ("leuprolide", "im", (7.5, 22.5), "mg"),
    ("Lupron Depot", "im", (7.5,), "mg"),
    ("ceftriaxone", "im", (250, 500), "mg"),
    ("methylprednisolone acetate", "im", (40, 80), "mg"),
]
SITES = ("left forearm", "right forearm", "left AC", "right AC", "port", "left hand")
BAD_TIMES = ("25:70", "9h30", "10.75", "noon", "1O:15", "")


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


class _Builder:
    """Builds one encounter's administrations on a clock that only moves forward (no midnight)."""

    __slots__ = ("adms", "clock", "rng")

    def __init__(self, rng: random.Random, clock: int) -> None:
        self.rng = rng
        self.clock = clock
        self.adms: list[dict] = []

    def _add(self, adm: dict) -> dict:
        adm = {"id": f"a{len(self.adms) + 1}", **adm}
        self.adms.append(adm)
        return adm

    def _fits(self, minutes: int) -> bool:
        return self.clock + minutes < 23 * 60 + 50

    def push(self, drug: tuple) -> None:
        name, doses, unit = drug
        if not self._fits(5):
            return
        start = self.clock
        self._add({"drug": name, "route": "iv_push", "start": _hhmm(start),
                   "dose": {"value": self.rng.choice(doses), "unit": unit}})
        self.clock = start + self.rng.randint(2, 10)

    def infusion(self, name: str, lo: int, hi: int, dose: tuple | None = None, *, advance: bool = True,
                 extra: dict | None = None) -> dict | None:
        minutes = self.rng.randint(lo, hi)
        if not self._fits(minutes):
            return None
        adm: dict = {"drug": name, "route": "iv_infusion", "start": _hhmm(self.clock), "stop": _hhmm(self.clock + minutes)}
        if dose is not None:
            adm["dose"] = {"value": dose[0], "unit": dose[1]}
        if extra:
            adm.update(extra)
        adm = self._add(adm)
        if advance:
            self.clock += minutes + self.rng.choice((0, 0, 0, 2, 5, 10))
        return adm

    def hydration(self, lo: int, hi: int, *, advance: bool = True) -> dict | None:
        name, volumes = self.rng.choice(HYDRATION)
        extra: dict = {"volume_ml": self.rng.choice(volumes)}
        if self.rng.random() < 0.5:
            extra["class"] = "hydration"
        return self.infusion(name, lo, hi, advance=advance, extra=extra)

    def therapeutic(self) -> None:
        name, (lo, hi), doses, unit = self.rng.choice(THERAPEUTIC_INFUSIONS)
        self.infusion(name, lo, hi, (self.rng.choice(doses), unit))

    def chemo(self) -> None:
        name, (lo, hi), doses, unit = self.rng.choice(CHEMO)
        self.infusion(name, lo, hi, (self.rng.choice(doses), unit))

    def injection(self) -> None:
        name, route, doses, unit = self.rng.choice(INJECTIONS)
        if not self._fits(5):
            return
        self._add({"drug": name, "route": route, "start": _hhmm(self.clock),
                   "dose": {"value": self.rng.choice(doses), "unit": unit}})
        self.clock += self.rng.randint(3, 15)

    def gap(self, lo: int = 20, hi: int = 120) -> None:
        self.clock += self.rng.randint(lo, hi)


def _scenario(b: _Builder) -> None:
    rng = b.rng
    r = rng.random()
    if r < 0.15:  # hydration alone (sometimes two bags, sometimes a short one)
        b.hydration(20, 240)
        if rng.random() < 0.25:
            b.hydration(30, 120)
    elif r < 0.45:  # therapeutic infusion(s) with pushes
        if rng.random() < 0.5:
            b.push(rng.choice(PUSHES))
        b.therapeutic()
        for _ in range(rng.choice((0, 0, 1, 2))):
            b.push(rng.choice(PUSHES))
        if rng.random() < 0.3:
            b.hydration(30, 90)
        if rng.random() < 0.15:
            b.therapeutic()
    elif r < 0.70:  # chemotherapy day with pre-medications and hydration
        if rng.random() < 0.4:  # hydration running alongside from the start (overlap)
            b.hydration(60, 300, advance=False)
        b.push(PUSHES[rng.choice((0, 1))])  # antiemetic
        if rng.random() < 0.7:
            b.infusion("dexamethasone", 10, 20, (rng.choice((10, 12, 20)), "mg"))
        if rng.random() < 0.5:
            b.push(PUSHES[rng.choice((3, 4))])
        if rng.random() < 0.3:
            b.push(PUSHES[5])
        b.chemo()
        if rng.random() < 0.45:
            b.chemo()
        if rng.random() < 0.25:
            b.hydration(30, 90)
    elif r < 0.80:  # injections, with an occasional push
        b.injection()
        if rng.random() < 0.3:
            b.injection()
        if rng.random() < 0.2:
            b.push(rng.choice(PUSHES))
    else:  # a busy day: overlaps, gaps, same-day repeats
        b.hydration(60, 180, advance=False)
        b.gap(0, 30)
        b.therapeutic()
        drug = rng.choice(PUSHES)
        b.push(drug)
        b.gap(30, 240)
        b.push(drug)  # the same drug pushed again later the same day
        if rng.random() < 0.5:
            b.gap()
            b.therapeutic()
        if rng.random() < 0.3:
            b.injection()


def _documentation_errors(rng: random.Random, adms: list[dict]) -> None:
    if not adms:
        return
    r = rng.random()
    if r < 0.010:  # a missing stop time on an infusion
        infusions = [a for a in adms if "stop" in a]
        if infusions:
            del rng.choice(infusions)["stop"]
    elif r < 0.015:  # no route documented
        del rng.choice(adms)["route"]
    elif r < 0.016:  # a time that cannot be read
        rng.choice(adms)["start"] = rng.choice(BAD_TIMES)


def iter_encounters(n: int, seed: int = 1) -> Iterator[dict]:
    """``n`` encounter dicts, the same for the same ``n`` and ``seed``."""
    rng = random.Random(seed)
    for i in range(n):
        setting = "facility" if rng.random() < 0.5 else "office"
        b = _Builder(rng, rng.randint(7 * 60, 14 * 60) // 5 * 5)
        _scenario(b)
        if not b.adms:  # a late clock left no room: one push
            b.clock = 9 * 60
            b.push(PUSHES[0])
        if rng.random() < 0.2:  # the same access noted for everything, sometimes
            site = rng.choice(SITES)
            for a in b.adms:
                if a.get("route", "").startswith("iv"):
                    a["site"] = site
        _documentation_errors(rng, b.adms)
        day = _DAY0 + timedelta(days=rng.randrange(366))
        yield {"id": f"E{seed}-{i:09d}", "setting": setting, "date": day.isoformat(), "administrations": b.adms}


def write_jsonl(n: int, out: str | Path, seed: int = 1, *, batch: int = 5000) -> int:
    """Write ``n`` encounters as JSON Lines to ``out``; returns the bytes written."""
    encoder = msgspec.json.Encoder()
    buf = bytearray()
    written = 0
    with open(out, "wb") as fh:
        for i, enc in enumerate(iter_encounters(n, seed), 1):
            encoder.encode_into(enc, buf, len(buf))
            buf.extend(b"\n")
            if i % batch == 0:
                fh.write(buf)
                written += len(buf)
                buf.clear()
        fh.write(buf)
        written += len(buf)
    return written


generate = write_jsonl

# --------------------------------------------------------------------------------------------
# The flat form: one administration per row (CSV, Parquet)
# --------------------------------------------------------------------------------------------

FLAT_COLUMNS = INPUT_COLUMNS
flat_rows = rows_from_encounter  # one encounter dict -> one row per administration


def _flat_schema():
    import pyarrow as pa

    def kind(c: str):
        if c == "minutes":
            return pa.int64()
        if c in BOOLEAN_COLUMNS:
            return pa.bool_()
        if c in NUMBER_COLUMNS:
            return pa.float64()
        return pa.string()

    return pa.schema([pa.field(c, kind(c)) for c in FLAT_COLUMNS])


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _FlatWriter:
    """Rows to CSV (text cells) or Parquet (typed columns, one row group per ``flush``)."""

    def __init__(self, out: str | Path, fmt: str) -> None:
        self.fmt = fmt
        self.rows: list[dict] = []
        if fmt == "parquet":
            import pyarrow.parquet as pq

            self.schema = _flat_schema()
            self.writer = pq.ParquetWriter(str(out), self.schema, compression="zstd")
        elif fmt == "csv":
            import csv

            self.fh = open(out, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed in close()
            self.csv = csv.writer(self.fh, lineterminator="\n")
            self.csv.writerow(FLAT_COLUMNS)
        else:
            raise ValueError(f"unknown flat format {fmt!r}")

    def add(self, enc: dict) -> None:
        self.rows.extend(flat_rows(enc))

    def flush(self) -> None:
        if not self.rows:
            return
        if self.fmt == "parquet":
            import pyarrow as pa

            table = pa.Table.from_arrays(
                [pa.array([r[c] for r in self.rows], f.type) for c, f in zip(FLAT_COLUMNS, self.schema)], schema=self.schema)
            self.writer.write_table(table)
        else:
            self.csv.writerows([_csv_cell(r[c]) for c in FLAT_COLUMNS] for r in self.rows)
        self.rows = []

    def close(self) -> None:
        self.flush()
        (self.writer if self.fmt == "parquet" else self.fh).close()


def write_flat(n: int, out: str | Path, seed: int = 1, *, fmt: str = "parquet", batch: int = 5000) -> int:
    """Write ``n`` encounters in the flat form (``fmt`` csv or parquet); returns the file's size."""
    writer = _FlatWriter(out, fmt)
    for i, enc in enumerate(iter_encounters(n, seed), 1):
        writer.add(enc)
        if i % batch == 0:
            writer.flush()
    writer.close()
    return Path(out).stat().st_size


def jsonl_to_flat(src: str | Path, out: str | Path, *, fmt: str = "parquet", batch: int = 5000) -> int:
    """Stream a JSON Lines file of encounters into the flat form; returns the output's size."""
    writer = _FlatWriter(out, fmt)
    with open(src, "rb") as fh:
        for i, line in enumerate(fh, 1):
            if line.strip():
                writer.add(msgspec.json.decode(line))
            if i % batch == 0:
                writer.flush()
    writer.close()
    return Path(out).stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, help="number of encounters")
    parser.add_argument("out", help="output file: .jsonl, or .csv/.parquet for the flat form")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.n < 0:
        parser.error("N must be 0 or more")
    suffix = Path(args.out).suffix.lower()
    if suffix in (".csv", ".parquet"):
        size = write_flat(args.n, args.out, args.seed, fmt=suffix[1:])
    else:
        size = write_jsonl(args.n, args.out, args.seed)
    print(f"wrote {args.n} encounters ({size / 1e6:.1f} MB) to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
