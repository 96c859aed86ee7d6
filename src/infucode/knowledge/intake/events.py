"""A note as a timeline of events per drug: hung/started, given, rate change, held, restarted, new
bag, completed/stopped, connected (pump), plus line care (access, flush, lock, removal) that is no
event of a drug.

The note is cut into clauses (sentence ends, semicolons, lines); a clause naming several drugs is
cut again before each ("Zofran 4 mg IVP 10:15 then Benadryl 25 mg IVP 10:20"). Each clock time is
labelled by the nearest action word around it. A clause with an action and a time but no drug
("Infusion completed 12:45", "fluids stopped 1030", "rate increased to 200 mL/hr at 0930") acts on
the drug that is running. Mentions in a heading, history, diagnosis, plan, order or prescription
section, and negated or hypothetical ones, are recorded as not administered. Every pass over the
text is a single regular-expression scan; per-clause work uses bisection over those hits, so the
whole read is linear in the size of the note.
"""
from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from typing import NamedTuple

from ...ruleset import Ruleset
from ...vocabulary import (LINE_CARE_CONCEPTS, NOT_ADMINISTRATION_SERVICES, ClockTime, find_dates, find_durations,
                           find_route_words, find_times)
from ...vocabulary.names import distinct_words, gate_words, may_say
from .actions import find_actions, label_times
from .clauses import find_clauses, hits_between, hits_by_clause
from .context import clause_cues, status_between
from .mentions import NEGATED_BEFORE_WORDS, Mention, administered_mentions, find_mentions
from .sections import SectionMap, find_sections
from .segments import DOSE, Segment, detail_gates, note_access, read_details, read_durations, read_site, site_starts

__all__ = ["Event", "Timeline", "read_timeline"]


class Event(NamedTuple):
    """One action on one drug at one clock time; ``seq`` is its order in the note. A tuple: a long note makes
    tens of thousands, each made in C (:data:`_new_event`)."""

    seq: int
    key: str
    action: str                  # given | new_bag | rate_change | paused | restarted | stopped
    time: ClockTime
    segment: Segment
    labelled: bool = True        # False: no action word near the time
    date: str | None = None      # a date written in the same clause
    attached: bool = False       # the clause named no drug: attached to the running one


_new_event = tuple.__new__      # an Event from all its fields, in order


@dataclass
class Timeline:
    text: str
    mentions: list[Mention]
    segments: list[Segment]
    events: list[Event]
    line_care: list[tuple[int, int, str]]        # (start, end, what) of times that belong to the line, not a drug
    dates: list
    sections: SectionMap
    words: set[str]                              # the note's distinct_words, for the readers after the timeline
    notes: list[tuple[str, str | None, tuple[int, int] | None]]   # (question, drug key, span)
    access: tuple[int, int, str] | None = None   # the one IV access the note documents (segments.note_access)


_LEADS = re.compile(r"(?=[,;.tabfpTABFP])(?:[,;]\s|\.\s|\b(?:then|and|after|before|followed by|plus)\b)", re.I)
_FLUID_WORDS = re.compile(r"\b(?:fluids?|hydration|ivf|bolus|bag|liter|litre|ns|lr|saline|ringer'?s?)\b", re.I)
_INFUSION_WORDS = re.compile(r"\b(?:infusion|drip|chemo\w*|drug|medication|ivpb|piggyback|pump|cadd)\b", re.I)
_ANOTHER_TIME = re.compile(r"\b(?:later|after(?:wards?)?|then|prior|before|earlier|previously|tomorrow|next)\b", re.I)
# a push or a shot is over when given; an infusion or a pump runs on
_GIVEN_AT_ONCE = frozenset({"iv_push", "sc", "im"})
_RUNS_ON = frozenset({"iv_infusion", "sc_infusion", "ambulatory_pump"})
_EVENT_ACTION = {"start": "given", None: "given"}      # the fold's name of a start, or of a time with no action word
_PLACE_AFTER = re.compile(r"[ \t]{1,20}(?:cent(?:er|re)|clinic|suite|unit|room|bay|chair|visit|dept|department)\b", re.I)


def read_timeline(text: str, ruleset: Ruleset) -> Timeline:
    global _HYDRATION_KEYS
    if not _HYDRATION_KEYS:
        _HYDRATION_KEYS = {d.key for d in ruleset.drugs if d.family == "hydration"}
    words = distinct_words(text)      # one word set for the scans that look only for the words the note has
    gate = gate_words(text, words)    # ... and for the searches a clause skips when the note lacks their words
    cues = clause_cues(text, gate)
    sites = site_starts(text, gate)
    details_gates = detail_gates(gate, text)                  # read once, not per segment
    negated_before = may_say(gate, NEGATED_BEFORE_WORDS)
    dates = find_dates(text, words)
    mentions = find_mentions(text, ruleset, words)
    times = find_times(text, [(d.start, d.end) for d in dates] + [(m.start, m.end) for m in mentions])
    time_starts = [t.start for t in times]
    routes = find_route_words(text, words=words)
    route_starts = [r.start for r in routes]
    actions = find_actions(text, words)
    action_starts = [m.start() for m in actions]
    action_kinds = {m.lastgroup for m in actions}
    durations = find_durations(text, bare_colon=False)    # a bare "2:15" in a note is a clock time
    duration_starts = [d.start for d in durations]
    date_starts = [d.start for d in dates]

    # a first line with no time and no action word is the note's title ("Rituximab infusion visit")
    first_line_end = text.find("\n", len(text) - len(text.lstrip()))
    first_is_title = False
    if first_line_end > 0 and text[first_line_end:].strip():
        fl = (len(text) - len(text.lstrip()), first_line_end)
        has_time = bool(hits_between(times, time_starts, *fl))
        has_action = any(m.lastgroup not in ("given", "line") or m.group(0).lower() in ("given", "administered", "pushed")
                         for m in hits_between(actions, action_starts, *fl))
        # "Infusion center - gemcitabine C3D8": "infusion" before a place word names the place, not a route
        has_dose = bool(DOSE.search(text, *fl)) or any(
            not _PLACE_AFTER.match(text, r.end) for r in hits_between(routes, route_starts, *fl))
        # "HOPD infusion - 5-FU pump start": a first line naming, with no time or dose, only drugs the note
        # documents again below is a title too
        named = hits_between(mentions, [m.start for m in mentions], *fl)
        told_again = bool(named) and all(any(o.key == m.key for o in mentions if o.start >= fl[1]) for m in named) \
            and not any(m.lastgroup in ("given", "stopped") and m.group(0).lower() not in ("at", "@")
                        for m in hits_between(actions, action_starts, *fl))
        first_is_title = not has_time and ((not has_action and not has_dose) or
                                           (told_again and not DOSE.search(text, *fl)))
    sections = find_sections(text, first_is_title, words)

    protected = [(t.start, t.end) for t in times] + [(d.start, d.end) for d in dates]
    protected.sort()
    clauses = find_clauses(text, protected)
    clause_starts = [a for a, _ in clauses]
    mentions_in = hits_by_clause(clauses, clause_starts, mentions, [m.start for m in mentions])
    times_in = hits_by_clause(clauses, clause_starts, times, time_starts)
    dates_in = hits_by_clause(clauses, clause_starts, dates, date_starts)

    segments: list[Segment] = []
    events: list[Event] = []
    line_care: list[tuple[int, int, str]] = []
    notes: list[tuple[str, str | None, tuple[int, int] | None]] = []
    running: dict[str, str] = {}           # drug key -> "running" | "paused", in order of starting
    last: tuple[Mention, int] | None = None  # the drug the previous clause was about, and where it ended
    described: dict[str, None] = {}        # drugs written about with no event yet, latest last

    after = -2
    line_time: ClockTime | None = None     # the last clock time of the clauses read so far
    # a clause with no drug and no clock time gives no event and no mention (most clauses of a long note)
    for ci in sorted(mentions_in.keys() | times_in.keys()):
        if ci != after + 1:
            last = None          # a clause of neither came between: the sentence did not go on
        after = ci
        ca, cb = clauses[ci]
        cms = mentions_in.get(ci, ())
        ctimes = times_in.get(ci, ())
        # route words: looked up only for the clauses visited (two bisections each); action words are looked up
        # by each reader in its window inside the clause
        croutes = routes[bisect_left(route_starts, ca):bisect_left(route_starts, cb)]
        # the clause's status matters only for its mentions and events: read once, when first needed
        status_cue = None
        cdates = dates_in.get(ci)
        clause_date = cdates[0].value if cdates else None
        earlier_time, line_time = line_time, (ctimes[-1] if ctimes else line_time)
        earlier_drug = last[0].key if last is not None and last[0] is not None else None

        # roles of the mentions: flush, diluent, negated, section, context
        kept: list[Mention] = []
        diluted: set[int] = set()     # mentions written with their diluent bag: an infusion
        if cms:
            if status_cue is None:
                status_cue = status_between(text, ca, cb, bool(ctimes), cues)
            status, cue = status_cue
            kept, diluted = administered_mentions(text, cms, ca, cb, status, sections, ruleset, gate,
                                                  negated_before=negated_before)

        # cut the clause before each kept mention
        bounds: list[tuple[int, int, Mention | None]] = []
        if not kept and last is not None and "\n" not in text[last[1]:ca] and \
                not any(e.key == last[0].key for e in events[-3:]) and ctimes:
            # "IV ketorolac 15 mg; pushed over 1 minute at 8:05 PM": the sentence goes on about the same drug
            bounds.append((ca, cb, last[0]))
        elif not kept:
            bounds.append((ca, cb, None))
        else:
            starts = []
            for i, m in enumerate(kept):
                if i == 0:
                    starts.append(ca)
                    continue
                s = m.start
                leads = list(_LEADS.finditer(text, kept[i - 1].end, m.start))
                if leads:
                    s = leads[-1].end()
                starts.append(s)
            for i, m in enumerate(kept):
                bounds.append((starts[i], starts[i + 1] if i + 1 < len(kept) else cb, m))
        last = (bounds[-1][2], cb) if bounds[-1][2] is not None else None

        for sa, sb, m in bounds:
            stimes = ctimes if sa == ca and sb == cb else [t for t in ctimes if sa <= t.start < sb]
            labelled = label_times(text, stimes, ca, cb, actions, action_starts, action_kinds) if stimes else []
            if m is None and all(k in (None, "line", "given") for _, k in labelled):
                # words about no drug and no action on the running one: only line care is read from them
                line_care.extend((t.start, t.end, "line care") for t, k in labelled if k == "line")
                continue
            if status_cue is None:
                status_cue = status_between(text, ca, cb, bool(ctimes), cues)
            status, cue = status_cue
            seg = Segment(sa, sb, m, status=status, cue=(ca + cue.start(), ca + cue.end()) if cue else None)
            for r in croutes:
                if not sa <= r.start < sb:
                    continue
                seg.concepts.add(r.concept)
                seg.route_spans.append((r.start, r.end, r.concept))
            read_site(text, seg, sites)
            if m is not None:
                read_details(text, seg, m, ctimes, gates=details_gates)
                if m.start in diluted and seg.concepts.isdisjoint(_GIVEN_AT_ONCE):
                    seg.concepts.add("iv_infusion")
            sdurations = durations[bisect_left(duration_starts, sa):bisect_left(duration_starts, sb)] if durations else ()
            if sdurations:
                read_durations(text, seg, sdurations)
            segments.append(seg)

            if m is not None and not stimes and not _ANOTHER_TIME.search(text, sa, sb):
                # "1030 irinotecan started, leucovorin running at the same time", "1200 irinotecan and
                # leucovorin complete": a drug with its own action word and no time of its own shares the
                # clause's time; "2320 NS bolus complete. NS 125 mL/hr maintenance started.": or, in a clause
                # with no time, the time of the sentence before it on the same line about the same drug
                if ctimes and ctimes[0].start < sa:
                    shared = [t for t in ctimes if t.start < sa][-1]
                elif not ctimes and earlier_drug == m.key and earlier_time is not None \
                        and "\n" not in text[earlier_time.end:sa]:
                    shared = earlier_time      # only for the drug the sentence before was about
                else:
                    shared = None
                own = None if shared is None else next(
                    (a for a in hits_between(actions, action_starts, m.end, sb)
                     if a.lastgroup in ("start", "stopped", "new_bag") and a.group(0).lower() not in ("at", "@")), None)
                if own is not None:
                    labelled = [(shared, own.lastgroup)]
            if m is None:
                _drugless(text, seg, labelled, running, events, line_care, notes, date=clause_date,
                          described=described)
                continue
            if seg.concepts & NOT_ADMINISTRATION_SERVICES and not seg.concepts - NOT_ADMINISTRATION_SERVICES - \
                    LINE_CARE_CONCEPTS - {"iv_push"}:
                # "acetaminophen 650 mg PO": never a drug administration service
                m.role, m.why = "not_a_service", "route " + "/".join(sorted(seg.concepts & NOT_ADMINISTRATION_SERVICES)).upper() \
                    + ": not an injection or infusion, not coded"
                continue
            described.pop(m.key, None)
            described[m.key] = None
            unlabelled = [t for t, k in labelled if k is None]
            for t, kind in labelled:
                if kind == "line":
                    line_care.append((t.start, t.end, "line care"))
                    continue
                action = _EVENT_ACTION.get(kind, kind)
                if kind is None and len(unlabelled) == 2 and t is unlabelled[1]:
                    action = "stopped"
                events.append(_new_event(Event, (len(events), m.key, action, t, seg, kind is not None, clause_date, False)))
                described.pop(m.key, None)
                if seg.concepts.isdisjoint(_GIVEN_AT_ONCE) or not seg.concepts.isdisjoint(_RUNS_ON):
                    _track(running, m.key, action)     # a push or a shot is over when given
    return Timeline(text, mentions, segments, events, line_care, dates, sections, words, notes, note_access(text, sites))


def _track(running: dict[str, str], key: str, action: str) -> None:
    if action in ("given", "new_bag", "restarted", "rate_change"):
        running.pop(key, None)
        running[key] = "running"
    elif action == "paused":
        running[key] = "paused"
    elif action == "stopped":
        running.pop(key, None)


def _drugless(text: str, seg: Segment, labelled, running: dict[str, str], events: list[Event],
              line_care: list, notes: list, *, date: str | None, described: dict[str, None]) -> None:
    """Actions in a clause that names no drug act on the running infusion (or are line care)."""
    words = text[seg.start:seg.end]
    # once per clause, not once per action in it (a long clause of many actions was read in quadratic time)
    says_fluid = _FLUID_WORDS.search(words) is not None
    says_infusion = not says_fluid and _INFUSION_WORDS.search(words) is not None
    for t, kind in labelled:
        if kind in (None, "line", "given"):
            if kind == "line":
                line_care.append((t.start, t.end, "line care"))
            continue
        want = "paused" if kind == "restarted" else "running"
        cands = [k for k, s in running.items() if s == want] or \
            ([k for k, s in running.items()] if kind == "stopped" else [])
        if says_fluid:
            fluid = [k for k in cands if k in _HYDRATION_KEYS]
            cands = fluid or cands
        elif says_infusion:
            drugs = [k for k in cands if k not in _HYDRATION_KEYS]
            cands = drugs or cands
        if not cands and described:
            cands = [next(reversed(described))]      # "IVIG 40 g via L AC PIV.\nStart time 8:30 AM": the drug just described
        if not cands:
            notes.append((f"'{t.text}': an action ({kind.replace('_', ' ')}) with no drug named and no infusion "
                          "running; which drug was it?", None, (t.start, t.end)))
            continue
        key = cands[-1]
        if len(cands) > 1:
            notes.append((f"'{t.text}' ({kind.replace('_', ' ')}) names no drug; read as the most recently started "
                          "running infusion. Is that right?", key, (t.start, t.end)))
        events.append(_new_event(Event, (len(events), key, kind if kind != "start" else "given", t, seg, True, date, True)))
        described.pop(key, None)
        _track(running, key, kind if kind != "start" else "given")


_HYDRATION_KEYS: set[str] = set()


def is_hydration(key: str) -> bool:
    """True for a fluid of the catalog's hydration family (known once a timeline was read)."""
    return key in _HYDRATION_KEYS

