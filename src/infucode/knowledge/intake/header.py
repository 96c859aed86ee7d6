"""The setting (facility or office) and the date of service written in a note."""
from __future__ import annotations

import re

from ...vocabulary import DateHit
from ...vocabulary.names import gate_words, may_say

__all__ = ["date_of_service", "setting_of"]

# each pattern led by the characters it can start with: the regex engine skips every other position
_SETTING_NONFACILITY = re.compile(r"(?=[nNpP])(?:\bnon-?\s?facility\b|\bPOS\s*11\b|\bplace of service\s*(?:code\s*)?11\b)", re.I)
_SETTING_FACILITY = re.compile(
    r"(?=[hoiepfcHOIEPFC])\b(hospital outpatient|outpatient hospital|HOPD|infusion cent(?:er|re)|emergency (?:department|room)|ED|ER|"
    r"observation|obs unit|hospital|POS\s*(?:22|19|23)|(?<!non-)(?<!non)(?<!non )facility|cancer cent(?:er|re))\b", re.I)
# "Obs - hypokalemia": an observation-unit note's heading ("Obs:" or a bare "obs" elsewhere is observations,
# vital signs, and says nothing of the setting)
_OBS_HEADING = re.compile(r"(?=[ \toO])^[ \t]*obs\b(?=[ \t]*[-\u2013\u2014][ \t]*[A-Za-z])", re.I | re.M)
_SETTING_OFFICE = re.compile(
    r"(?=[pdociPDOCI])\b(physician'?s? office|doctor'?s office|office|clinic|practice|POS\s*11|infusion suite|private practice)\b", re.I)
# A clinic or infusion suite may be a hospital department or a physician office (CMS IOM 100-04 ch.4
# s.230.2 applies to the hospital's claim only): the word alone never decides the claim type.
_WHOSE_UNSAID = frozenset({"clinic", "infusion suite"})
# a date written after these words is not the date of service
_NOT_SERVICE_DATE = re.compile(r"(?=[bdeflnprsBDEFLNPRS])\b(?:DOB|D\.O\.B\.?|birth|born|last|next|prior|previous|follow[- ]?up|f/u|return|"
                               r"RTC|due|since|diagnosed|dx'?d|expires?|exp|lot)\b[^\n\d]{0,12}$", re.I)
_SENT_LABEL = re.compile(r"^[ \t>]*(?:Sent|Date)\s*:[^\n\d]{0,30}$", re.I | re.M)
_SERVICE_DATE_LABEL = re.compile(r"\b(?:DOS|date of service|service date|visit date|date|seen)\b\W{0,3}$", re.I)
# the words without one of which each label cannot be written before a date (names.may_say; "D.O.B." and
# "dx'd" are words of a letter or two)
_NOT_SERVICE_WORDS = frozenset({"dob", "d", "o", "b", "birth", "born", "last", "next", "prior", "previous", "follow",
                                "followup", "f", "u", "return", "rtc", "due", "since", "diagnosed", "dx", "dxd",
                                "expires", "expire", "exp", "lot"})
_SENT_WORDS = frozenset({"sent", "date"})
_SERVICE_DATE_WORDS = frozenset({"dos", "date", "seen"})


# The words without which each setting pattern cannot match (any one of them): a long note without
# them is not scanned for it. A word of the note is a run of ASCII letters and digits (distinct_words), so
# "POS11" is one word: "pos" is looked for as a prefix.
_NONFACILITY_WORDS = frozenset({"facility", "nonfacility", "place"})
_FACILITY_WORDS = frozenset({"hospital", "outpatient", "hopd", "center", "centre", "emergency", "ed", "er",
                             "observation", "obs", "facility"})


def _may_say(words: set[str] | None, needed: frozenset[str]) -> bool:
    """False only when no word of ``needed`` and no word starting with "pos" is in the note."""
    return may_say(words, needed) or any(w.startswith("pos") for w in words)


def setting_of(text: str, words: set[str] | None = None) -> tuple[str, tuple[int, int] | None, list[str]]:
    """``(setting, span of the words, questions)``. ``words``: the note's ``distinct_words``, when the caller
    has them."""
    questions: list[str] = []
    words = gate_words(text, words)     # "hoſpital": a letter only the case-insensitive patterns read as ASCII
    nonfac = _SETTING_NONFACILITY.search(text) if _may_say(words, _NONFACILITY_WORDS) else None
    if nonfac:
        return "office", nonfac.span(), questions
    fac = (_SETTING_FACILITY.search(text) or _OBS_HEADING.search(text)) if _may_say(words, _FACILITY_WORDS) else None
    off = _SETTING_OFFICE.search(text)
    if fac:
        if off and not re.search(r"hospital", off.group(0), re.I) and off.start() < fac.start() and \
                not re.search(r"hospital|outpatient", text[max(0, off.start() - 30):off.end() + 30], re.I):
            questions.append(f"Both '{off.group(0)}' and '{fac.group(0)}' appear; coded as a facility (hospital "
                             "outpatient). Is that right?")
        return "facility", fac.span(), questions
    if off:
        if off.group(0).lower() in _WHOSE_UNSAID:
            questions.append(f"'{off.group(0)}' does not say whose: coded as a physician office. Is it a hospital "
                             "outpatient department (facility claim)?")
        return "office", off.span(), questions
    questions.append("The setting is not stated; coded as a physician office (professional claim). Was it a hospital "
                     "outpatient department, infusion center or ED?")
    return "office", None, questions


def date_of_service(text: str, dates: list[DateHit], words: set[str] | None = None) -> tuple[DateHit | None, list[str]]:
    """The date of service among the note's dates: a labelled one (DOS, Date:) first, never a birth,
    follow-up or lot-expiry date; a question when several different dates remain. ``words``: the note's
    ``distinct_words``, when the caller has them (a label the note cannot hold is not looked for)."""
    words = gate_words(text, words)
    not_service = may_say(words, _NOT_SERVICE_WORDS)
    usable = [d for d in dates if not (not_service and _NOT_SERVICE_DATE.search(text[max(0, d.start - 30):d.start]))]
    if not usable:
        return None, []
    # an e-mail's sent date ("Sent: ...", its own or a quoted one): only when the note gives no other date,
    # and then the earliest, the thread's first message (a reply is sent later than the note it quotes)
    sent = [d for d in usable if _SENT_LABEL.search(text[max(0, d.start - 40):d.start])] \
        if may_say(words, _SENT_WORDS) else []
    sent_at = {d.start for d in sent}      # a set: a thread of many sent dates is not read in quadratic time
    written = [d for d in usable if d.start not in sent_at]
    questions = []
    if not written:
        chosen = min(sent, key=lambda d: d.value)
        questions.append(f"The note gives no date of service; coded as the date the e-mail was sent ({chosen.value}). "
                         "Is that the date of service?")
        return chosen, questions
    usable = written
    labelled = [d for d in usable if _SERVICE_DATE_LABEL.search(text[max(0, d.start - 20):d.start])] \
        if may_say(words, _SERVICE_DATE_WORDS) else []
    chosen = (labelled or usable)[0]
    distinct = sorted({d.value for d in usable})
    if len(distinct) > 1:
        questions.append(f"Several dates appear ({', '.join(distinct)}); coded as {chosen.value}, one date of service.")
    return chosen, questions
