"""What every audit check works on: the billed lines (:class:`Billed`), the prepared claim
(:class:`AuditContext`), the code sets the checks share, and the helpers that build findings.

wRVU delta: on a professional claim, (supported minus billed units) x the code's work RVU, so a
negative value is over-billing; on an institutional claim it is 0 (work RVUs do not price OPPS) and
the message states the difference in lines and units instead.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from infucode.model import ChargeLine, Result
from infucode.reference.codes import CodeInfo, CodeTable
from infucode.reference.drugs import DrugCatalog
from infucode.reference.ncci import PtpTable
from infucode.rules.initial import FAMILY_RANK, INITIAL_CODE  # noqa: F401  (FAMILY_RANK: the audit ranks billed families alike)
from infucode.rules.limits import MAI_MEANING  # noqa: F401  (one wording of the MUE adjudication indicator)
from infucode.rules.reporting import facility_reserved

from .model import AuditFinding, Claim

DISTINCT_MODIFIERS = frozenset({"59", "XE", "XS", "XP", "XU"})
DRUG_MODIFIERS = frozenset({"JA", "JW", "JZ"})
#: Places of service the physician fee schedule prices at the facility rate (CMS PFS facility POS list).
FACILITY_POS = frozenset({"19", "21", "22", "23", "24", "26", "31", "34", "41", "42", "51", "52", "53", "56", "61"})
ADMIN_RANGE = (96360, 96549)
THERAPEUTIC_CODES = frozenset({"96365", "96366", "96367", "96368"})
HYDRATION_CODES = frozenset({"96360", "96361"})
#: The initial service of an IV chain, one per encounter (the engine's table: 96360, 96365, 96374, 96409, 96413).
IV_INITIAL_CODES = frozenset(INITIAL_CODE.values())
#: JZ is required on single-dose drug lines with nothing discarded from this date of service (CMS JW/JZ FAQ).
JZ_REQUIRED_FROM = "2023-07-01"
#: HCPCS Level II drug codes: J-codes, Q-codes (e.g. biosimilars) and OPPS pass-through C9xxx.
DRUG_CODE = re.compile(r"^(?:J\d{4}|Q\d{4}|C9\d{3})$")
EXPLANATION_TAG = re.compile(r"\s*\[[^\]]*\]$")   # the engine's trailing "[rule title; sources]" tag on an explanation
KIND_RANK = {"initial_infusion": 2, "initial_push": 1}
CHEMO_CODES = frozenset({"96413", "96415", "96417"})
IV_KINDS = frozenset({"initial_infusion", "sequential_infusion", "concurrent_infusion", "initial_push",
                       "sequential_push", "added_hour"})


def in_admin_range(code: str) -> bool:
    return code.isdigit() and len(code) == 5 and ADMIN_RANGE[0] <= int(code) <= ADMIN_RANGE[1]


def facility_only(code: str) -> bool:
    return code.isdigit() and len(code) == 5 and facility_reserved(code)


@dataclass(frozen=True, slots=True)
class Billed:
    """One billed line, with the claim's date filled in and its code-table entry (None outside 96360-96549)."""

    number: int       # the line's number on the claim, 1 = the first (the 837's LX 1)
    code: str
    units: int
    modifiers: frozenset[str]
    date: str
    info: CodeInfo | None

    @property
    def admin(self) -> bool:
        return self.info is not None


@dataclass(frozen=True)
class AuditContext:
    claim: Claim
    claim_kind: str                      # the engine's claim: "professional" | "facility"
    lines: tuple[Billed, ...]
    codes: CodeTable
    ptp: PtpTable
    drugs: DrugCatalog
    policies: dict[str, str]
    supported: tuple[ChargeLine, ...] | None = None     # the engine's lines, None without documentation
    coded: Result | None = None
    ptp_by_date: Mapping[str, PtpTable] = field(default_factory=dict)   # the edits in force on each date

    def ptp_on(self, day: str | None) -> PtpTable:
        """The NCCI PTP edits in force on a date of service (``ptp`` when no dated table was given)."""
        return self.ptp_by_date.get(day, self.ptp) if day else self.ptp

    @property
    def professional(self) -> bool:
        return self.claim_kind == "professional"

    @property
    def admin_lines(self) -> list[Billed]:
        return [b for b in self.lines if b.admin]

    def wrvu(self, code: str, unit_delta: int) -> float:
        """Supported minus billed units, in wRVU (professional claims only; 0 on institutional claims)."""
        info = self.codes.get(code)
        if not self.professional or info is None or info.wrvu is None:
            return 0.0
        return round(unit_delta * info.wrvu, 2)

    def supported_units(self) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = defaultdict(int)
        for line in self.supported or ():
            if line.kind == "administration":
                out[(line.code, line.date or self.claim.date)] += line.units
        return dict(out)

    def billed_units(self) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = defaultdict(int)
        for b in self.admin_lines:
            out[(b.code, b.date)] += b.units
        return dict(out)

    def numbers(self, code: str, date: str | None = None) -> list[int]:
        return [b.number for b in self.lines if b.code == code and (date is None or b.date == date)]


def finding(rule: str, severity: str, message: str, lines: Iterable[int], wrvu_delta: float = 0.0,
          units: int = 0, code: str = "") -> AuditFinding:
    """``units``: supported minus billed administration units the finding is about (negative = overbilled);
    ``code``: the one code those units and the wRVU delta are of ("" when several), so that a batch summary
    counts a code once per claim when several rules report the same over-billing."""
    return AuditFinding(rule=rule, severity=severity, message=message, lines=sorted(set(lines)),
                        wrvu_delta=round(wrvu_delta, 2) or 0.0, unit_delta=units, code=code)


def units_text(ctx: AuditContext, code: str, units: int) -> str:
    return "" if ctx.professional else f" (institutional claim: {units} unit(s) of {code}; wRVU does not price OPPS)"


def units_list(lines: Iterable[Billed]) -> str:
    total: dict[str, int] = defaultdict(int)
    for b in lines:
        total[b.code] += b.units
    return ", ".join(f"{code} x{units}" for code, units in sorted(total.items()))


Check = Callable[[AuditContext], list[AuditFinding]]
