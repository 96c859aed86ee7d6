"""code_encounter(encounter, ruleset) -> Result: the rules composed, with no I/O inside.

Order of reasoning, as a coder would read it aloud:
 1. who may report (a professional claim in a facility setting reports none of these codes);
 2. what was given: each administration's drug, family, method and minutes (documentation findings);
 3. continuity: bag changes continue an infusion; hydration alongside a drug does not count;
 4. the IV chain per vascular access: the initial service, then the rest in clock order;
 5. services beside the chain (injections, SC infusion, intra-arterial, prolonged pump);
 6. drug supply lines; then limits (MUE, add-on primaries) and wRVU.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta

from .decoding import decode_encounter
from .model import ChargeLine, Encounter, InputError, Result
from .rules import family as fam
from .rules import method as meth
from .rules.administration import Service, check_separate_site, no_administrations, prepare_service
from .rules.beside_chain import code_beside_chain, distinct_service_modifiers, is_prolonged_pump, pump_presumed
from .rules.context import SEVERITY_ORDER, CodingContext
from .rules.continuity import continuous_infusions, hydration_minutes_alone, hydration_pieces
from .rules.drug_supply import drug_lines
from .rules.initial import by_hierarchy, hierarchy_key
from .rules.limits import add_on_primaries, medically_unlikely_edits, wrvu_total
from .rules.input_forms import say_what_the_readers_did
from .rules.other_routes import PROFESSIONAL_IN_FACILITY_CODES, PROFESSIONAL_IN_FACILITY_ROUTES, code_flushes
from .rules.reporting import professional_claim_in_facility, professional_claim_reports_none
from .rules.subsequent import EncounterState, code_chain
from .rules.timing import crosses_midnight, dates_refused, iso_day, minutes_between, outside_dates, parse_date
from .ruleset import Ruleset



def code_encounter(encounter: Encounter | dict, ruleset: Ruleset) -> Result:
    """Code one encounter. Raises InputError (naming the encounter and field) when it cannot be read."""
    encounter = decode_encounter(encounter)
    eid = str(encounter.id)
    try:
        return _code(encounter, eid, ruleset)
    except InputError as exc:
        exc.encounter = eid
        raise


def _code(encounter: Encounter, eid: str, ruleset: Ruleset) -> Result:
    if encounter.payer:
        try:
            ruleset = ruleset.with_profile(encounter.payer)
        except KeyError as exc:
            # the payer as written is free text: never repeated, only the profiles it may name
            known = ", ".join(sorted(ruleset.profile_names()))
            raise InputError("payer", f"not a known payer profile; known profiles: {known}") from None
    on = parse_date(encounter.date, "date") if encounter.date else None
    if on is not None:
        first, last = ruleset.limits["earliest_date_of_service"], ruleset.limits["latest_date_of_service"]
        if outside_dates(on, first, last):
            raise dates_refused("date", first, last)
    if ruleset.dated_by is not None:
        ruleset = ruleset.for_date(date_of_service(encounter, on))
    claim = encounter.claim_type
    ctx = CodingContext(ruleset, claim, encounter.setting, iso_day(on) if on else None)
    say_what_the_readers_did(ctx, encounter)

    prepared: list[tuple[int, Service | None]] = []
    for i, adm in enumerate(encounter.administrations):
        prepared.append((i, prepare_service(ctx, adm, i, on)))
    if ctx.encounter_date is None:
        starts = [s.start for _, s in prepared if s is not None and s.start is not None]
        if starts:
            ctx.encounter_date = iso_day(min(starts))
    services = [s for _, s in prepared if s is not None]
    if not encounter.administrations:
        no_administrations(ctx)

    if professional_claim_in_facility(encounter.setting, claim):
        # The physician still reports the procedures outside those ranges: intralesional, intracavitary and
        # intrathecal chemotherapy, the CNS reservoir and unlisted chemotherapy [CPT-INF-GUIDE, CPT-CHEMO-GUIDE].
        procedures = [s for s in services if s.route in PROFESSIONAL_IN_FACILITY_ROUTES
                      and (s.route != "unlisted" or s.family == fam.CHEMOTHERAPY)]  # 96379 is the hospital's
        code_beside_chain(ctx, procedures)
        ctx.lines = [l for l in ctx.lines if l.code in PROFESSIONAL_IN_FACILITY_CODES]
        reported = {a for l in ctx.lines for a in l.administrations}
        if not ctx.lines or any(i not in reported for s in services for i in s.ids):
            professional_claim_reports_none(ctx, [i for s in services for i in s.ids if i not in reported])
        return _result(ctx, eid)

    for s in services:
        check_separate_site(ctx, s)
    services = continuous_infusions(ctx, services)
    beside: list[Service] = []
    chain: list[Service] = []
    flushes: list[Service] = []
    for s in services:
        if s.method == meth.FLUSH:
            flushes.append(s)  # decided once every other line is known (96523 only on a day with nothing else)
            continue
        on_pump = is_prolonged_pump(s) or pump_presumed(ctx, s)
        (chain if s.method in (meth.INFUSION, meth.PUSH) and not on_pump else beside).append(s)

    state = EncounterState()
    for day_services in _dates_of_service(ctx, chain):
        day_services = hydration_minutes_alone(ctx, day_services)
        day_services = hydration_pieces(ctx, day_services)
        chains = _vascular_accesses(day_services)
        for n, access in enumerate(chains):
            code_chain(ctx, access, state, distinct=n > 0)
    beside_lines = code_beside_chain(ctx, beside)
    distinct_service_modifiers(ctx, beside_lines)
    code_flushes(ctx, flushes)

    _merge_same_lines(ctx)
    by_adm = {sid: s for s in services for sid in s.ids}
    for i, adm in enumerate(encounter.administrations):
        s = by_adm.get(str(adm.id))
        hcpcs, why_not = _drug_code(ctx, adm)
        day = s.day(ctx.encounter_date) if s is not None else ctx.encounter_date
        drug_lines(ctx, adm, hcpcs, day, why_not)

    medically_unlikely_edits(ctx)
    add_on_primaries(ctx)
    return _result(ctx, eid)


def date_of_service(encounter: Encounter, on: date | None) -> str | None:
    """The date whose CMS tables (MUE, wRVU) code the encounter: its ``date``, else the day of its first
    documented start. One date per encounter: an encounter across midnight at a quarter's end is coded with
    the first day's tables [CMS-CLM-4-230.2 dates the line items; the tables are chosen once]."""
    if on is not None:
        return on.isoformat()
    days = []
    for adm in encounter.administrations:
        if isinstance(adm.start, str) and len(adm.start) >= 10:
            try:
                days.append(date.fromisoformat(adm.start[:10]).isoformat())
            except ValueError:
                continue  # the engine names the bad field when it reads the clock
    return min(days) if days else None


def _drug_code(ctx: CodingContext, adm):
    drugs = ctx.ruleset.drugs
    if adm.route == "flush":
        return None, None  # the flush solution is bundled, whatever it is (NCCI: J1642 is column 2 under the infusion codes)
    if adm.route == "pump_refill" and not (adm.drug or adm.hcpcs):
        return None, None  # a refill documented without its drug: the service stands on its own
    if adm.hcpcs:
        hit = drugs.by_hcpcs(adm.hcpcs)
        if hit is None:
            return None, f"HCPCS {adm.hcpcs} is not in the drug catalog, so its billing unit is unknown"
        return hit[1], None
    if not adm.drug:
        return None, "no drug documented"
    match = drugs.match(adm.drug)
    if match is None:
        return None, "drug not in the catalog; document its HCPCS code"
    if match.drug.flush:
        return None, None  # a flush's drug is bundled too (J1642 is an NCCI column-2 code under the infusion codes)
    if match.hcpcs is None:
        return None, ("the drug name was matched approximately; an HCPCS code is never chosen from an approximate match"
                      if match.how == "fuzzy" else "the catalog has no HCPCS code for this drug; document it")
    if match.drug.family == "hydration":
        # Fluids are billed per bag size (NS 250/500/1000 ml are different codes).
        volume = adm.volume_ml
        if volume is None and adm.dose is not None and adm.dose.unit.strip().lower() in ("ml", "cc"):
            volume = adm.dose.value
        return drugs.code_for_volume(match.drug, volume) or match.hcpcs, None
    return match.hcpcs, None


def _dates_of_service(ctx: CodingContext, chain: list[Service]) -> list[list[Service]]:
    """One group for the encounter (one initial across midnight), or one per date (policy midnight)."""
    crossing = [s for s in chain if s.clock and crosses_midnight(s.start, s.stop)]
    if not crossing or ctx.policy("midnight") == "one_initial":
        return [chain] if chain else []
    pieces: list[Service] = []
    for s in chain:
        if s not in crossing:
            pieces.append(s)
            continue
        span = minutes_between(s.start, s.stop)
        cursor = s.start
        while cursor < s.stop:
            midnight = datetime.combine(cursor.date() + timedelta(days=1), time(0, 0))
            end = min(midnight, s.stop)
            share = round((s.minutes or 0) * minutes_between(cursor, end) / span) if span else 0
            pieces.append(replace(s, ids=list(s.ids), start=cursor, stop=end, minutes=share, notes=[]))
            cursor = end
    groups: dict[str, list[Service]] = {}
    for s in pieces:
        groups.setdefault(s.day(ctx.encounter_date) or "", []).append(s)
    return [groups[d] for d in sorted(groups)]


def _vascular_accesses(services: list[Service]) -> list[list[Service]]:
    """The main chain first, then one chain per separately required vascular access (by site)."""
    separate_sites = {s.site for s in services if s.separate_site and s.site}
    main: list[Service] = []
    accesses: dict[str, list[Service]] = {}
    for s in services:
        if s.separate_site:
            key = s.site or f"#{s.id}"
        elif s.site is not None and s.site in separate_sites:
            key = s.site  # documented at the site of a required separate access: given through that access
        else:
            main.append(s)
            continue
        accesses.setdefault(key, []).append(s)
    chains = [accesses[k] for k in sorted(accesses)]
    if main:
        return [main] + chains
    # Every service needed its own access: the one holding the highest-ranked service goes first.
    return sorted(chains, key=lambda c: hierarchy_key(by_hierarchy(c)))


def _merge_same_lines(ctx: CodingContext) -> None:
    """One claim line per code, date and modifiers: units add up, administrations are listed together."""
    merged: dict[tuple, ChargeLine] = {}
    out: list[ChargeLine] = []
    for line in ctx.lines:
        if line.kind != "administration":
            out.append(line)
            continue
        key = (line.code, line.date, tuple(line.modifiers))
        first = merged.get(key)
        if first is None:
            merged[key] = line
            out.append(line)
            continue
        first.units += line.units
        first.wrvu = round(first.wrvu + line.wrvu, 2)
        first.administrations.extend(a for a in line.administrations if a not in first.administrations)
        first.explanation += " + " + line.explanation
    ctx.lines = out


def _result(ctx: CodingContext, eid: str) -> Result:
    total = wrvu_total(ctx)
    findings = sorted(ctx.findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.rule, f.administrations, f.message))
    return Result(
        encounter=eid,
        profile=ctx.ruleset.profile,
        claim=ctx.claim,
        policies={name: ctx.policies[name] for name in sorted(ctx.consulted)},
        lines=ctx.lines,
        findings=findings,
        wrvu_total=total,
        data_releases=ctx.ruleset.data_releases,
    )
