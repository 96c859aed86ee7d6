"""The kinds of CMS release file (MUE, NCCI PTP and PFS RVU, by setting), told from a file's header and name, and
the period a release is valid for (its quarter or year, from its name)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from .ncci import OUTPATIENT_HOSPITAL, PRACTITIONER

__all__ = ["KINDS", "ImportFailure", "Kind", "detect_kind", "kind_named", "period_from_name", "quarter_end",
           "quarter_period", "release_name", "year_period"]


class ImportFailure(ValueError):
    """A file that cannot be imported: its kind or period cannot be told, a row does not fit its layout,
    or its period overlaps a release already imported. The message names the file (and the row)."""


# ------------------------------------------------------------------------------------------- kinds
@dataclass(frozen=True, slots=True)
class Kind:
    key: str            # also the key in an audit result's data_releases
    label: str
    family: str         # "mue" | "ptp" | "rvu"
    setting: str | None  # the PTP / MUE setting, None for the RVU file


KINDS: dict[str, Kind] = {k.key: k for k in (
    Kind("mue_practitioner", "MUE practitioner", "mue", PRACTITIONER),
    Kind("mue_outpatient_hospital", "MUE outpatient hospital", "mue", OUTPATIENT_HOSPITAL),
    Kind("ptp_practitioner", "NCCI PTP practitioner", "ptp", PRACTITIONER),
    Kind("ptp_hospital", "NCCI PTP outpatient hospital", "ptp", OUTPATIENT_HOSPITAL),
    Kind("rvu", "PFS RVU", "rvu", None),
)}

_KIND_ALIASES = {
    "mue-practitioner": "mue_practitioner", "mue_prac": "mue_practitioner",
    "mue-outpatient-hospital": "mue_outpatient_hospital", "mue_hospital": "mue_outpatient_hospital",
    "mue-hospital": "mue_outpatient_hospital", "mue_oph": "mue_outpatient_hospital",
    "ptp-practitioner": "ptp_practitioner", "ptp_prac": "ptp_practitioner",
    "ptp-hospital": "ptp_hospital", "ptp_outpatient_hospital": "ptp_hospital",
    "ptp-outpatient-hospital": "ptp_hospital", "ptp_oph": "ptp_hospital",
    "pprrvu": "rvu", "pfs_rvu": "rvu", "pfs-rvu": "rvu",
}


def kind_named(name: str) -> Kind:
    """The kind for ``--kind`` (``mue_practitioner``, ``mue-outpatient-hospital``, ``rvu``, ...)."""
    key = name.strip().lower()
    key = _KIND_ALIASES.get(key, key)
    try:
        return KINDS[key]
    except KeyError:
        raise ValueError(f"unknown kind {name!r}; choose one of {', '.join(KINDS)}") from None


def _squash(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def _kind_from_name(name: str) -> str | None:
    squashed = _squash(name)
    lower = name.lower()
    if re.search(r"(^|[^a-z])mue([^a-z]|$)", lower):
        if "DME" in squashed:
            return "mue_dme"
        if "PRACTITIONER" in squashed:
            return "mue_practitioner"
        if "OUTPATIENTHOSPITAL" in squashed or re.search(r"(^|[^a-z])oph([^a-z]|$)", lower):
            return "mue_outpatient_hospital"
        return "mue"
    if lower.startswith("ccipra"):
        return "ptp_practitioner"
    if lower.startswith("ccioph"):
        return "ptp_hospital"
    if "PPRRVU" in squashed or re.search(r"rvu\d{2}[a-d]", lower):
        return "rvu"
    return None


def _kind_from_header(path: Path) -> str | None:
    """The kind the first lines of the file show: the MUE header names its setting; the PTP header
    ("Column 1", "Column 2", ...) does not; the PPRRVU header has HCPCS, MOD and WORK RVU."""
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as fh:
            head = [line for _, line in zip(range(60), fh)]
    except OSError as exc:
        raise ImportFailure(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    text = _squash(" ".join(head))
    if "MUEVALUES" in text or "MUEADJUDICATIONINDICATOR" in text:
        if "DMESUPPLIERSERVICESMUE" in text:
            return "mue_dme"
        if "PRACTITIONERSERVICESMUE" in text:
            return "mue_practitioner"
        if "OUTPATIENTHOSPITALSERVICESMUE" in text:
            return "mue_outpatient_hospital"
        return "mue"
    if any(re.match(r"\s*column\s*1\W+column\s*2", line, re.I) for line in head):
        return "ptp"
    if "HCPCSMODDESCRIPTION" in text or ("HCPCS" in text and "MOD" in text and "WORK" in text):
        return "rvu"
    if any(re.match(r"^[0-9A-Z]{5}\t[0-9A-Z]{5}\t[* ]?\t\d{8}\t", line) for line in head):
        return "ptp"
    return None


def _family(kind: str | None) -> str | None:
    return kind.split("_")[0] if kind else None


def detect_kind(path: str | Path) -> Kind:
    """The kind of a CMS file from its header and its CMS file name; raises ImportFailure naming the file."""
    path = Path(path)
    by_header = _kind_from_header(path)
    by_name = _kind_from_name(path.name)
    hint = f"pass --kind ({', '.join(KINDS)})"
    if "mue_dme" in (by_header, by_name):
        raise ImportFailure(f"{path}: a DME supplier MUE file; only the practitioner and outpatient hospital "
                            "MUE files apply to drug administration")
    if by_header and by_name and (_family(by_header) != _family(by_name)
                                  or (by_header in KINDS and by_name in KINDS and by_header != by_name)):
        raise ImportFailure(f"{path}: the file name says {by_name} but the header says {by_header}; {hint}")
    for candidate in (by_header, by_name):
        if candidate in KINDS:
            return KINDS[candidate]
    family = _family(by_header or by_name)
    if family == "ptp":
        raise ImportFailure(f"{path}: a PTP edit file, but its name does not say the setting (ccipra = "
                            f"practitioner, ccioph = outpatient hospital); {hint}")
    if family == "mue":
        raise ImportFailure(f"{path}: an MUE file, but neither its header nor its name says the setting; {hint}")
    raise ImportFailure(f"{path}: not a CMS file infucode knows (MUE practitioner / outpatient hospital CSV, "
                        f"NCCI PTP TXT, PPRRVU CSV) by its header or name; {hint}")


# ------------------------------------------------------------------------------------------- periods
def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def quarter_end(day: date) -> date:
    start = _quarter_start(day)
    following = date(start.year + (start.month == 10), (start.month + 3 - 1) % 12 + 1, 1)
    return following - timedelta(days=1)


def quarter_period(text: str) -> tuple[date, date]:
    """``2024Q3`` (or ``2024-Q3``) -> (2024-07-01, 2024-09-30)."""
    m = re.fullmatch(r"\s*(\d{4})\s*-?\s*[Qq]([1-4])\s*", text)
    if not m:
        raise ValueError(f"quarter {text!r} is not like 2024Q3")
    start = date(int(m.group(1)), 3 * int(m.group(2)) - 2, 1)
    return start, quarter_end(start)


def year_period(year: int) -> tuple[date, date]:
    if not 1990 <= year <= 2200:
        raise ValueError(f"year {year} is out of range")
    return date(year, 1, 1), date(year, 12, 31)


_MONTHS = {m: i for i, m in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1)}


def period_from_name(kind: Kind, name: str) -> tuple[date, date] | None:
    """The period a CMS file is valid for, read from the way CMS names it; None when the name does not say.

    MUE ``..._Eff_10-01-2024`` -> from that date to the end of its quarter; PTP ``ccipra-v302r0`` ->
    version 30.2 -> 2024Q3; PPRRVU ``PPRRVU24_JUL`` or ``RVU24C`` -> 2024Q3.
    """
    if kind.family == "mue":
        m = re.search(r"eff\D{0,3}(\d{1,2})[-_.](\d{1,2})[-_.](\d{4})", name, re.I)
        if m:
            try:
                start = date(int(m.group(3)), int(m.group(1)), int(m.group(2)))
            except ValueError:
                return None
            return start, quarter_end(start)
    elif kind.family == "ptp":
        m = re.search(r"v(\d{2})(\d)r\d+", name, re.I)
        if m and int(m.group(2)) <= 3:
            start = date(1994 + int(m.group(1)), 3 * int(m.group(2)) + 1, 1)
            return start, quarter_end(start)
    else:
        m = re.search(r"pprrvu(\d{2}|\d{4})[\s_-]*([a-z]{3})", name, re.I)
        if m and m.group(2).upper() in _MONTHS:
            year = int(m.group(1)) + (2000 if len(m.group(1)) == 2 else 0)
            start = date(year, _MONTHS[m.group(2).upper()], 1)
            return start, quarter_end(start)
        m = re.search(r"rvu(\d{2})([a-d])", name, re.I)
        if m:
            start = date(2000 + int(m.group(1)), 3 * "ABCD".index(m.group(2).upper()) + 1, 1)
            return start, quarter_end(start)
    return None


def release_name(kind: Kind, path: Path) -> tuple[str, str]:
    """(release name, part): a PTP file part ``ccipra-v302r0-f1`` belongs to release ``ccipra-v302r0``."""
    stem = path.stem
    if kind.family == "ptp":
        m = re.fullmatch(r"(.+?)[-_ ]?(f\d)", stem, re.I)
        if m:
            return m.group(1), m.group(2).lower()
    return stem, ""
