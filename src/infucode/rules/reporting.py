"""Who may report: CPT reserves the drug-administration codes to the facility when the service is
given in a facility setting; the physician's professional claim carries none of them (CPT
guidelines; the facility-PE 'NA' flag of the PFS relative value file [S1-RVU])."""
from __future__ import annotations

FACILITY_ONLY_RANGES = (("96360", "96379"), ("96401", "96402"), ("96409", "96425"), ("96521", "96523"))


def facility_reserved(code: str) -> bool:
    return any(lo <= code <= hi for lo, hi in FACILITY_ONLY_RANGES)


def professional_claim_in_facility(setting: str, claim: str) -> bool:
    return setting == "facility" and claim == "professional"


def facility_setting_professional_claim(ctx, ids: list[str]) -> bool:
    """A professional claim in a facility setting reports none of these codes: True (and the finding) when so."""
    if not professional_claim_in_facility(ctx.setting, ctx.claim):
        return False
    professional_claim_reports_none(ctx, ids)
    return True


def professional_claim_reports_none(ctx, ids: list[str]) -> None:
    """The finding for the administrations ``ids`` that a professional claim in a facility does not report."""
    ctx.add_finding("who.facility_setting_professional_claim", "info",
                    "a professional claim in a facility setting reports no drug-administration codes (96360-96379, 96401-96402, "
                    "96409-96425, 96521-96523): the hospital reports them; a separately identifiable E/M goes with modifier 25", ids)
