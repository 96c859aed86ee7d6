"""Seeded fuzzing of every input surface: the engine API, the file readers and the note intake.

    python benchmarks/fuzz.py [--n 100000] [--seed 1] [--workers 2] [--timeout 10] [--out fuzz-crashes]
    python benchmarks/fuzz.py --replay fuzz-crashes/<name>.json     # re-run one saved input, traceback shown

Input ``i`` of seed ``s`` is always the same (``random.Random(f"{s}:{i}")``), so a reproducer is a seed and an
index; the input itself is also saved next to it (``.json`` engine input, or the file a reader was given).

Surfaces, weighted toward the engine and the readers:

* ``engine``: ``code_encounter`` on encounters of ``generate.py`` (the realistic mix) with hostile changes
  (NaN/inf/huge numbers, empty and odd-unicode strings, far dates, stop before start, years-long spans,
  duplicate ids, separate-site flags on one site, wrong types, hundreds of administrations);
* ``reader:<format>``: the CLI readers (``adapters.encounter_io`` for .json/.jsonl/.yaml/.csv incl. FHIR
  bundles and MAR action logs; ``audit.readers`` for claims incl. X12 837) on serialised hostile records, byte-level
  mutations, deep nesting and YAML alias bombs; every encounter read is coded, every claim read is audited;
* ``intake:note`` / ``intake:email``: ``knowledge.intake.case_memo`` on generated notes, through
  ``email_text`` for generated e-mails.

The oracle: the only acceptable exception is :class:`infucode.model.InputError` (the readers yield it and never
raise); anything else is a crash. Results hold the invariants: every line's units > 0, no add-on code without one
of its eligible primaries (reference codes table), every line cites a rule of the rules registry, and no error
message quotes a free-text value (a marker planted in drug, site, indication and unit texts).

Each input runs in a worker process under an alarm of ``--timeout`` seconds of CPU time (times are the process's
CPU time, so a loaded machine does not make hangs); a worker silent for long (stuck in C code) is killed and
replaced. Prints inputs run, crashes by surface/exception/place, hangs (> 1 s), invariant breaks and the slowest
input; the first reproducer of each is written to ``--out``. Exit status 1 on any crash, hang or break.
"""
from __future__ import annotations

import argparse
import copy
import csv
import importlib.util
import io
import json
import math
import multiprocessing as mp
import os
import random
import re
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

#: Planted in free-text fields; an error message that contains it echoes patient text.
MARKER = "Pt-Secret-7731"
#: An input slower than this is reported as a hang.
SLOW_SECONDS = 1.0


def _load_generate():
    spec = importlib.util.spec_from_file_location("bench_generate", Path(__file__).with_name("generate.py"))
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


_generate = _load_generate()

# --------------------------------------------------------------------------------------------
# Hostile values
# --------------------------------------------------------------------------------------------

NUMBERS: tuple = (math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, -0.0, 0, -1, 1.5, 2**31, 2**53 + 1, 2**63,
                  2**64, 10**30, -(10**30), 10**400, True)
TEXTS: tuple = ("", " ", "\x00", "\n\t", "\u202e\u200b", "\ufeff", "🧪💉", "a" * 5000, "İ̇ß", "NaN", "inf", "1e309", "-1",
                "null", "{}", "%s%n", "<script>", "\\", '"', "'", "Ö" * 300, "\U0010ffff")
CLOCKS: tuple = ("24:00", "23:59", "00:00", "0:00", "12:60", "99:99", "٠٨:٣٠", "０８:３０", "𝟘𝟠:𝟛𝟘", "8:30 PM", "0830",
                 "2359", "2400", "1:2:3", "2024-07-01T08:30", "2024-07-01T08:30:00Z", "2024-07-01T08:30:00+14:00",
                 "2024-07-01T08:30:00-12:00", "9999-12-31T23:59:59", "9999-12-31T23:59", "0001-01-01T00:00:00",
                 "2024-02-30T08:00", "2024-07-01 08:30", "2024-07-01T08:30:00.999999999", "+002024-07-01T08:30",
                 "2024-07-01T25:00", "T08:30", "08:30:00", "8")
DATES: tuple = ("9999-12-31", "0001-01-01", "0000-00-00", "2024-02-30", "2024-02-29", "2023-02-29", "20240701",
                "2024-7-1", "07/01/2024", "٢٠٢٤-٠٧-٠١", "2024-07-01T00:00", "+10000-01-01", "")
FREE_TEXT: tuple = (f"{MARKER}", f"ondansetron {MARKER}", f"{MARKER} left forearm", f"mg{MARKER}")
PROFILES: tuple = ("medicare", "seed-page", "commercial-example")


def hostile(rng: random.Random, kind: str = "any") -> Any:
    """One hostile value; ``kind`` biases toward the field's own type (number, text, clock, date, free)."""
    r = rng.random()
    if kind == "number" and r < 0.7:
        return rng.choice(NUMBERS)
    if kind == "clock" and r < 0.7:
        return rng.choice(CLOCKS)
    if kind == "date" and r < 0.7:
        return rng.choice(DATES)
    if kind == "free" and r < 0.5:
        return rng.choice(FREE_TEXT)
    r = rng.random()
    if r < 0.35:
        return rng.choice(NUMBERS)
    if r < 0.65:
        return rng.choice(TEXTS)
    if r < 0.8:
        return rng.choice(CLOCKS + DATES)
    return rng.choice(([], {}, [1, 2], {"value": 1}, None, False, [[[]]], {"": None}))


ADM_FIELDS: dict[str, str] = {
    "id": "any", "drug": "free", "hcpcs": "any", "class": "any", "route": "any", "indication": "free",
    "start": "clock", "stop": "clock", "minutes": "number", "site": "free", "separate_site_required": "any",
    "primary": "any", "discontinued": "any", "pump": "any", "volume_ml": "number", "rate_ml_per_hr": "number",
    "discarded": "number",
}
ENC_FIELDS: dict[str, str] = {"id": "any", "setting": "any", "date": "date", "claim": "any", "payer": "any"}

# --------------------------------------------------------------------------------------------
# Hostile encounters (the engine's input contract, bent)
# --------------------------------------------------------------------------------------------


def base_encounter(rng: random.Random) -> dict:
    """A realistic encounter of benchmarks/generate.py (its seeded mix), chosen by ``rng``."""
    return next(_generate.iter_encounters(1, seed=rng.randrange(2**31)))


def _adm(enc: dict, rng: random.Random) -> dict:
    adms = enc.get("administrations")
    if not isinstance(adms, list) or not adms or not isinstance(adms[0], dict):
        enc["administrations"] = adms = [{"id": "a1", "drug": "ondansetron", "route": "iv_push", "start": "09:00"}]
    adm = rng.choice(adms)
    return adm if isinstance(adm, dict) else adms[0]


def _m_field(enc, rng):
    adm = _adm(enc, rng)
    name = rng.choice(list(ADM_FIELDS))
    adm[name] = hostile(rng, ADM_FIELDS[name])


def _m_encounter_field(enc, rng):
    name = rng.choice(list(ENC_FIELDS))
    enc[name] = hostile(rng, ENC_FIELDS[name])


def _m_numbers(enc, rng):  # NaN/inf/huge doses, volumes, vials, discarded amounts
    adm = _adm(enc, rng)
    what = rng.randrange(5)
    if what == 0:
        adm["dose"] = {"value": rng.choice(NUMBERS), "unit": rng.choice(("mg", "g", "mL", "units", "mcg", "", *FREE_TEXT))}
    elif what == 1:
        adm["vial"] = {"size": rng.choice(NUMBERS), "unit": rng.choice(("mg", "g", "", *FREE_TEXT)),
                       "single_dose": rng.random() < 0.5}
        adm.setdefault("dose", {"value": rng.choice((1, 100, 1e9, math.nan)), "unit": "mg"})
    elif what == 2:
        adm["discarded"] = rng.choice(NUMBERS)
        adm.setdefault("vial", {"size": 100, "unit": "mg"})
    else:
        adm[rng.choice(("volume_ml", "rate_ml_per_hr", "minutes"))] = rng.choice(NUMBERS)


def _m_huge_minutes(enc, rng):
    adm = _adm(enc, rng)
    adm["minutes"] = rng.choice((10**9, 2**31 - 1, 2**62, 2**63 - 1, 10**18, -5, 0, 525600 * 10, 100_000))
    if rng.random() < 0.5:
        adm.pop("stop", None)
        adm["route"] = rng.choice(("iv_infusion", "sc_infusion", "iv", "intra_arterial"))


def _m_far_dates(enc, rng):
    enc["date"] = rng.choice(("9999-12-31", "0001-01-01", "9999-12-30"))
    adm = _adm(enc, rng)
    adm["route"] = rng.choice(("iv_infusion", "iv", "sc_infusion"))
    adm["start"], adm["stop"] = rng.choice((("23:00", "01:00"), ("23:59", "00:01"), ("00:00", "23:59"),
                                            ("9999-12-31T23:00", "9999-12-31T23:59"),
                                            ("9999-12-31T22:00", "0001-01-01T01:00"),
                                            ("0001-01-01T00:00", "0001-01-01T00:30")))
    if rng.random() < 0.3:
        adm["interruptions"] = [{"start": "23:30", "stop": "00:30"}]


def _m_stop_before_start(enc, rng):
    adm = _adm(enc, rng)
    adm.setdefault("start", "10:00")
    adm["stop"] = adm.get("stop") or "11:00"
    adm["start"], adm["stop"] = adm["stop"], adm["start"]
    if adm["start"] == adm["stop"]:
        adm["stop"] = "09:00"


def _m_years_long(enc, rng):
    adm = _adm(enc, rng)
    adm["route"] = rng.choice(("iv_infusion", "iv", "sc_infusion", "intra_arterial"))
    adm["pump"] = rng.random() < 0.3
    years = rng.choice((1, 3, 30, 500, 7975))
    adm["start"] = "2024-01-01T08:00"
    adm["stop"] = f"{min(2024 + years, 9999):04d}-01-01T08:00"
    enc.pop("date", None) if rng.random() < 0.5 else None
    if rng.random() < 0.3:
        adm["interruptions"] = [{"start": f"2024-01-0{d}T09:00", "stop": f"2024-01-0{d}T10:00"} for d in range(1, 10)]


def _m_duplicate_ids(enc, rng):
    adms = enc.setdefault("administrations", [])
    if not isinstance(adms, list) or not adms or not isinstance(adms[0], dict):
        return
    twin = copy.deepcopy(rng.choice(adms))
    if rng.random() < 0.5 and isinstance(twin.get("id"), str) and twin["id"][1:].isdigit():
        twin["id"] = int(twin["id"][1:])  # "a1" and 1 are different, but "1" and 1 are not
        adms[0]["id"] = str(twin["id"])
    adms.append(twin)


def _m_same_site(enc, rng):
    site = rng.choice(("left forearm", "", " ", MARKER, None, "port"))
    for adm in enc.get("administrations") or []:
        if isinstance(adm, dict):
            adm["site"] = site
            adm["separate_site_required"] = rng.random() < 0.5


def _m_interruptions(enc, rng):
    adm = _adm(enc, rng)
    adm["route"] = "iv_infusion"
    adm.setdefault("start", "08:00")
    adm.setdefault("stop", "12:00")
    n = rng.choice((1, 2, 5, 50, 500))
    adm["interruptions"] = [{"start": hostile(rng, "clock") if rng.random() < 0.3 else f"{8 + k % 4:02d}:{k % 60:02d}",
                             "stop": hostile(rng, "clock") if rng.random() < 0.3 else f"{8 + k % 4:02d}:{(k + 7) % 60:02d}"}
                            for k in range(n)]


def _m_many(enc, rng):  # bounded work: hundreds of overlapping administrations
    n = rng.choice((50, 200, 1000))
    routes = ("iv_infusion", "iv_push", "iv", "sc", "im", "sc_infusion", "intra_arterial")
    drugs = ("normal saline", "ondansetron", "paclitaxel", "vancomycin", "rituximab", "heparin flush", MARKER)
    enc["administrations"] = [
        {"id": f"x{k}", "drug": rng.choice(drugs), "route": rng.choice(routes), "start": f"{8 + k % 12:02d}:{k % 60:02d}",
         "stop": f"{9 + k % 12:02d}:{(k * 7) % 60:02d}", "site": rng.choice(("a", "b", "c", None)),
         "separate_site_required": rng.random() < 0.2, "pump": rng.random() < 0.1}
        for k in range(n)]


def _m_types(enc, rng):  # wrong types and shapes anywhere
    target = enc if rng.random() < 0.3 else _adm(enc, rng)
    key = rng.choice(list(target) + ["administrations", "interruptions", "dose", "vial", "extra"])
    target[key] = rng.choice(([], {}, [[]], {"value": []}, [{"start": None}], "x", 1.5, -1, None, True,
                              [copy.deepcopy(target)] if rng.random() < 0.1 else 0))


def _m_unicode(enc, rng):
    adm = _adm(enc, rng)
    key = rng.choice(("drug", "site", "indication", "start", "stop", "route", "class", "hcpcs", "id"))
    values = ["٠٨:٣٠", "０９:１５", "ondansetron\u200b", "ＯＮＤＡＮＳＥＴＲＯＮ", "normal\u00a0saline", "IV\u202epush", "i̇v_push",
              "IV_PUSH", "ß" * 50, "\ud800", "💉" * 20]
    if key in ("drug", "site", "indication"):  # the marker only where free text belongs
        values.append(f"{MARKER}\x00")
    adm[key] = rng.choice(values)


MUTATIONS = (_m_field, _m_field, _m_encounter_field, _m_numbers, _m_numbers, _m_huge_minutes, _m_far_dates,
             _m_stop_before_start, _m_years_long, _m_duplicate_ids, _m_same_site, _m_interruptions, _m_many,
             _m_types, _m_unicode)
#: Named groups of mutations, for tests that take one hostile class at a time.
MUTATION_GROUPS: dict[str, tuple] = {
    "fields": (_m_field, _m_encounter_field, _m_types),
    "numbers": (_m_numbers, _m_huge_minutes),
    "clock": (_m_far_dates, _m_stop_before_start, _m_years_long, _m_interruptions),
    "ids_sites": (_m_duplicate_ids, _m_same_site),
    "unicode": (_m_unicode,),
    "many": (_m_many,),
}


def mutate(enc: dict, rng: random.Random, mutations: tuple = MUTATIONS, rounds: int | None = None) -> dict:
    """A hostile copy of ``enc``: 1-4 mutations (or ``rounds``) drawn from ``mutations``."""
    enc = copy.deepcopy(enc)
    for _ in range(rounds if rounds is not None else rng.choice((1, 1, 2, 3, 4))):
        try:
            rng.choice(mutations)(enc, rng)
        except (TypeError, AttributeError, KeyError, IndexError, ValueError):
            pass  # an earlier mutation left a shape this one cannot work on: the input stays as hostile as it is
    return enc


def hostile_encounter(rng: random.Random, mutations: tuple = MUTATIONS) -> dict:
    enc = base_encounter(rng)
    return enc if rng.random() < 0.05 else mutate(enc, rng, mutations)


# --------------------------------------------------------------------------------------------
# Hostile files for the readers
# --------------------------------------------------------------------------------------------

TOKENS = (b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"{", b"}", b"[", b"]", b",", b":", b'"', b"\n", b"\r\n", b"\\u0000",
          b"&a ", b"*a", b"!!python/object:os.system", b"!!int", b"!!float", b"---\n", b"...\n", b"NaN", b"1e999",
          b"-", b"\t", b"\xc3\x28", b"\xed\xa0\x80", "€💉".encode(), b"~", b"*", b"^", b":", b"ISA", b"SE*", b"CLM*")


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 4, 8))):
        op = rng.randrange(6)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            buf[min(pos, len(buf) - 1)] = rng.randrange(256)
        elif op == 1:
            buf[pos:pos] = rng.choice(TOKENS)
        elif op == 2:
            del buf[pos:pos + rng.randrange(1, 40)]
        elif op == 3:
            del buf[pos:]
        elif op == 4 and buf:
            a = rng.randrange(len(buf))
            buf[pos:pos] = buf[a:a + rng.randrange(1, 200)]
        else:
            buf[pos:pos] = rng.choice(TOKENS) * rng.choice((2, 10, 1000))
    return bytes(buf)


def _json(obj: Any, rng: random.Random) -> bytes:
    try:
        return json.dumps(obj, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
    except (ValueError, TypeError):
        return b"{}"


def _yaml(obj: Any, rng: random.Random) -> bytes:
    try:
        return yaml.safe_dump(obj, allow_unicode=rng.random() < 0.5, default_flow_style=rng.random() < 0.3,
                              sort_keys=False).encode("utf-8", "surrogatepass")
    except (yaml.YAMLError, ValueError, TypeError, RecursionError):
        return _json(obj, rng)


def deep_nesting(rng: random.Random, fmt: str) -> bytes:
    depth = rng.choice((100, 1000, 5000, 50_000, 200_000))
    where = rng.random() < 0.5
    if fmt in ("json", "jsonl"):
        inner = b"[" * depth + b"]" * depth if rng.random() < 0.5 else b'{"a":' * depth + b"1" + b"}" * depth
        return (b'{"id":"deep","setting":"office","administrations":' + inner + b"}") if where else inner
    inner = b"[" * depth + b"]" * depth if rng.random() < 0.5 else b"{a: " * depth + b"1" + b"}" * depth
    return (b"id: deep\nsetting: office\nadministrations: " + inner + b"\n") if where else inner


def yaml_alias_bomb(rng: random.Random) -> bytes:
    """Billion laughs: ``levels`` anchors, each a list of ``width`` aliases of the one before."""
    levels, width = rng.choice(((3, 10), (5, 9), (7, 9), (9, 9), (20, 2)))
    out = ["bomb:", '  l0: &l0 ["lol"]']
    for k in range(1, levels + 1):
        out.append(f"  l{k}: &l{k} [{', '.join(f'*l{k - 1}' for _ in range(width))}]")
    top = rng.choice(("administrations", "interruptions", "lines", "id"))
    if top == "interruptions":
        out += ["id: b", "setting: office", "administrations:", f"  - {{id: a1, route: iv_infusion, interruptions: *l{levels}}}"]
    elif top == "lines":
        out = [f"- id: C1\n  claim_type: professional\n  date: 2024-07-01\n  lines: *l{levels}"] + ["  " + o for o in out]
    else:
        out += ["id: b" if top != "id" else f"id: *l{levels}", "setting: office",
                f"administrations: *l{levels}" if top == "administrations" else "administrations: []"]
    return ("\n".join(out) + "\n").encode()


def _flat_csv(encs: list[dict], rng: random.Random) -> bytes:
    from infucode.adapters.flat import INPUT_COLUMNS, rows_from_encounter

    out = io.StringIO()
    writer = csv.writer(out, lineterminator=rng.choice(("\n", "\r\n")))
    writer.writerow(INPUT_COLUMNS)
    for enc in encs:
        try:
            rows = rows_from_encounter(enc)
        except Exception:  # noqa: BLE001 - the helper expects sane dicts; a hostile one becomes a hostile row
            rows = [{c: hostile(rng) for c in INPUT_COLUMNS}]
        for row in rows:
            if rng.random() < 0.3:
                row[rng.choice(INPUT_COLUMNS)] = hostile(rng)
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in INPUT_COLUMNS])
    return out.getvalue().encode("utf-8", "surrogatepass")


MAR_COLUMNS = ("encounter_id", "setting", "order_id", "action", "time", "rate", "route", "drug", "hcpcs", "site", "dose",
               "dose_unit", "indication")
MAR_ACTIONS = ("Given", "Rate Change", "Paused", "Restarted", "Stopped", "Completed", "New Bag", "Not Given", "Held",
               "Rate Verify", "given", "GIVEN ", "Bolus Given", "Discontinued", "Pause", "", "???")


def _mar_csv(rng: random.Random) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    cols = list(MAR_COLUMNS)
    if rng.random() < 0.1:
        cols.remove(rng.choice(cols))
    if rng.random() < 0.1:
        cols.append("date")
    writer.writerow(cols)
    base = 8 * 60 + rng.randrange(120)
    for k in range(rng.choice((1, 3, 6, 12, 40))):
        minute = base + k * rng.choice((0, 5, 30, 60, -30))
        row = {
            "encounter_id": rng.choice(("m1", "m2", "", "٣")), "setting": rng.choice(("office", "facility", "", "home")),
            "order_id": rng.choice(("o1", "o2", "o3", "")), "action": rng.choice(MAR_ACTIONS),
            "time": (f"2024-07-01 {minute // 60 % 24:02d}:{minute % 60:02d}" if rng.random() < 0.7
                     else rng.choice(CLOCKS + DATES + ("07/01/2024 8:30 AM", "99/99/9999 99:99", "12/31/9999 23:59",
                                                       "20240701 0830", "0001-01-01 00:00"))),
            "rate": rng.choice(("", "50", "100", "0", "-5", "NaN", "inf", "1e309", "1,000", "abc")),
            "route": rng.choice(("IV", "IV push", "SC", "IM", "", "intrathecal", MARKER)),
            "drug": rng.choice(("Gammagard Liquid", "normal saline", "ondansetron", "", MARKER)),
            "hcpcs": rng.choice(("J1569", "J7050", "", "XXXXX")), "site": rng.choice(("left antecubital", "", MARKER)),
            "dose": rng.choice(("", "30", "NaN", "-1", "1e309", "0", "inf")), "dose_unit": rng.choice(("g", "mg", "", MARKER)),
            "indication": rng.choice(("CIDP", "dehydration", "", MARKER)), "date": rng.choice(DATES),
        }
        if rng.random() < 0.2:
            row[rng.choice(cols)] = hostile(rng)
        writer.writerow([row.get(c, "") for c in cols])
    return out.getvalue().encode("utf-8", "surrogatepass")


def _tree_mutate(obj: Any, rng: random.Random, rounds: int) -> Any:
    """Replace, drop or wrap values at random places of a JSON-like tree."""
    obj = copy.deepcopy(obj)
    for _ in range(rounds):
        node, path = obj, []
        while isinstance(node, (dict, list)) and node and rng.random() < 0.8:
            key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
            path.append((node, key))
            node = node[key]
        if not path:
            continue
        parent, key = path[-1]
        r = rng.random()
        if r < 0.6:
            parent[key] = hostile(rng)
        elif r < 0.75 and isinstance(parent, dict):
            del parent[key]
        elif r < 0.9:
            parent[key] = [parent[key]] if rng.random() < 0.5 else {"x": parent[key]}
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
    return obj


_TEMPLATES: dict[str, Any] = {}


def _template(name: str) -> Any:
    if name not in _TEMPLATES:
        path = EXAMPLES / name
        text = path.read_text(encoding="utf-8")
        _TEMPLATES[name] = (json.loads(text) if path.suffix == ".json" else
                            yaml.safe_load(text) if path.suffix == ".yaml" else text)
    return _TEMPLATES[name]


def _claims(rng: random.Random) -> list:
    claims = copy.deepcopy(_template("claims/documented.yaml"))
    for claim in claims:
        claim["date"] = str(claim.get("date"))
        if "encounter" in claim and rng.random() < 0.5:
            claim["encounter"] = mutate(claim["encounter"], rng)
    claims = rng.sample(claims, rng.randint(1, len(claims)))
    return _tree_mutate(claims, rng, rng.choice((0, 1, 2, 4)))


def _claims_csv(rng: random.Random) -> bytes:
    rows = list(csv.reader(io.StringIO(_template("claims/batch.csv"))))
    header, body = rows[0], rows[1:]
    body = rng.sample(body, rng.randint(1, len(body)))
    for row in body:
        for _ in range(rng.choice((0, 1, 2))):
            row[rng.randrange(len(row))] = str(hostile(rng))
        if rng.random() < 0.05:
            row.append("extra")
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *body])
    return out.getvalue().encode("utf-8", "surrogatepass")


X12_VALUES = ("", "1", "0", "-1", "1E999", "NaN", "99999999999999999999", "1.5", "20240230", "99991231", "00000000",
              "HC:96365", "HC:", "HC:96366:JW:JZ:59:XU:25", "11:B:1", "13:A:1", "RD8", "D8", "20240701-20240631", "ÿ",
              "€", "*", "~", ":", "^", "X" * 300)


def _x12(rng: random.Random) -> bytes:
    text = _template(rng.choice(("claims/ivig-837p.x12", "claims/chemo-837i.x12"))).strip()
    segs = [s for s in text.split("~") if s]
    for _ in range(rng.choice((0, 1, 2, 3, 6))):
        op = rng.randrange(6)
        k = rng.randrange(len(segs))
        if op == 0 and len(segs) > 1:
            del segs[k]
        elif op == 1:
            segs.insert(k, segs[rng.randrange(len(segs))])
        elif op == 2:
            els = segs[k].split("*")
            els[rng.randrange(len(els))] = rng.choice(X12_VALUES)
            segs[k] = "*".join(els)
        elif op == 3:
            head = [s for s in segs if s.startswith(("CLM", "SV1", "SV2", "DTP", "LX", "HL", "SE"))]
            if head:
                segs.insert(k, head[rng.randrange(len(head))])
        elif op == 4:
            segs = segs[:k + 1]
        else:
            segs.insert(k, rng.choice(("ZZZ*1", "CLM", "SE*1", "ST*837*9", "HL*9*9*22*0", "SV1*HC:96413*1*UN*" + "9" * 30)))
    data = ("~" + rng.choice(("", "\n", "\r\n"))).join(segs) + "~"
    if rng.random() < 0.2:
        data = data.replace("*", rng.choice(("|", "*", "\x1d")), rng.randrange(1, 5))
    return data.encode("utf-8", "surrogatepass")


READERS: dict[str, str] = {  # reader surface -> file suffix
    "reader:json": ".json", "reader:jsonl": ".jsonl", "reader:yaml": ".yaml", "reader:csv": ".csv",
    "reader:fhir": ".json", "reader:mar": ".csv", "claims:json": ".json", "claims:jsonl": ".jsonl",
    "claims:yaml": ".yaml", "claims:csv": ".csv", "claims:x12": ".x12",
}


def reader_file(surface: str, rng: random.Random) -> tuple[str, bytes]:
    """(suffix, bytes) of a hostile file for one reader surface."""
    suffix = READERS[surface]
    fmt = suffix[1:]
    r = rng.random()
    if surface in ("reader:json", "reader:jsonl", "reader:yaml", "claims:json", "claims:jsonl", "claims:yaml") and r < 0.06:
        return suffix, deep_nesting(rng, fmt)
    if fmt == "yaml" and r < 0.12:
        return suffix, yaml_alias_bomb(rng)
    if surface.startswith("reader:") and surface not in ("reader:fhir", "reader:mar"):
        encs = [hostile_encounter(rng) for _ in range(rng.choice((1, 1, 2, 5)))]
        if surface == "reader:json":
            data = _json(encs if len(encs) > 1 or rng.random() < 0.3 else encs[0], rng)
        elif surface == "reader:jsonl":
            data = b"\n".join(_json(e, rng) for e in encs) + b"\n"
        elif surface == "reader:yaml":
            data = (b"---\n".join(_yaml(e, rng) for e in encs) if rng.random() < 0.3
                    else _yaml(encs if len(encs) > 1 else encs[0], rng))
        else:
            data = _flat_csv(encs, rng)
    elif surface == "reader:fhir":
        bundle = _tree_mutate(_template("fhir/chemo-day-bundle.json"), rng, rng.choice((1, 2, 4, 8)))
        data = _json(bundle, rng)
    elif surface == "reader:mar":
        data = _mar_csv(rng)
    elif surface == "claims:x12":
        data = _x12(rng)
    elif surface == "claims:csv":
        data = _claims_csv(rng)
    else:
        claims = _claims(rng)
        if fmt == "json":
            data = _json(claims if rng.random() < 0.7 else claims[0], rng)
        elif fmt == "jsonl":
            data = b"\n".join(_json(c, rng) for c in claims)
        else:
            data = _yaml(claims, rng)
    if rng.random() < 0.25:
        data = mutate_bytes(data, rng)
    return suffix, data


# --------------------------------------------------------------------------------------------
# Hostile notes and e-mails for the intake
# --------------------------------------------------------------------------------------------

NOTE_DRUGS = ("NS", "normal saline", "Zofran", "ondansetron", "Toradol", "IVIG", "Gammagard", "paclitaxel", "Rituxan",
              "vancomycin", "dexamethasone", "Benadryl", "heparin flush", "Prolia", MARKER)
NOTE_TIMES = ("08:30", "8:30 AM", "1:05 PM", "0825", "12:45", "23:59", "00:00", "24:00", "99:99", "12:60 PM", "٠٨:٣٠",
              "０８:３０", "13:05 PM", "0:00 am", "noon", "midnight", "1:1:1", "9" * 30 + ":00")
NOTE_DATES = ("07/01/2024", "7/2/2024", "12/31/9999", "02/30/2024", "00/00/0000", "1/1/1", "13/45/2024", "2024-07-01",
              "9999-12-31", "0001-01-01", "99/99/99", "07/01/24")
NOTE_DURATIONS = ("for 2 hours", "x 30 min", "over 1.5 hr", "for 99999999999999999999 hours", "over 1e308 min",
                  "for half an hour", "over 0 minutes", "for 2:75", "x 9999:59")


def note_text(rng: random.Random) -> str:
    parts: list[str] = []
    if rng.random() < 0.5:
        parts.append(f"{rng.choice(NOTE_DATES)}  Infusion note - {rng.choice(('office', 'hospital outpatient', 'ED', ''))}")
    for _ in range(rng.choice((0, 1, 2, 3, 6, 20))):
        parts.append(rng.choice((
            f"{rng.choice(NOTE_DRUGS)} {rng.choice(('4 mg', '1000 mL', '30 g', 'NaN mg', '1e999 g', ''))} "
            f"{rng.choice(('IVP', 'IV push', 'IV', 'infusion', 'SC', 'IM', 'drip', ''))} at {rng.choice(NOTE_TIMES)}.",
            f"{rng.choice(NOTE_DRUGS)} started {rng.choice(NOTE_TIMES)}, stopped {rng.choice(NOTE_TIMES)} "
            f"via {rng.choice(('R AC PIV', 'L forearm', 'port', MARKER))}.",
            f"{rng.choice(NOTE_DRUGS)} infused {rng.choice(NOTE_DURATIONS)} {rng.choice(('for dehydration', ''))}.",
            f"Paused {rng.choice(NOTE_TIMES)}, restarted {rng.choice(NOTE_TIMES)}.",
            f"Infusion completed {rng.choice(NOTE_TIMES)}. {rng.choice(NOTE_DATES)}",
            f"{rng.choice(NOTE_TIMES)} {rng.choice(NOTE_TIMES)} {rng.choice(NOTE_DATES)}",
            str(hostile(rng)),
        )))
    text = rng.choice((" ", "\n", "\r\n", ". ")).join(parts)
    r = rng.random()
    if r < 0.1:  # long runs: the regexes must stay linear
        text += rng.choice(("1", " ", ":", "1:", "0", "a", ".", "-", "/", "1/", "\n")) * rng.choice((1000, 20_000))
    elif r < 0.15:
        text = "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(2000)))
    elif r < 0.2:
        text = text * rng.choice((50, 500))
    return text


CHARSETS = ("utf-8", "us-ascii", "iso-8859-1", "utf-16", "utf-7", "x-unknown", "", "bogus\"", "cp1252", "utf-8; x=1",
            "shift_jis", "unicode-1-1-utf-7")
ENCODINGS = ("7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "binary", "bogus", "")


def email_bytes(rng: random.Random) -> bytes:
    body = note_text(rng)
    charset = rng.choice(CHARSETS)
    cte = rng.choice(ENCODINGS)
    if cte == "base64":
        import base64
        payload = base64.b64encode(body.encode("utf-8", "surrogatepass"))
        if rng.random() < 0.5:
            payload = payload[: rng.randrange(len(payload) + 1)] + b"!!=="
    elif cte == "quoted-printable":
        payload = body.encode("utf-8", "surrogatepass").replace(b"=", b"=3D") + rng.choice((b"", b"=", b"=ZZ", b"=\n"))
    else:
        payload = body.encode(rng.choice(("utf-8", "latin-1", "utf-16")), "replace")
    kind = rng.choice(("text/plain", "text/html", "application/octet-stream", "text/plain", "multipart/alternative"))
    head = [b"From: Nurse <n@example.org>", b"To: c@example.org", b"Subject: " + rng.choice(
        (b"Coding question", b"=?utf-8?b?Q29kaW5n?=", b"=?x-unknown?q?abc?=", b"=?utf-8?b?!!!?=", "é".encode(), b"")),
        b"MIME-Version: 1.0"]
    if kind.startswith("multipart"):
        boundary = rng.choice((b"b1", b"", b"b1\"", b"--"))
        depth = rng.choice((1, 2, 50))
        inner = (b"Content-Type: text/plain; charset=\"" + charset.encode() + b"\"\nContent-Transfer-Encoding: "
                 + cte.encode() + b"\n\n" + payload)
        for _ in range(depth):
            inner = (b"Content-Type: multipart/alternative; boundary=\"" + boundary + b"\"\n\n--" + boundary + b"\n"
                     + inner + b"\n--" + boundary + b"--\n")
        data = b"\n".join(head) + b"\n" + inner
    else:
        head += [b"Content-Type: " + kind.encode() + b"; charset=\"" + charset.encode() + b"\"",
                 b"Content-Transfer-Encoding: " + cte.encode()]
        data = b"\n".join(head) + b"\n\n" + payload
    return mutate_bytes(data, rng) if rng.random() < 0.2 else data


# --------------------------------------------------------------------------------------------
# Inputs by index, and the oracle
# --------------------------------------------------------------------------------------------

SURFACE_WEIGHTS: dict[str, int] = {
    "engine": 40,
    "reader:json": 5, "reader:jsonl": 5, "reader:yaml": 6, "reader:csv": 4, "reader:fhir": 3, "reader:mar": 4,
    "claims:json": 3, "claims:jsonl": 2, "claims:yaml": 3, "claims:csv": 3, "claims:x12": 2,
    "intake:note": 10, "intake:email": 6,
}


def make(surface: str, rng: random.Random) -> Any:
    """The payload of one input on ``surface``."""
    if surface == "engine":
        return {"profile": rng.choice(PROFILES), "encounter": hostile_encounter(rng)}
    if surface == "intake:note":
        return note_text(rng)
    if surface == "intake:email":
        return email_bytes(rng)
    return reader_file(surface, rng)


def make_input(seed: int, index: int) -> tuple[str, Any]:
    """(surface, payload) of input ``index`` of ``seed``: the same every time."""
    rng = random.Random(f"{seed}:{index}")
    surfaces, weights = zip(*SURFACE_WEIGHTS.items())
    surface = rng.choices(surfaces, weights)[0]
    return surface, make(surface, rng)


@dataclass
class Context:
    """Per-process state: rulesets loaded once and a scratch directory for reader files."""

    rulesets: dict = field(default_factory=dict)
    tmp: Path | None = None

    def ruleset(self, profile: str = "medicare"):
        if profile not in self.rulesets:
            from infucode import load_ruleset
            self.rulesets[profile] = load_ruleset(profile)
        return self.rulesets[profile]

    def path(self, suffix: str) -> Path:
        if self.tmp is None:
            self.tmp = Path(tempfile.mkdtemp(prefix="infucode-fuzz-"))
        return self.tmp / f"input{suffix}"


def line_breaks(result: Any, ruleset: Any) -> list[str]:
    """Invariants of one coding result: units > 0, a documented rule per line, add-ons with a primary."""
    breaks = []
    codes = {line.code for line in result.lines if line.kind == "administration"}
    for line in result.lines:
        if not isinstance(line.units, int) or isinstance(line.units, bool) or line.units <= 0:
            breaks.append(f"units: {line.code} has {line.units!r} units")
        if not isinstance(line.rule, str) or not line.rule.strip() or line.rule not in ruleset.rules:
            breaks.append(f"rule: {line.code} cites {line.rule!r}, not in the rules registry")
        info = ruleset.codes.get(line.code) if line.kind == "administration" else None
        if info is not None and info.add_on and not (info.primaries & codes):
            breaks.append(f"add-on: {line.code} without any of {sorted(info.primaries)} on {sorted(codes)}")
    return breaks


def error_breaks(err: Any) -> list[str]:
    """An error must not quote free text (the planted marker)."""
    field_name = getattr(err, "field", None) or ""
    text = f"{field_name} {getattr(err, 'message', err)}"
    if MARKER not in text:
        return []
    shape = re.sub(r"\[\d+\]", "[]", field_name) or "(no field)"
    return [f"leak: an error on {shape} quotes free text: {text[:300]!r}"]


def _code(item: Any, ruleset: Any) -> list[str]:
    from infucode import code_encounter
    from infucode.model import InputError
    try:
        result = code_encounter(item, ruleset)
    except InputError as err:
        return error_breaks(err)
    return line_breaks(result, ruleset)


def check(surface: str, payload: Any, ctx: Context) -> list[str]:
    """Run one input. Returns the invariant breaks; raises on a crash (any exception but InputError)."""
    from infucode.model import InputError
    if surface == "engine":
        return _code(payload["encounter"], ctx.ruleset(payload["profile"]))
    if surface.startswith("intake:"):
        from infucode.knowledge.intake import case_memo, email_text, render_memo
        try:  # a refused case file (binary, too large) is the documented InputError
            text = email_text(payload) if surface == "intake:email" else payload
        except InputError as err:
            return error_breaks(err)
        memo = case_memo(text, ctx.ruleset())
        render_memo(memo, "text")
        render_memo(memo, "json")
        return line_breaks(memo.result, ctx.ruleset()) if memo.result is not None else []
    suffix, data = payload
    path = ctx.path(suffix)
    path.write_bytes(data)
    rs = ctx.ruleset()
    breaks: list[str] = []
    if surface.startswith("reader:"):
        from infucode.adapters.encounter_io import read_encounters
        for item in read_encounters(path):
            breaks += error_breaks(item) if isinstance(item, InputError) else _code(item, rs)
        return breaks
    from infucode.audit.engine import audit_claim
    from infucode.audit.readers import iter_claims
    for item, _line in iter_claims(path):
        if isinstance(item, InputError):
            breaks += error_breaks(item)
            continue
        try:
            audit_claim(item, rs)
        except InputError as err:
            breaks += error_breaks(err)
    return breaks


def payload_file(surface: str, payload: Any) -> tuple[str, bytes]:
    """The input as a file a developer can open: (suffix, bytes)."""
    if surface == "engine":
        return ".engine.json", json.dumps(payload, indent=1).encode("utf-8", "surrogatepass")
    if surface == "intake:note":
        return ".note.txt", payload.encode("utf-8", "surrogatepass")
    if surface == "intake:email":
        return ".eml", payload
    return payload


# --------------------------------------------------------------------------------------------
# Running many inputs: workers under an alarm, a supervisor that replaces stuck workers
# --------------------------------------------------------------------------------------------


class InputTimeout(BaseException):
    """Raised by the CPU-time alarm; a BaseException so the code under test's ``except Exception`` cannot swallow it."""


def _on_alarm(signum, frame):
    raise InputTimeout()


def where(exc: BaseException) -> str:
    """The innermost frame in infucode's sources (else the innermost frame): 'path:line in function'."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/infucode/" in f.filename.replace(os.sep, "/")]
    f = (ours or frames or [None])[-1]
    if f is None:
        return "?"
    name = f.filename.replace(os.sep, "/")
    name = name.split("/src/", 1)[-1] if "/src/infucode/" in name else name.rsplit("/", 2)[-1]
    return f"{name}:{f.lineno} in {f.name}"


def _shape(text: str) -> str:
    """The part of a break that tells one kind from another (the field of a leak, the code of a units break)."""
    m = re.match(r"leak: an error on (\S+)", text) or re.match(r"\w[\w-]*: (\S+)", text)
    return f" ({m.group(1)})" if m else ""


def start_alarm(seconds: float) -> Any:
    """Raise InputTimeout after ``seconds`` of this process's CPU time (SIGPROF); returns the previous handler."""
    previous = signal.signal(signal.SIGPROF, _on_alarm)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    return previous


def stop_alarm(previous: Any) -> None:
    signal.setitimer(signal.ITIMER_PROF, 0)
    signal.signal(signal.SIGPROF, previous)


def run_one(surface: str, payload: Any, ctx: Context, timeout: float) -> tuple[str, str, str, float]:
    """(status, key, detail, CPU seconds); status is ok, crash, hang or break."""
    t0 = time.process_time()
    previous = start_alarm(timeout) if timeout else None
    try:
        breaks = check(surface, payload, ctx)
        status, key, detail = ("break", breaks[0].split(":", 1)[0] + _shape(breaks[0]), "\n".join(breaks)) if breaks else ("ok", "", "")
    except InputTimeout:
        status, key, detail = "hang", f"over {timeout:g} s", ""
    except RecursionError as exc:
        status, key, detail = "crash", f"RecursionError at {where(exc)}", "RecursionError (traceback too deep)"
    except BaseException as exc:  # noqa: BLE001 - every other exception is the finding
        if isinstance(exc, KeyboardInterrupt):
            raise
        status, key = "crash", f"{type(exc).__name__} at {where(exc)}"
        detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-12))[-6000:]
    finally:
        if timeout:
            stop_alarm(previous)
    return status, key, detail, time.process_time() - t0


def _load_x12_maps() -> None:
    from infucode.audit.x12 import claims_from_837

    for example in sorted((EXAMPLES / "claims").glob("*.x12")):
        list(claims_from_837(example.read_text()))


def _worker(conn, seed: int, timeout: float, memory_mb: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if memory_mb:
        import resource
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    sys.setrecursionlimit(5000)
    ctx = Context()
    ctx.ruleset()  # load before the clock starts
    _load_x12_maps()  # once per process, as in a batch: not the cost of the first X12 input
    while True:
        batch = conn.recv()
        if batch is None:
            return
        for i in batch:
            try:
                surface, payload = make_input(seed, i)
            except Exception as exc:  # noqa: BLE001 - a bug of this script, reported as such, never a stopped run
                conn.send((i, "generator", "crash", f"generator {type(exc).__name__} at {where(exc)}",
                           traceback.format_exc()[-3000:], 0.0))
                continue
            status, key, detail, seconds = run_one(surface, payload, ctx, timeout)
            conn.send((i, surface, status, key, detail, seconds))


@dataclass
class Tally:
    seed: int
    out: Path
    inputs: int = 0
    by_surface: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    findings: dict = field(default_factory=dict)   # (status, surface, key) -> [count, first index, saved file]
    slow: list = field(default_factory=list)      # (seconds, index, surface)
    slowest: tuple = (0.0, -1, "")

    def add(self, i: int, surface: str, status: str, key: str, detail: str, seconds: float) -> None:
        self.inputs += 1
        self.by_surface[surface] += 1
        if status == "ok" and seconds > SLOW_SECONDS:
            status, key = "hang", f"over {SLOW_SECONDS:g} s"
        self.statuses[status] += 1
        if seconds > self.slowest[0]:
            self.slowest = (seconds, i, surface)
        if status == "hang":
            self.slow.append((seconds, i, surface))
        if status == "ok":
            return
        k = (status, surface, key)
        if k in self.findings:
            self.findings[k][0] += 1
            return
        self.findings[k] = [1, i, self.save(i, surface, status, key, detail, seconds)]

    def save(self, i, surface, status, key, detail, seconds) -> str:
        self.out.mkdir(parents=True, exist_ok=True)
        stem = f"{status}-{surface.replace(':', '-')}-{self.seed}-{i}"
        suffix = ""
        if surface != "generator":
            _, payload = make_input(self.seed, i)
            suffix, data = payload_file(surface, payload)
            (self.out / f"{stem}{suffix}").write_bytes(data)
        meta = {"seed": self.seed, "index": i, "surface": surface, "status": status, "key": key, "seconds": round(seconds, 3),
                "input": f"{stem}{suffix}", "replay": f"python benchmarks/fuzz.py --replay {self.out / stem}.json",
                "detail": detail}
        (self.out / f"{stem}.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        return f"{self.out / stem}.json"


def _surface_of(seed: int, i: int) -> str:
    try:
        return make_input(seed, i)[0]
    except Exception:  # noqa: BLE001 - the generator's own bug is reported by the worker
        return "generator"


class _Slot:
    def __init__(self, seed, timeout, memory_mb):
        self.args = (seed, timeout, memory_mb)
        self.start()

    def start(self):
        self.conn, child = mp.Pipe()
        self.proc = mp.get_context("fork").Process(target=_worker, args=(child, *self.args), daemon=True)
        self.proc.start()
        child.close()
        self.pending: list[int] = []
        self.since = time.monotonic()

    def send(self, batch):
        self.pending = list(batch)
        self.since = time.monotonic()
        self.conn.send(batch)

    def kill(self):
        self.proc.kill()
        self.proc.join()
        self.conn.close()


def run(n: int, seed: int, workers: int, timeout: float, out: Path, memory_mb: int, start: int = 0,
        progress: bool = True, max_seconds: float = 0) -> Tally:
    tally = Tally(seed, out)
    todo = list(range(start, start + n))
    batch_size = 50
    slots = [_Slot(seed, timeout, memory_mb) for _ in range(max(1, workers))]
    grace = timeout * 4 + 30  # wall clock: a worker silent this long is stuck below Python (a C loop): kill it
    next_report = time.monotonic() + 30
    t0 = time.monotonic()
    try:
        while todo or any(s.pending for s in slots):
            if max_seconds and todo and time.monotonic() - t0 > max_seconds:
                print(f"  time budget of {max_seconds:g} s spent: stopping after the inputs under way", file=sys.stderr)
                todo.clear()
            for s in slots:
                if not s.pending and todo:
                    s.send(todo[:batch_size])
                    del todo[:batch_size]
            ready = wait([s.conn for s in slots if s.pending], timeout=1.0)
            for s in slots:
                if s.conn in ready:
                    try:
                        msg = s.conn.recv()
                    except (EOFError, OSError):  # the worker died (out of memory, a C crash)
                        i = s.pending.pop(0)
                        surface = _surface_of(seed, i)
                        tally.add(i, surface, "crash", f"worker died (exit {s.proc.exitcode})", "", 0.0)
                        rest = s.pending
                        s.kill()
                        s.start()
                        todo[:0] = rest
                        continue
                    s.pending.remove(msg[0])
                    s.since = time.monotonic()
                    tally.add(*msg)
                elif s.pending and time.monotonic() - s.since > grace:
                    i = s.pending.pop(0)
                    surface = _surface_of(seed, i)
                    tally.add(i, surface, "hang", f"silent over {grace:g} s (worker killed)", "", float(grace))
                    rest = s.pending
                    s.kill()
                    s.start()
                    todo[:0] = rest
            if progress and time.monotonic() > next_report:
                next_report = time.monotonic() + 30
                print(f"  ... {tally.inputs}/{n} inputs, {time.monotonic() - t0:.0f} s, crashes {tally.statuses['crash']}, "
                      f"hangs {tally.statuses['hang']}, breaks {tally.statuses['break']}", file=sys.stderr, flush=True)
    finally:
        for s in slots:
            try:
                s.conn.send(None)
            except OSError:
                pass
            s.proc.join(timeout=5)
            if s.proc.is_alive():
                s.kill()
    return tally


def report(tally: Tally, seconds: float, workers: int) -> str:
    st = tally.statuses
    lines = [f"fuzz: {tally.inputs} inputs (seed {tally.seed}, {workers} worker(s)) in {seconds:.1f} s "
             f"({tally.inputs / max(seconds, 1e-9):.0f} inputs/s)",
             "  by surface: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.by_surface.items())),
             f"  ok {st['ok']}, crashes {st['crash']}, hangs over {SLOW_SECONDS:g} s CPU {st['hang']}, invariant breaks {st['break']}",
             f"  slowest input: {tally.slowest[0]:.3f} s CPU (#{tally.slowest[1]} {tally.slowest[2]})"]
    for status, title in (("crash", "crashes"), ("hang", "hangs"), ("break", "invariant breaks")):
        rows = sorted(((k, v) for k, v in tally.findings.items() if k[0] == status), key=lambda kv: (kv[0][1], -kv[1][0]))
        if rows:
            lines.append(f"  {title} (surface, what: count, first reproducer):")
            lines += [f"    {surface}, {key}: {count}, {saved}" for (_, surface, key), (count, _i, saved) in rows]
    if tally.slow:
        worst = sorted(tally.slow, reverse=True)[:5]
        lines.append("  slowest hangs: " + ", ".join(f"{s:.2f} s #{i} {surf}" for s, i, surf in worst))
    return "\n".join(lines)


def replay(meta_path: str) -> int:
    meta = json.loads(Path(meta_path).read_text(encoding="utf-8"))
    surface, payload = make_input(meta["seed"], meta["index"])
    print(f"replaying #{meta['index']} of seed {meta['seed']} on {surface} (was: {meta['status']} {meta['key']})")
    t0 = time.process_time()
    breaks = check(surface, payload, Context())  # no catching: the traceback is the point
    print(f"finished in {time.process_time() - t0:.3f} s CPU; invariant breaks: {breaks or 'none'}")
    return 1 if breaks else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="inputs to run (default 100000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", type=int, default=0, help="first input index (to resume or shard a run)")
    parser.add_argument("--workers", type=int, default=2, choices=(1, 2, 3, 4))
    parser.add_argument("--timeout", type=float, default=5.0, help="CPU seconds before one input is stopped as a hang")
    parser.add_argument("--max-seconds", type=float, default=0, help="stop starting inputs after this wall time (0: none)")
    parser.add_argument("--memory-mb", type=int, default=3072, help="address-space limit per worker (0: none)")
    parser.add_argument("--out", default=str(ROOT / "fuzz-crashes"), help="where reproducers are written")
    parser.add_argument("--replay", metavar="META_JSON", help="re-run one saved input in this process")
    args = parser.parse_args(argv)
    if args.replay:
        return replay(args.replay)
    if args.n < 1:
        parser.error("--n must be 1 or more")
    t0 = time.monotonic()
    tally = run(args.n, args.seed, args.workers, args.timeout, Path(args.out), args.memory_mb, args.start,
                max_seconds=args.max_seconds)
    print(report(tally, time.monotonic() - t0, args.workers))
    bad = tally.statuses["crash"] + tally.statuses["hang"] + tally.statuses["break"]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
