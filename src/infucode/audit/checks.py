"""The audit checks: one small pure function per check (no I/O), each taking the prepared
:class:`AuditContext` and returning findings. Every rule id resolves in ``reference/data/rules.yaml``
(keys ``audit.*``) to a statement in our own words and its sources.

wRVU delta: on a professional claim, (supported minus billed units) x the code's work RVU, so a
negative value is over-billing; on an institutional claim it is 0 (work RVUs do not price OPPS) and
the message states the difference in lines and units instead.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import permutations

from infucode.model import Administration, ChargeLine, Result
from infucode.reference.codes import CodeInfo, CodeTable
from infucode.reference.drugs import DrugCatalog
from infucode.reference.ncci import PtpTable
from infucode.rules.initial import INITIAL_CODE
from infucode.rules.method import keeps_line_open

from .model import AuditFinding, Claim

DISTINCT_MODIFIERS = frozenset({"59", "XE", "XS", "XP", "XU"})
DRUG_MODIFIERS = frozenset({"JA", "JW", "JZ"})
#: Places of service the physician fee schedule prices at the facility rate (CMS PFS facility POS list).
FACILITY_POS = frozenset({"19", "21", "22", "23", "24", "26", "31", "34", "41", "42", "51", "52", "53", "56", "61"})
#: Codes a professional claim does not report in a facility setting (CPT: the facility reports them).
_FACILITY_ONLY_RANGES = ((96360, 96379), (96401, 96402), (96409, 96425), (96521, 96523))
_ADMIN_RANGE = (96360, 96549)

THERAPEUTIC_CODES = frozenset({"96365", "96366", "96367", "96368"})
HYDRATION_CODES = frozenset({"96360", "96361"})
#: The initial service of an IV chain, one per encounter (the engine's table: 96360, 96365, 96374, 96409, 96413).
IV_INITIAL_CODES = frozenset(INITIAL_CODE.values())
#: JZ is required on single-dose drug lines with nothing discarded from this date of service (CMS JW/JZ FAQ).
JZ_REQUIRED_FROM = "2023-07-01"
#: HCPCS Level II drug codes: J-codes, Q-codes (e.g. biosimilars) and OPPS pass-through C9xxx.
_DRUG_CODE = re.compile(r"^(?:J\d{4}|Q\d{4}|C9\d{3})$")
_TAG = re.compile(r"\s*\[[^\]]*\]$")   # the engine's trailing "[rule title; sources]" tag on an explanation
_FAMILY_RANK = {"chemotherapy": 3, "therapeutic": 2, "hydration": 1}
_KIND_RANK = {"initial_infusion": 2, "initial_push": 1}
CHEMO_CODES = frozenset({"96413", "96415", "96417"})
_IV_KINDS = frozenset({"initial_infusion", "sequential_infusion", "concurrent_infusion", "initial_push",
                       "sequential_push", "added_hour"})
_MAI = {
    1: "MAI 1, a claim-line edit: the units on one line are limited",
    2: "MAI 2, a date-of-service edit set by policy: absolute, no appeal can exceed it",
    3: "MAI 3, a date-of-service edit set on clinical grounds: it may be exceeded on appeal with documentation",
}


def in_admin_range(code: str) -> bool:
    return code.isdigit() and len(code) == 5 and _ADMIN_RANGE[0] <= int(code) <= _ADMIN_RANGE[1]


def _facility_only(code: str) -> bool:
    return code.isdigit() and len(code) == 5 and any(lo <= int(code) <= hi for lo, hi in _FACILITY_ONLY_RANGES)


@dataclass(frozen=True, slots=True)
class Billed:
    """One billed line, with the claim's date filled in and its code-table entry (None outside 96360-96549)."""

    index: int
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

    def indexes(self, code: str, date: str | None = None) -> list[int]:
        return [b.index for b in self.lines if b.code == code and (date is None or b.date == date)]


def _find(rule: str, severity: str, message: str, lines: Iterable[int], wrvu_delta: float = 0.0,
          units: int = 0, code: str = "") -> AuditFinding:
    """``units``: supported minus billed administration units the finding is about (negative = overbilled);
    ``code``: the one code those units and the wRVU delta are of ("" when several), so that a batch summary
    counts a code once per claim when several rules report the same over-billing."""
    return AuditFinding(rule=rule, severity=severity, message=message, lines=sorted(set(lines)),
                        wrvu_delta=round(wrvu_delta, 2) or 0.0, unit_delta=units, code=code)


def _units_text(ctx: AuditContext, code: str, units: int) -> str:
    return "" if ctx.professional else f" (institutional claim: {units} unit(s) of {code}; wRVU does not price OPPS)"


# ---------------------------------------------------------------------------------------------
# Checks on the billed lines alone
# ---------------------------------------------------------------------------------------------


def input_validation(ctx: AuditContext) -> list[AuditFinding]:
    """audit.input_validation [X12-5010-IG, INFUCODE]: the claim was read and audited, but its file has
    validation errors outside the fields the audit reads (e.g. an 837 billing provider ZIP code); a payer's
    acknowledgement (999) may reject the claim for them."""
    if not ctx.claim.reader_warnings:
        return []
    return [_find("audit.input_validation", "warning",
                  "the claim was audited, but its file has errors outside the audited fields that a payer may reject: "
                  + "; ".join(ctx.claim.reader_warnings), [])]


def unknown_admin_codes(ctx: AuditContext) -> list[AuditFinding]:
    """audit.unknown_code [INFUCODE]: a code in 96360-96549 that the code table does not hold."""
    return [_find("audit.unknown_code", "warning",
                  f"line {b.index}: {b.code} is in the drug-administration range but not in the code table; it was not checked", [b.index])
            for b in ctx.lines if b.info is None and in_admin_range(b.code)]


def add_on_without_primary(ctx: AuditContext) -> list[AuditFinding]:
    """audit.add_on_without_primary [S1-AOC, SEED-003]: an add-on code needs one of its eligible primaries
    on the same date; on an institutional claim (e.g. an observation stay) anywhere on the same claim."""
    out = []
    for b in ctx.admin_lines:
        if not b.info.add_on or not b.info.primaries:
            continue
        others = {o.code for o in ctx.lines if o.index != b.index and (not ctx.professional or o.date == b.date)}
        if b.info.primaries & others:
            continue
        where = "on the claim" if not ctx.professional else f"on {b.date}"
        out.append(_find("audit.add_on_without_primary", "error",
                         f"line {b.index}: {b.code} x{b.units} is an add-on code and none of its eligible primaries "
                         f"({', '.join(sorted(b.info.primaries))}) is billed {where}; the CMS add-on edit denies it"
                         + _units_text(ctx, b.code, b.units),
                         [b.index], ctx.wrvu(b.code, -b.units), -b.units, b.code))
    return out


def mue_exceeded(ctx: AuditContext) -> list[AuditFinding]:
    """audit.mue [S1-MUE, S38b, S38c]: units above the MUE of the claim's table (practitioner for a
    professional claim, outpatient hospital for an institutional one), read by the MAI: 1 per line,
    2 and 3 per date of service summed over lines. The whole line is denied, not only the excess."""
    table = "practitioner" if ctx.professional else "outpatient hospital"
    groups: dict[tuple[str, str], list[Billed]] = defaultdict(list)
    for b in ctx.admin_lines:
        groups[(b.code, b.date)].append(b)
    out = []
    for (code, day), lines in groups.items():
        mue = lines[0].info.mue(ctx.claim_kind)
        if mue.value is None or mue.value == 0:
            continue  # no MUE, or 0 = not payable in this setting (see audit.facility_only_code)
        for group in ([[b] for b in lines] if mue.mai == 1 else [lines]):
            units = sum(b.units for b in group)
            if units <= mue.value:
                continue
            out.append(_find("audit.mue", "error",
                             f"{code} x{units} on {day} is above the {table} MUE of {mue.value} "
                             f"({_MAI.get(mue.mai, f'MAI {mue.mai}')}); the whole line is denied, not only the excess"
                             + _units_text(ctx, code, units),
                             [b.index for b in group], ctx.wrvu(code, -units), -units, code))
    return out


def concurrent_more_than_once(ctx: AuditContext) -> list[AuditFinding]:
    """audit.concurrent_once [CPT-INF-GUIDE, S29c]: 96368 is reported once per date of service."""
    per_day: dict[str, list[Billed]] = defaultdict(list)
    for b in ctx.admin_lines:
        if b.code == "96368":
            per_day[b.date].append(b)
    out = []
    for day, lines in per_day.items():
        units = sum(b.units for b in lines)
        if units > 1:
            out.append(_find("audit.concurrent_once", "error",
                             f"96368 x{units} on {day}: a concurrent infusion is reported once per date, however many drugs ran together; "
                             f"{units - 1} unit(s) too many" + _units_text(ctx, "96368", units - 1),
                             [b.index for b in lines], ctx.wrvu("96368", -(units - 1)), -(units - 1), "96368"))
    return out


def facility_only_code(ctx: AuditContext) -> list[AuditFinding]:
    """audit.facility_only_code [S1-RVU, S19]: a code with PFS status X (96376) is not paid on a professional claim."""
    if not ctx.professional:
        return []
    return [_find("audit.facility_only_code", "error",
                  f"line {b.index}: {b.code} has PFS status {b.info.pfs_status} (not paid on the physician fee schedule); "
                  "only the hospital reports it", [b.index], ctx.wrvu(b.code, -b.units), -b.units, b.code)
            for b in ctx.admin_lines if b.info.pfs_status == "X"]


def facility_place_of_service(ctx: AuditContext) -> list[AuditFinding]:
    """audit.facility_pos_professional [CPT-INF-GUIDE, SEED-003]: on a professional claim with a facility
    place of service, 96360-96379, 96401-96402, 96409-96425 and 96521-96523 are the hospital's to report."""
    pos = ctx.claim.place_of_service
    if not ctx.professional or pos not in FACILITY_POS:
        return []
    return [_find("audit.facility_pos_professional", "error",
                  f"line {b.index}: {b.code} on a professional claim with facility place of service {pos}: the facility reports "
                  "drug administration; the physician reports a separately identifiable E/M with modifier 25",
                  [b.index], ctx.wrvu(b.code, -b.units), -b.units, b.code)
            for b in ctx.admin_lines if _facility_only(b.code) and b.info.pfs_status != "X"]


def hydration_as_initial(ctx: AuditContext) -> list[AuditFinding]:
    """audit.hydration_as_initial [CPT-FAC-HIERARCHY, S13, S4, S24]: 96360 is the initial service only when
    no therapeutic or chemotherapy infusion or push was given. Facility claim: always an error (the
    hierarchy); professional claim: a warning under the office_initial policy ``primary_reason`` (CPT lets
    the office choose the reason for the visit), an error under ``hierarchy``."""
    hyd = [b for b in ctx.admin_lines if b.code == "96360"]
    if not hyd:
        return []
    ranked = [b for b in ctx.admin_lines
              if b.info.family in ("therapeutic", "chemotherapy") and b.info.kind in _IV_KINDS]
    if ctx.supported is not None and not ranked:
        ranked_codes = sorted({l.code for l in ctx.supported if (i := ctx.codes.get(l.code)) is not None
                               and i.family in ("therapeutic", "chemotherapy") and i.kind in _IV_KINDS})
    else:
        ranked_codes = sorted({b.code for b in ranked})
    if not ranked_codes:
        return []
    office_policy = ctx.policies.get("office_initial", "primary_reason")
    severity = "error" if (not ctx.professional or office_policy == "hierarchy") else "warning"
    why = ("on a facility claim the hierarchy puts the therapeutic/chemotherapy service first" if not ctx.professional
           else f"office_initial policy '{office_policy}': " + (
               "the hierarchy decides" if office_policy == "hierarchy"
               else "allowed only when hydration was the documented primary reason for the visit; otherwise bill 96361"))
    delta = ctx.wrvu("96360", -1) + ctx.wrvu("96361", 1) if severity == "error" else 0.0
    return [_find("audit.hydration_as_initial", severity,
                  f"96360 billed as the initial service while {', '.join(ranked_codes)} was given: hydration is then an add-on "
                  f"(96361) at most; {why}", [b.index for b in hyd], delta, 0, "96360")]


def ptp_pairs(ctx: AuditContext) -> list[AuditFinding]:
    """audit.ptp [S1-PTP, S38a, NCCI-CH11]: NCCI procedure-to-procedure pairs billed on the same date.
    Modifier indicator 0: never bypassed (error); 1: bypassed only by 59/XE/XS/XP/XU on either line, or by
    25 on a column-2 E/M line (info when 59/X{EPSU} bypasses it, silent for 25 on the E/M and when the
    documentation codes the same pair with the modifier, error when absent); 9: the edit does not apply."""
    out = []
    by_day: dict[str, list[Billed]] = defaultdict(list)
    for b in ctx.lines:
        by_day[b.date].append(b)
    seen: set[tuple[int, int]] = set()
    for day, lines in by_day.items():
        for one, two in permutations(lines, 2):
            if one.code == two.code or (one.index, two.index) in seen:
                continue
            edit = ctx.ptp_on(day).pair(one.code, two.code, ctx.claim_kind)
            if edit is None or edit.modifier_indicator == 9:
                continue
            seen.add((one.index, two.index))
            em = two.code.startswith("99") or two.code == "G0463"
            bypass = (one.modifiers | two.modifiers) & DISTINCT_MODIFIERS
            if edit.modifier_indicator == 1 and em and "25" in two.modifiers and not bypass:
                continue  # a separately identifiable E/M with 25: the edit's intended bypass, nothing to report
            lines_at = [one.index, two.index]
            if edit.modifier_indicator == 0:
                out.append(_find("audit.ptp", "error",
                                 f"{two.code} (line {two.index}) is bundled into {one.code} (line {one.index}) on {day}: NCCI PTP edit "
                                 f"with modifier indicator 0, no modifier bypasses it ({edit.rationale})" + _units_text(ctx, two.code, two.units),
                                 lines_at, ctx.wrvu(two.code, -two.units), -two.units, two.code))
            elif bypass:
                if _documented_distinct(ctx, day, one.code, two.code):
                    continue  # the engine codes the same pair with the modifier: the record shows the distinct service
                out.append(_find("audit.ptp", "info",
                                 f"{one.code}/{two.code} on {day} is an NCCI PTP pair (indicator 1) bypassed by modifier "
                                 f"{', '.join(sorted(bypass))}; the record must show a distinct service (separate site, access or encounter)",
                                 lines_at))
            else:
                allowed = "59/XE/XS/XP/XU" + (" or 25 on the E/M line" if em else "")
                out.append(_find("audit.ptp", "error",
                                 f"{two.code} (line {two.index}) is bundled into {one.code} (line {one.index}) on {day}: NCCI PTP edit "
                                 f"with modifier indicator 1 and no {allowed}; it is denied unless the services were distinct "
                                 f"({edit.rationale})" + _units_text(ctx, two.code, two.units),
                                 lines_at, ctx.wrvu(two.code, -two.units), -two.units, two.code))
    return out


def _documented_distinct(ctx: AuditContext, day: str, one: str, two: str) -> bool:
    """The documentation supports both codes on ``day``, one of them with a distinct-service modifier."""
    found = {l.code: set(l.modifiers) for l in ctx.supported or ()
             if l.kind == "administration" and (l.date or ctx.claim.date) == day and l.code in (one, two)}
    return len(found) == 2 and any(m & DISTINCT_MODIFIERS for m in found.values())


def modifiers_on_administration(ctx: AuditContext) -> list[AuditFinding]:
    """audit.modifier_misplaced [CMS-JW-JZ-FAQ, NCCI-CH11]: 25 belongs on the E/M line and JA/JW/JZ on the
    drug line, not on an administration line."""
    out = []
    for b in ctx.admin_lines:
        wrong = sorted(b.modifiers & (DRUG_MODIFIERS | {"25"}))
        if wrong:
            out.append(_find("audit.modifier_misplaced", "warning",
                             f"line {b.index}: modifier {', '.join(wrong)} on administration code {b.code}: 25 goes on the "
                             "separately identifiable E/M line, JA/JW/JZ on the drug (J-code) line", [b.index]))
    return out


# ---------------------------------------------------------------------------------------------
# Checks against the documentation (the engine's supported lines)
# ---------------------------------------------------------------------------------------------


def no_documentation(ctx: AuditContext) -> list[AuditFinding]:
    """audit.no_documentation [INFUCODE]: without the encounter, units, drug families and sequence cannot be
    verified; the checks on the billed lines alone still ran."""
    if ctx.supported is not None or not ctx.admin_lines:
        return []
    return [_find("audit.no_documentation", "info",
                  "no documented encounter on the claim: units against the clock, drug family and sequence could not be "
                  "verified; only the billed-line edits (add-on, MUE, NCCI, setting) were checked",
                  [b.index for b in ctx.admin_lines])]


def encounter_mismatch(ctx: AuditContext) -> list[AuditFinding]:
    """audit.encounter_mismatch [INFUCODE]: the embedded encounter's setting/claim or date disagrees with the claim."""
    enc = ctx.claim.encounter
    if enc is None:
        return []
    out = []
    if enc.claim_type != ctx.claim_kind:
        out.append(_find("audit.encounter_mismatch", "warning",
                         f"the documented encounter is coded for a {enc.claim_type} claim (setting {enc.setting}) but this is a "
                         f"{ctx.claim.claim_type} claim; the documentation was coded as the claim says ({ctx.claim_kind})", []))
    if enc.date and enc.date != ctx.claim.date and not any(b.date == enc.date for b in ctx.lines):
        out.append(_find("audit.encounter_mismatch", "warning",
                         f"the documented encounter is dated {enc.date}, the claim {ctx.claim.date}, and no billed line carries that date", []))
    return out


def billed_vs_supported(ctx: AuditContext) -> list[AuditFinding]:
    """audit.units_unsupported / audit.under_coded [SEED-003, CPT-INF-GUIDE, S26]: per code and date, billed
    units above what the documented clock supports are an error (negative wRVU delta); fewer units than
    supported are under-coding (warning when the code is missing altogether, info when units are short)."""
    if ctx.supported is None:
        return []
    billed, supported = ctx.billed_units(), ctx.supported_units()
    out = []
    for key in sorted(set(billed) | set(supported)):
        code, day = key
        b, s = billed.get(key, 0), supported.get(key, 0)
        if b > s:
            tail = f"{b - s} unit(s) above the documentation" + _units_text(ctx, code, b - s)
            out.append(_find("audit.units_unsupported", "error",
                             f"{code} x{b} billed on {day}, the documentation supports {s}: {tail}",
                             ctx.indexes(code, day), ctx.wrvu(code, s - b), s - b, code))
        elif s > b:
            severity = "warning" if b == 0 else "info"
            out.append(_find("audit.under_coded", severity,
                             f"{code} x{s} supported on {day} but {b} billed: {s - b} unit(s) under-coded"
                             + _units_text(ctx, code, s - b), ctx.indexes(code, day), ctx.wrvu(code, s - b), s - b, code))
    return out


def sequential_for_same_drug(ctx: AuditContext) -> list[AuditFinding]:
    """audit.sequential_same_drug [SEED-003, CPT-INF-GUIDE]: 96367 with 96366 billed where the documentation
    shows one drug continuing (96366, no 96367): a new-drug code for a continuing infusion is unbundling.
    (96366 after a 96367 for a different drug is correct and supported by the documentation.) The wRVU is
    counted by audit.units_unsupported."""
    if ctx.supported is None:
        return []
    billed = ctx.billed_units()
    supported = ctx.supported_units()
    out = []
    for (code, day), units in billed.items():
        if code != "96367" or units <= supported.get(("96367", day), 0):
            continue
        if supported.get(("96366", day), 0):
            out.append(_find("audit.sequential_same_drug", "error",
                                 f"96367 billed on {day} for an infusion the documentation shows continuing the same drug "
                                 "(96366): 96367 is for a different drug given in sequence", ctx.indexes("96367", day)))
    return out


def family_mismatch(ctx: AuditContext) -> list[AuditFinding]:
    """audit.family_mismatch [SEED-003, S8, S34, CPT-CHEMO-GUIDE]: 96365-96368 billed where the drug is
    chemotherapy (96413/96415/96417), and the reverse. With documentation the engine's codes decide; without it,
    the claim's J-code lines do when every drug on the claim belongs to one family. The wRVU is counted by
    audit.units_unsupported when documentation is present."""
    billed_codes = {b.code for b in ctx.admin_lines}
    if ctx.supported is not None:
        sup = {l.code for l in ctx.supported if l.kind == "administration"}
        chemo_doc = bool(sup & CHEMO_CODES) and not (sup & THERAPEUTIC_CODES)
        ther_doc = bool(sup & THERAPEUTIC_CODES) and not (sup & CHEMO_CODES)
        basis, severity = "the documented drug", "error"
    else:
        families = set()
        for b in ctx.lines:
            hit = ctx.drugs.by_hcpcs(b.code) if b.info is None else None
            if hit is not None and hit[0].family in ("chemotherapy", "therapeutic") and not hit[0].payer_dependent:
                families.add(hit[0].family)
        chemo_doc, ther_doc = families == {"chemotherapy"}, families == {"therapeutic"}
        basis, severity = "every drug (J-code) on the claim", "warning"
    out = []
    wrong = sorted(billed_codes & THERAPEUTIC_CODES) if chemo_doc else []
    if wrong:
        out.append(_find("audit.family_mismatch", severity,
                         f"{', '.join(wrong)} billed but {basis} is chemotherapy or a complex biologic: it takes 96413, "
                         "96415 for an added hour and 96417 for a sequential drug, not 96365-96368", [i for c in wrong for i in ctx.indexes(c)]))
    wrong = sorted(billed_codes & CHEMO_CODES) if ther_doc else []
    if wrong:
        out.append(_find("audit.family_mismatch", severity,
                         f"{', '.join(wrong)} billed but {basis} is a therapeutic drug: it takes 96365, 96366 for an added "
                         "hour and 96367 for a new drug in sequence, not the chemotherapy codes", [i for c in wrong for i in ctx.indexes(c)]))
    return out


# ---------------------------------------------------------------------------------------------
# Hydration necessity, second initial service, drug units and JW/JZ
# ---------------------------------------------------------------------------------------------


def _units_list(lines: Iterable[Billed]) -> str:
    total: dict[str, int] = defaultdict(int)
    for b in lines:
        total[b.code] += b.units
    return ", ".join(f"{code} x{units}" for code, units in sorted(total.items()))


def hydration_not_supported(ctx: AuditContext) -> list[AuditFinding]:
    """audit.hydration_kvo / audit.hydration_necessity [S5, CMS-CLM-4-230.2, NCCI-CH11, S23, S33]: billed
    hydration (96360/96361) needs a documented medical reason (dehydration, fluid loss...); fluid given only
    to keep a line open (KVO/TKO), as a drug's carrier or diluent, or as a flush is not hydration.

    The documented fluids are the administrations the engine coded as hydration plus any documented as
    KVO/carrier/flush. No fluid with a medical reason and at least one KVO/carrier/flush: error (the
    billed hydration the documentation would otherwise support is counted in wRVU; units the engine did
    not support are counted by audit.units_unsupported). No reason documented at all: warning. A reason
    documented but part of the fluid was KVO: warning (its minutes must not count). Without documentation
    nothing can be verified (audit.no_documentation)."""
    enc = ctx.claim.encounter
    billed = [b for b in ctx.admin_lines if b.code in HYDRATION_CODES]
    if enc is None or ctx.supported is None or not billed:
        return []
    coded_as_hydration = {a for line in ctx.supported if line.kind == "administration" and line.code in HYDRATION_CODES
                          for a in line.administrations}
    kvo: list[str] = []
    no_reason: list[str] = []
    reasoned: list[str] = []
    for adm in enc.administrations:
        aid = str(adm.id)
        match = ctx.drugs.match(adm.drug) if adm.drug else None
        flush = match is not None and match.drug.flush
        says_kvo = keeps_line_open(adm.indication, adm.drug)
        fluid = (aid in coded_as_hydration or adm.class_ == "hydration" or flush
                 or (match is not None and match.drug.family == "hydration") or (match is None and says_kvo))
        if not fluid:
            continue
        if says_kvo or flush:
            kvo.append(aid)
        elif not (adm.indication or "").strip():
            no_reason.append(aid)
        else:
            reasoned.append(aid)
    if not (kvo or no_reason or reasoned):
        return []  # no fluid documented at all: audit.units_unsupported reports the billed hydration
    what = _units_list(billed)
    idx = [b.index for b in billed]
    if not reasoned and kvo:
        supported = ctx.supported_units()
        delta, units = 0.0, 0
        for (code, day), n in ctx.billed_units().items():
            if code in HYDRATION_CODES:
                covered = min(n, supported.get((code, day), 0))
                delta += ctx.wrvu(code, -covered)
                units -= covered
        return [_find("audit.hydration_kvo", "error",
                      f"{what} billed, but the fluid ({', '.join(kvo)}) is documented only to keep the line open, as a drug "
                      "carrier/diluent or as a flush" + (f", and {', '.join(no_reason)} has no documented reason" if no_reason else "")
                      + ": that is not hydration and is not reported separately; bill hydration only with a documented "
                      "medical need (dehydration, fluid loss, inability to take fluids)" + _units_text(ctx, "96360/96361", -units),
                      idx, delta, units)]
    if not reasoned:
        return [_find("audit.hydration_necessity", "warning",
                      f"{what} billed, but no medical reason for the fluid ({', '.join(no_reason)}) is documented: the record must "
                      "show why hydration was needed (signs of dehydration or fluid loss, inability to take fluids); routine fluid "
                      "without it is not supported", idx)]
    if kvo:
        return [_find("audit.hydration_kvo", "warning",
                      f"{what} billed: part of the documented fluid ({', '.join(kvo)}) only kept the line open or carried a drug; "
                      "its minutes do not count toward hydration time, only the fluid given for the documented reason "
                      f"({', '.join(reasoned)})", idx)]
    return []


def _initial_rank(b: Billed) -> tuple[int, int, int]:
    return (-_FAMILY_RANK.get(b.info.family, 0), -_KIND_RANK.get(b.info.kind, 0), b.index)


def second_initial(ctx: AuditContext) -> list[AuditFinding]:
    """audit.second_initial [S4, NCCI-CH11, S14, CMS-CLM-4-230.2]: one initial IV service (96360, 96365, 96374,
    96409, 96413) per encounter; a second one only when a protocol required a separate vascular access or the
    patient came back for a separate encounter, and then with 59/XE/XS/XP/XU.

    Per date: initial units beyond the first (highest-ranked) without a distinct-service modifier: error.
    With the modifier but documentation that supports fewer initial services (one access, no separate site
    required): warning. Documented (the engine codes the second initial too) with the modifier: nothing.
    96360 beside a drug's initial service is left to audit.hydration_as_initial. wRVU: with documentation
    audit.units_unsupported counts the difference; without it the extra units are counted here unless an
    NCCI PTP edit between the two codes already counts them (audit.ptp)."""
    by_day: dict[str, list[Billed]] = defaultdict(list)
    for b in ctx.admin_lines:
        if b.code in IV_INITIAL_CODES:
            by_day[b.date].append(b)
    supported: dict[str, int] = defaultdict(int)
    for (code, day), n in ctx.supported_units().items():
        if code in IV_INITIAL_CODES:
            supported[day] += n
    out = []
    for day, lines in sorted(by_day.items()):
        if any(b.info.family in ("therapeutic", "chemotherapy") for b in lines):
            lines = [b for b in lines if b.code != "96360"]
        total = sum(b.units for b in lines)
        if total < 2:
            continue
        lines.sort(key=_initial_rank)
        plain = [b for b in lines if not b.modifiers & DISTINCT_MODIFIERS]
        marked = [b for b in lines if b.modifiers & DISTINCT_MODIFIERS]
        extra: list[tuple[Billed, int]] = []
        for i, b in enumerate(plain):
            units = b.units - 1 if i == 0 else b.units
            if units > 0:
                extra.append((b, units))
        documented = supported.get(day) if ctx.supported is not None else None
        codes = _units_list(lines)
        if extra:
            where = ", ".join(f"line {b.index} ({b.code} x{n})" for b, n in extra)
            if documented is not None and documented >= total:
                why = "the documentation does show a separately required access, so append XU (or 59) to the added initial service"
            elif documented is not None:
                why = (f"the documentation supports {documented} initial service(s) on {day}: report the later services as "
                       "sequential, concurrent or added-hour codes")
            else:
                why = "unless the record shows a separate access required by protocol or a separate encounter, the later services are sequential or added-hour codes"
            delta, units = 0.0, 0
            if ctx.supported is None:
                others = [o.code for o in lines]
                for b, n in extra:
                    paired = any(ctx.ptp_on(day).pair(b.code, c, ctx.claim_kind) or ctx.ptp_on(day).pair(c, b.code, ctx.claim_kind)
                                 for c in others if c != b.code)
                    if not paired:
                        delta += ctx.wrvu(b.code, -n)
                        units -= n
            out.append(_find("audit.second_initial", "error",
                             f"{codes} on {day}: {total} initial services billed, and {where} carries no 59/XE/XS/XP/XU; only one "
                             f"initial service is reported per encounter and vascular access; {why}"
                             + _units_text(ctx, extra[0][0].code, sum(n for _, n in extra)),
                             [b.index for b, _ in extra], delta, units,
                             extra[0][0].code if len({b.code for b, _ in extra}) == 1 else ""))
        if marked and documented is not None and documented < total:
            mods = ", ".join(f"line {b.index} ({b.code} {'/'.join(sorted(b.modifiers & DISTINCT_MODIFIERS))})" for b in marked)
            enc = ctx.claim.encounter
            sites = sorted({a.site for a in enc.administrations if a.site}) if enc is not None else []
            required = enc is not None and any(a.separate_site_required for a in enc.administrations)
            if len(sites) > 1 and not required:
                shown = f"sites {', '.join(sites)} are documented but no protocol requiring a separate access"
            elif not sites:
                shown = "no access site is documented"
            else:
                shown = "one access is documented"
            out.append(_find("audit.second_initial", "warning",
                             f"{mods} on {day} bills a second initial service as distinct, but the documentation supports "
                             f"{documented} initial service(s): {shown}, and no separate encounter; the modifier needs a "
                             "separately required vascular access or a separate encounter in the record",
                             [b.index for b in marked]))
    return out


def _drug_lines(ctx: AuditContext) -> dict[tuple[str, str], list[Billed]]:
    """Billed drug lines (HCPCS Level II drug codes, or any code the drug catalog knows) by code and date."""
    out: dict[tuple[str, str], list[Billed]] = defaultdict(list)
    for b in ctx.lines:
        if not b.admin and (_DRUG_CODE.match(b.code) or ctx.drugs.by_hcpcs(b.code) is not None):
            out[(b.code, b.date)].append(b)
    return out


def _supported_drug_lines(ctx: AuditContext) -> dict[tuple[str, str], list[ChargeLine]]:
    out: dict[tuple[str, str], list[ChargeLine]] = defaultdict(list)
    for line in ctx.supported or ():
        if line.kind == "drug":
            out[(line.code, line.date or ctx.claim.date)].append(line)
    return out


def _drug_key(ctx: AuditContext, adm: Administration) -> str | None:
    hit = ctx.drugs.by_hcpcs(adm.hcpcs) if adm.hcpcs else None
    if hit is not None:
        return hit[0].key
    match = ctx.drugs.match(adm.drug) if adm.drug else None
    return match.drug.key if match is not None else None


def drug_units(ctx: AuditContext) -> list[AuditFinding]:
    """audit.drug_units [S1-HCPCS, CMS-CLM-17-40, CMS-JW-JZ-FAQ]: billed units of a drug's HCPCS code against
    the documented dose over the code's billing unit, rounded up, plus any discarded amount from a single-dose
    vial (the engine's drug lines). Compared per code and date over all lines (administered + JW).

    More units than documented: error (overbilled). Fewer: warning. A drug billed that the documentation
    does not show given: error; shown but without a usable dose: info (not verified); documented under
    another code of the same drug: warning. A drug code the catalog does not hold: info (not checked).
    Only with documentation. Drug lines carry no work RVU."""
    if ctx.supported is None or ctx.claim.encounter is None:
        return []
    billed = _drug_lines(ctx)
    supported = _supported_drug_lines(ctx)
    documented: dict[str, list[str]] = defaultdict(list)
    for adm in ctx.claim.encounter.administrations:
        key = _drug_key(ctx, adm)
        if key is not None:
            documented[key].append(str(adm.id))
    supported_by_key: dict[str, set[str]] = defaultdict(set)
    for code, _ in supported:
        hit = ctx.drugs.by_hcpcs(code)
        if hit is not None:
            supported_by_key[hit[0].key].add(code)
    out = []
    explained: set[str] = set()
    for key in sorted(set(billed) | set(supported)):
        code, day = key
        lines = billed.get(key, [])
        b = sum(x.units for x in lines)
        s = sum(x.units for x in supported.get(key, []))
        idx = [x.index for x in lines]
        hit = ctx.drugs.by_hcpcs(code)
        if b == s:
            continue
        if lines and hit is None and not s:
            out.append(_find("audit.drug_units", "info",
                             f"{code} x{b} on {day}: not in the drug catalog, so its billing unit is unknown and the units were not "
                             "checked against the documented dose", idx))
            continue
        why = "; ".join(_TAG.sub("", x.explanation) for x in supported.get(key, []))
        if lines and not s:
            name = hit[0].name
            others = sorted(supported_by_key.get(hit[0].key, set()) - {code})
            if others:
                explained.update(others)
                out.append(_find("audit.drug_units", "warning",
                                 f"{code} x{b} billed on {day}, but the documented {name} codes to {', '.join(others)}: bill the "
                                 "code of the product given, in units of that code's billing unit", idx))
            elif documented.get(hit[0].key):
                out.append(_find("audit.drug_units", "info",
                                 f"{code} x{b} on {day}: {name} is documented ({', '.join(documented[hit[0].key])}) without a dose that "
                                 "converts to the code's billing unit, so the units were not verified; document the dose given", idx))
            else:
                out.append(_find("audit.drug_units", "error",
                                 f"{code} x{b} billed on {day}, but no administration of {name} is documented: the units are not "
                                 "supported", idx))
            continue
        if b > s:
            out.append(_find("audit.drug_units", "error",
                             f"{code} x{b} billed on {day}, the documented dose supports {s} ({why}): {b - s} unit(s) overbilled", idx))
        elif code not in explained:
            missing = "not billed" if b == 0 else f"{b} billed"
            out.append(_find("audit.drug_units", "warning",
                             f"{code} x{s} supported on {day} by the documented dose ({why}) but {missing}: {s - b} unit(s) under-billed", idx))
    return out


def jw_jz_modifiers(ctx: AuditContext) -> list[AuditFinding]:
    """audit.jw_jz_both / audit.jw_missing / audit.jz_with_waste / audit.jw_without_waste / audit.jz_missing /
    audit.jw_jz_multi_dose [CMS-JW-JZ-FAQ, CMS-CLM-17-40, CMS-CR-JZ-2023]: on the drug line of a single-dose
    container, the discarded amount goes on its own line with JW; JZ says nothing was discarded and is required
    from 2023-07-01 when nothing was; never both; neither on a multi-dose vial.

    JW/JZ on an administration line is audit.modifier_misplaced, not counted here. JW with JZ on one drug is
    checked on the billed lines alone; the rest needs the documented vial (the engine's drug lines decide the
    discarded units). JZ missing on an institutional claim is a warning: packaged OPPS drugs (not separately
    payable) do not need it, and the status indicator is not on the claim."""
    out = []
    billed = _drug_lines(ctx)
    both: set[tuple[str, str]] = set()
    for key, lines in sorted(billed.items()):
        mods = set().union(*(b.modifiers for b in lines))
        if {"JW", "JZ"} <= mods:
            both.add(key)
            out.append(_find("audit.jw_jz_both", "error",
                             f"{key[0]} on {key[1]} carries both JW (an amount discarded) and JZ (nothing discarded): the two "
                             "contradict each other; one drug from one single-dose container takes one or the other",
                             [b.index for b in lines if b.modifiers & {"JW", "JZ"}]))
    enc = ctx.claim.encounter
    if ctx.supported is None or enc is None:
        return out
    by_id = {str(a.id): a for a in enc.administrations}
    supported = _supported_drug_lines(ctx)
    for key, lines in sorted(billed.items()):
        code, day = key
        if key in both or key not in supported:
            continue  # unsupported drug lines: audit.drug_units
        s_lines = supported[key]
        vials = [by_id[a].vial for line in s_lines for a in line.administrations if a in by_id]
        single = any(v is not None and v.single_dose for v in vials)
        multi = bool(vials) and all(v is not None and not v.single_dose for v in vials)
        waste = sum(line.units for line in s_lines if "JW" in line.modifiers)
        jw = [b.index for b in lines if "JW" in b.modifiers]
        jz = [b.index for b in lines if "JZ" in b.modifiers]
        idx = [b.index for b in lines]
        if multi:
            if jw or jz:
                out.append(_find("audit.jw_jz_multi_dose", "warning",
                                 f"{code} on {day}: {'JW' if jw else 'JZ'} on a drug documented from a multi-dose vial; JW and JZ "
                                 "apply only to single-dose containers", jw + jz))
            continue
        if not single:
            continue  # the vial is not documented: JW/JZ cannot be decided
        if waste:
            if jz:
                out.append(_find("audit.jz_with_waste", "error",
                                 f"{code} on {day}: JZ says nothing was discarded, but the record shows {waste} billing unit(s) "
                                 "discarded from the single-dose vial; report the administered units on one line and the "
                                 "discarded units on their own line with JW", jz))
            elif not jw:
                out.append(_find("audit.jw_missing", "error",
                                 f"{code} on {day}: the record shows {waste} billing unit(s) discarded from the single-dose vial "
                                 "but no line carries JW; report the discarded units on their own line with JW (Medicare pays "
                                 "the discarded amount only when it is reported that way and documented)", idx))
        elif jw:
            out.append(_find("audit.jw_without_waste", "error",
                             f"{code} on {day}: JW bills a discarded amount, but the documented dose and vial leave nothing "
                             "billable discarded (the dose rounded up to whole billing units uses the vial); the JW units are "
                             "not supported", jw))
        elif not jz and day >= JZ_REQUIRED_FROM:
            severity = "error" if ctx.professional else "warning"
            out.append(_find("audit.jz_missing", severity,
                             f"{code} on {day}: a single-dose vial with nothing discarded needs JZ on the drug line (required "
                             "from July 1, 2023; claims without JW or JZ are returned or denied)"
                             + ("" if ctx.professional else "; not needed if the drug is packaged under OPPS (not separately payable)"),
                             idx))
    return out


Check = Callable[[AuditContext], list[AuditFinding]]

#: Every check, in the order the findings are reported before sorting by severity.
CHECKS: tuple[Check, ...] = (
    input_validation,
    unknown_admin_codes,
    add_on_without_primary,
    mue_exceeded,
    concurrent_more_than_once,
    facility_only_code,
    facility_place_of_service,
    hydration_as_initial,
    ptp_pairs,
    modifiers_on_administration,
    no_documentation,
    encounter_mismatch,
    billed_vs_supported,
    sequential_for_same_drug,
    family_mismatch,
    hydration_not_supported,
    second_initial,
    drug_units,
    jw_jz_modifiers,
)
