"""The faster forms of the note reader's scans find exactly what the plain forms found (issue 13, speed).

Each speed-up of the 1 MB note keeps a pattern's matches or a reader's result unchanged; these tests hold
each one against the form it replaced (kept here as the reference), on random texts over the characters
that matter and on the nurse-note corpus.
"""
from __future__ import annotations

import bisect
import random
import re
from pathlib import Path

import pytest
import yaml

from infucode import load_ruleset
from infucode.knowledge.intake import clauses, context, header, sections, segments
from infucode.knowledge.intake.events import read_timeline
from infucode.vocabulary import clock, durations
from infucode.vocabulary.names import (LONG_NOTE_CHARS, WordAlternation, distinct_words, gate_words, letter_runs, may_say,
                                      word_places, word_scan)

NOTES = Path(__file__).resolve().parent / "notes"


def _corpus_texts() -> list[str]:
    texts = []
    for path in sorted(NOTES.glob("*.yaml")):
        for note in yaml.safe_load(path.read_text()) or []:
            if isinstance(note, dict) and note.get("text"):
                texts.append(note["text"])
    return texts


CORPUS = _corpus_texts()


def _random_texts(alphabet: str, n: int, seed: int, longest: int = 12) -> list[str]:
    rnd = random.Random(seed)
    return ["".join(rnd.choice(alphabet) for _ in range(rnd.randrange(1, longest))) for _ in range(n)]


def test_the_corpus_is_there():
    assert len(CORPUS) >= 80


# --- the clock-time scan: the hour's first digit matched first (was: a lookahead for a digit)
_AMPM = r"(?:\s*(?P<ap>[ap])\.?\s?m\.?(?![a-z]))"
_OLD_TIME = re.compile(
    r"(?=\d)(?<![\d:/.$#])(?:"
    r"(?P<h>\d{1,2})[:h](?P<mi>\d{2})(?::\d{2})?" + _AMPM + r"?"
    r"|(?P<h2>\d{1,2})" + _AMPM.replace("ap>", "ap2>")
    + r"|(?P<h3>[01]\d|2[0-3])(?P<mi3>[0-5]\d)(?:\s*(?:h|hrs|hours)\b)?(?!\d|:\d|/|\.\d|%|\s*(?:mg|mcg|ml|cc|" + clock._LITRES + r"|g|gm|grams?|"
      r"units?|u|meq|iu|kg|lbs?)\b)"
    r")", re.I)


def _old_times(text: str) -> list[tuple]:
    return [(m.span(), m.group("h"), m.group("mi"), m.group("ap"), m.group("h2"), m.group("ap2"), m.group("h3"),
             m.group("mi3")) for m in _OLD_TIME.finditer(text)]


def _new_times(text: str) -> list[tuple]:
    out = []
    for m in clock._TIME.finditer(text):
        first = text[m.start()]

        def whole(g: str | None) -> str | None:
            return None if g is None else first + g
        out.append((m.span(), whole(m.group("h")), m.group("mi"), m.group("ap"), whole(m.group("h2")), m.group("ap2"),
                    whole(m.group("h3")), m.group("mi3")))
    return out


def test_numeric_dates_tried_at_their_separators_are_the_ones_finditer_finds():
    texts = _random_texts("0123456789/-/-12 a.\n\u0663\u00b2", 40_000, seed=13, longest=24) + CORPUS
    for text in texts:
        want = [(m.span(), m.groups()) for m in clock._NUMERIC_DATE.finditer(text)]
        assert [(m.span(), m.groups()) for m in clock._numeric_dates(text)] == want, text


def test_the_ascii_time_pattern_finds_what_the_unicode_one_finds_on_an_ascii_text():
    texts = _random_texts("0123456789:h ap.m/$#xgH\n\t\x0b\x1c\x1f", 30_000, seed=17) + CORPUS
    for text in texts:
        pattern = clock._time_pattern_for(text)
        if any(c in text for c in "\x1c\x1d\x1e\x1f") or not text.isascii():
            assert pattern is clock._TIME
            continue
        assert [(m.span(), m.groups()) for m in pattern.finditer(text)] == \
            [(m.span(), m.groups()) for m in clock._TIME.finditer(text)], text
    assert clock._time_pattern_for("8\x1cpm") is clock._TIME and clock._TIME.search("8\x1cpm").group(0) == "8\x1cpm"


def test_a_time_s_groups_follow_from_its_written_form():
    # find_times remembers a time by its written form: two matches with the same text never differ in groups
    seen: dict[str, tuple] = {}
    for text in _random_texts("0123456789:h ap.m/$#xgH\n", 20_000, seed=9) + CORPUS:
        for m in clock._TIME.finditer(text):
            groups = (text[m.start()], *m.groups())
            assert seen.setdefault(m.group(0), groups) == groups, (m.group(0), text)
        clock._WRITTEN_TIMES.clear()
        assert clock.find_times(text) == clock.find_times(text)      # the second reading from the memo


def test_the_time_scan_finds_the_times_and_hours_the_lookahead_form_found():
    texts = _random_texts("0123456789:h ap.m/$#xgH\n", 20_000, seed=3) + CORPUS
    for text in texts:
        assert _new_times(text) == _old_times(text), text


@pytest.mark.parametrize("written,value", [("0830", "08:30"), ("8:30 PM", "20:30"), ("x0830", None), ("J1745", None),
                                           ("12:45", "12:45"), ("2359", "23:59"), ("2400", None), ("7 am", "07:00")])
def test_clock_values_through_the_remembered_forms(written, value):
    # twice: the second reading takes the value remembered from the first
    for _ in range(2):
        got = [t.value for t in clock.find_times(f"given {written} ok")]
        assert got == ([value] if value else [])


# --- the unit-word gate of durations: explicit letter cases (was: re.I)
_OLD_UNIT = re.compile(r"(?=[hHmM])(?<=[\d\s\-½¼¾aenortxyfAENORTXYF])(?:hours?|hrs?|h|minutes?|minuts?|minuets?|mintues?"
                       r"|mins?|m)(?![b-zB-Z])", re.I)


def test_the_unit_word_gate_starts_where_the_case_insensitive_form_started():
    texts = _random_texts("hHmMiInNuUtTeEsSoOrR 1-½aexyfbg\n", 30_000, seed=1) + CORPUS
    for text in texts:
        want = [m.start() for m in _OLD_UNIT.finditer(text)]
        assert [m.start() for m in durations._UNIT_AFTER_NUMBER.finditer(text)] == want, text


# --- clause ends: the end character matched first (was: a lookahead)
_OLD_CLAUSE_END = re.compile(r"(?=[\n;.!?])(?:\n|;|(?<![A-Z][a-z])(?<!\b[A-Za-z])\.(?=\s)|!|\?(?=\s))")


def _old_clauses(text: str, protected: list[tuple[int, int]]) -> list[tuple[int, int]]:
    starts = [a for a, _ in protected]
    out, lo = [], 0
    for m in _OLD_CLAUSE_END.finditer(text):
        i = bisect.bisect_right(starts, m.start()) - 1
        if i >= 0 and protected[i][1] > m.start():
            continue
        if m.start() > lo:
            out.append((lo, m.start()))
        lo = m.end()
    if lo < len(text):
        out.append((lo, len(text)))
    return out


def test_clause_ends_and_clauses_are_those_of_the_lookahead_form():
    for text in _random_texts("aBcD.?!;\n x_1é", 30_000, seed=2, longest=10):
        assert [m.span() for m in clauses._CLAUSE_END.finditer(text)] == \
            [m.span() for m in _OLD_CLAUSE_END.finditer(text)], text
    for text in CORPUS:
        times = clock.find_times(text)
        protected = sorted([(t.start, t.end) for t in times] + [(d.start, d.end) for d in clock.find_dates(text)])
        assert clauses.find_clauses(text, protected) == _old_clauses(text, protected)


def test_a_period_inside_a_time_is_no_clause_end():
    text = "IVIG started 8:30 a.m. Then flushed. Done"
    protected = [(t.start, t.end) for t in clock.find_times(text)]
    assert clauses.find_clauses(text, protected) == [(0, 35), (36, 41)]


def test_hits_are_sorted_into_their_clauses_as_asking_each_clause_found():
    for text in CORPUS:
        times = clock.find_times(text)
        cls = clauses.find_clauses(text, sorted((t.start, t.end) for t in times))
        starts = [t.start for t in times]
        by = clauses.hits_by_clause(cls, [a for a, _ in cls], times, starts)
        for i, (a, b) in enumerate(cls):
            assert by.get(i, []) == clauses.hits_between(times, starts, a, b)


# --- headings after a delimiter: the delimiter matched first (was: an alternation)
def test_headings_after_a_delimiter_are_those_of_the_alternation_form():
    keys = tuple(sections.SECTION_HEADINGS)
    _, after = sections._heading_patterns(keys)
    alt = "|".join(r"[ \t]+".join(re.escape(w) for w in k.split()) for k in sorted(keys, key=len, reverse=True))
    old = re.compile(r"(?:\n|[.;]\s??)(?P<s>)" + sections._HEAD_BODY.format(alt=alt), re.I)
    rnd = random.Random(4)
    pieces = ["\n", ". ", ";", ".", " ", "Dx:", "Plan :", "- Orders:", "\tRx:", "note", "x", ".\n"]
    texts = ["".join(rnd.choice(pieces) for _ in range(rnd.randrange(1, 8))) for _ in range(20_000)] + CORPUS
    for text in texts:
        got = [(m.start("s"), m.start("h"), m.end("h"), m.end()) for m in after.finditer(text)]
        assert got == [(m.start("s"), m.start("h"), m.end("h"), m.end()) for m in old.finditer(text)], text


def test_headings_tried_before_each_colon_are_the_ones_finditer_finds():
    rnd = random.Random(6)
    pieces = ["\n", ". ", ";", ".", " ", "\t", ":", "Dx:", "Dx", "Plan :", "- Orders:", "\tRx:", "note", "x", ".\n",
              "08:30", "MD order:", "hiſtory:", "HISTORY", "Dx :", "Orderſ:"]
    texts = ["".join(rnd.choice(pieces) for _ in range(rnd.randrange(1, 10))) for _ in range(30_000)] + CORPUS
    for keys in (tuple(sections.SECTION_HEADINGS), ("dx", "md order", "note"), ("history",)):
        _, after = sections._heading_patterns(keys)
        for text in texts:
            want = [(m.start("s"), m.start("h"), m.end("h"), m.end()) for m in after.finditer(text)]
            got = [(m.start("s"), m.start("h"), m.end("h"), m.end()) for m in sections._after_delimiter(text, after, keys)]
            assert got == want, (keys, text)


# --- cue tables reduced to the phrases whose first words a note has
def test_a_reduced_cue_table_finds_what_the_whole_table_finds():
    for table in (context.NEGATION, context.HYPOTHETICAL, context.ACTUAL):
        for text in CORPUS + ["held per MD", "will give if needed", "x 3 days q 4 h", "e-prescribed", "Rx sent to pharmacy"]:
            reduced = table.for_words(distinct_words(text))
            for clause in re.split(r"[\n;.]", text):
                want = table.full.search(clause)
                got = reduced.search(clause) if reduced is not None else None
                assert (got and got.span()) == (want and want.span()), clause


def test_a_note_without_any_cue_word_is_searched_for_none():
    assert context.NEGATION.for_words({"zofran", "4", "mg", "ivp"}) is None
    assert context.HYPOTHETICAL.for_words({"zofran"}) is None
    # a phrase with no fixed first word is kept by its first run of letters ("q4h": the run "q")
    assert context.HYPOTHETICAL.for_words({"q4h"}).pattern.count("|") == 0
    # ... and one with a common first word only with its later words ("at home")
    assert context.HYPOTHETICAL.for_words({"at", "1030"}) is None
    assert context.HYPOTHETICAL.for_words({"at", "home"}).search("discharged at home").group(0) == "at home"
    assert context.clause_cues("short note", {"zofran"}) is context.ALL_CUES      # a short note: the whole tables


def test_word_alternation_keeps_the_order_of_preference():
    table = WordAlternation([(["to"], r"to\s+be\s+given"), (["to"], "to"), (None, r"q\s?\d+\s?h")])
    assert table.for_words({"to"}).search("to be given").group(0) == "to be given"
    assert table.for_words({"x"}).search("q 4 h").group(0) == "q 4 h"


_CUE_WORDS = ["not given", "held per MD", "was held", "did not receive", "no premeds given", "if needed", "as needed",
              "to be given", "will give", "planned to", "next cycle", "at home", "for home", "Rx", "order for", "q4h",
              "q 6 h", "x 3 days", "x3days", "e-prescribed", "declined", "prn", "sent to pharmacy", "2x 3 days"]


def _cue_texts() -> list[str]:
    rnd = random.Random(12)
    texts = list(CORPUS)
    for _ in range(400):
        words = rnd.choice(CORPUS).split(" ")
        for _ in range(rnd.randrange(1, 4)):
            words.insert(rnd.randrange(len(words) + 1), rnd.choice(_CUE_WORDS))
        texts.append(" ".join(words))
    return texts


def test_the_clause_status_is_the_same_with_the_note_s_cue_tables_and_places():
    for text in _cue_texts():
        long = text + " " * LONG_NOTE_CHARS
        cues = context.clause_cues(long, gate_words(long, distinct_words(long)))
        assert cues.places is not None
        for ca, cb in clauses.find_clauses(text, []):
            clause = text[ca:cb]
            for has_time in (False, True):
                want = context.clause_status(clause, has_time)
                for got in (context.clause_status(clause, has_time, cues),
                            context.status_between(long, ca, cb, has_time, cues)):
                    assert (got[0], got[1] and got[1].span()) == (want[0], want[1] and want[1].span()), clause


# --- word scans and the gates
def test_word_scan_finds_whole_words_longest_first_in_any_case():
    scan = word_scan({"iv", "ivp", "port"})
    assert [m.group(0) for m in scan.finditer("IVP then iv; PORT, passport, IVs, 2iv")] == ["IVP", "iv", "PORT"]
    starts = word_scan({"re"}, "A-Za-z", whole=False, also=(r"[#@]", "#@"))
    assert [m.group(0) for m in starts.finditer("restarted @1030 #2 pre")] == ["re", "@", "#"]


# --- the word places: bytes.find over the note's lower-case letters and digits (was: one word_scan finditer)
_WORD_ALPHABET = "ivpPORTre ab2#@-.\u017f\u212a\u0130\u00e9I\n"


@pytest.mark.parametrize("word_chars,letters,whole", [("A-Za-z0-9", False, True), ("A-Za-z", True, True),
                                                     ("A-Za-z", True, False)])
def test_word_places_are_the_places_the_word_scan_finds(word_chars, letters, whole):
    texts = _random_texts(_WORD_ALPHABET, 20_000, seed=11, longest=30) + CORPUS
    rnd = random.Random(5)
    for text in texts:
        words = distinct_words(text)
        pool = sorted(letter_runs(words) if letters else words) + ["iv", "ivp", "port", "re", "i", "a2", "2"]
        found = {w for w in rnd.sample(pool, min(len(pool), rnd.randrange(1, 6))) if not letters or w.isalpha()}
        if not found:
            continue
        want = [(m.start(), m.group(0).lower()) for m in word_scan(found, word_chars, whole=whole).finditer(text)]
        # given the word set, or not: the same places
        assert word_places(text, found, words, letters=letters, prefix=not whole) == want, (text, found)
        assert word_places(text, found, letters=letters, prefix=not whole) == want, (text, found)


def test_word_places_of_a_long_note_and_a_set_of_another_text():
    text = "Zofran 4 mg IVP 10:15, ivp again; IV-push; zofran2 " * 500
    assert [p for p, _ in word_places(text, {"ivp"}, distinct_words(text))][:2] == [12, 23]
    # words of another text: the places are still this text's
    assert word_places("IVP", {"ivp"}, distinct_words(text)) == [(0, "ivp")]
    assert word_places("IVP", {"ivp"}, {"ivp"}) == [(0, "ivp")]


def test_may_say_skips_only_a_note_without_the_words():
    assert may_say(None, frozenset({"held"}))
    assert may_say({"held", "zofran"}, frozenset({"held"}))
    assert not may_say({"zofran"}, frozenset({"held"}))
    assert gate_words("hoſpital", {"ho", "pital"}) is None        # a folded letter: nothing is skipped


def test_a_segment_without_a_site_word_is_not_searched_and_the_sites_are_unchanged():
    rs = load_ruleset("medicare")
    for text in CORPUS:
        tl = read_timeline(text, rs)
        starts = segments.site_starts(text, gate_words(text, tl.words))
        for seg in tl.segments:
            plain = segments.Segment(seg.start, seg.end, seg.mention)
            segments.read_site(text, plain)
            gated = segments.Segment(seg.start, seg.end, seg.mention)
            segments.read_site(text, gated, starts)
            assert gated.site == plain.site == seg.site
    assert segments.site_starts("Zofran 4 mg IVP", {"zofran", "4", "mg", "ivp"}) == []
    assert segments.site_starts("via L AC PIV", None) is None


@pytest.mark.parametrize("text,discontinued,separate", [
    ("Rituxan stopped early for rash 1030", True, False),
    ("Zofran 4 mg IVP via second IV site 1015", False, True),
    ("Zofran 4 mg IVP 1015", False, False),
])
def test_reaction_stops_and_separate_sites_are_still_read(text, discontinued, separate):
    tl = read_timeline(text, load_ruleset("medicare"))
    seg = next(s for s in tl.segments if s.mention is not None)
    assert (seg.discontinued is not None, seg.separate is not None) == (discontinued, separate)


# --- numeric dates: the first digit matched first (was: a lookahead for a digit)
_OLD_NUMERIC_DATE = re.compile(r"(?=\d)\b(?:(?P<y>(?:19|20)\d\d)-(?P<m>\d\d)-(?P<d>\d\d)"
                               r"|(?P<m2>\d{1,2})/(?P<d2>\d{1,2})/(?P<y2>(?:19|20)\d\d|\d{2}))\b")


def test_numeric_dates_are_those_of_the_lookahead_form():
    texts = _random_texts("0129/-3 a_٣\n", 40_000, seed=5, longest=14) + CORPUS
    for text in texts:
        want = [(m.span(), m.group("y"), m.group("m2")) for m in _OLD_NUMERIC_DATE.finditer(text)]
        got = []
        for m in clock._NUMERIC_DATE.finditer(text):
            first = text[m.start()]
            got.append((m.span(), m.group("y") and first + m.group("y"), m.group("m2") is not None and first + m.group("m2")
                        or None))
        assert got == want, text
    # through the reader: a note with no month word is read with the numeric scan
    assert [d.value for d in clock.find_dates("DOS 3/2/26, seen 2026-03-04; 1/2/3", {"dos", "seen"})] == \
        ["2026-03-02", "2026-03-04"]


def test_a_long_note_s_action_words_are_those_of_the_whole_action_pattern():
    """A note over LONG_NOTE_CHARS characters is read with an ACTION_RE of only the phrases its words can
    start; it must find what the whole pattern finds, for every phrase form and in a corpus note."""
    from infucode.knowledge.intake import actions

    phrases = ["held", "on hold", "stopped temporarily", "re-started", "restarting", "new bag", "bag #2", "2nd liter",
               "rehung", "#2 hung", "rate increased", "titrated", "inc rate", "completed", "d/c'd", "dc'ed",
               "infused by", "ran until", "being infused", "infused over", "Actemra infused.", "started", "strt",
               "on at", "from", "de-accessed", "pt flushed", "flushed", "hep lock", "blood return", "labs drawn",
               "vitals", "VS", "given", "pushed", "at", "@", "ſtarted", "Kelvin \u212astart"]
    texts = [" ".join(f"0830 NS {p} 0915;" for p in phrases), *CORPUS]
    for text in texts:
        long = (text + "\n") * (LONG_NOTE_CHARS // max(1, len(text)) + 1)
        assert len(long) >= LONG_NOTE_CHARS
        want = [(m.start(), m.end(), m.lastgroup) for m in actions.ACTION_RE.finditer(long)]
        assert [(m.start(), m.end(), m.lastgroup) for m in actions.find_actions(long)] == want


def test_the_phrases_of_the_action_pattern_split_and_start_as_written():
    from infucode.knowledge.intake import actions

    for _, pattern in actions._ACTION_WORDS:
        assert "|".join(actions._alternatives(pattern)) == pattern
    assert actions._leading_letters("re-?started") == "re"
    assert actions._leading_letters("labs?\\s+drawn") == "lab"
    assert actions._leading_letters("(?<!pt )(?<!patient )flushed") == "flushed"
    assert actions._leading_letters("(?:second|2nd)\\s+bag") == ""


# --- the date of service: labels looked for only in a note that has their words
_OLD_NOT_SERVICE_DATE = re.compile(r"\b(?:DOB|D\.O\.B\.?|birth|born|last|next|prior|previous|follow[- ]?up|f/u|return|"
                                   r"RTC|due|since|diagnosed|dx'?d|expires?|exp|lot)\b[^\n\d]{0,12}$", re.I)


def test_the_not_a_service_date_label_finds_what_the_unled_form_found():
    words = ["DOB", "D.O.B.", "birth", "Lot", "f/u", "follow-up", "dx'd", "exp", "RTC", "since", "\u017fince", "x", "7"]
    rnd = random.Random(8)
    for _ in range(20_000):
        text = "".join(rnd.choice(words + [" ", "\n", ":", "-", "a"]) for _ in range(rnd.randrange(1, 9)))
        assert bool(header._NOT_SERVICE_DATE.search(text)) == bool(_OLD_NOT_SERVICE_DATE.search(text)), text


@pytest.mark.parametrize("extra", ["", "DOB\n", "Pt DOB: ", "Sent: Monday\n", "> Date: ", "DOS: ", "Lot exp ",
                                   "seen ", "f/u ", "D.O.B. "])
def test_the_date_of_service_is_the_same_with_the_word_gates(extra):
    rs = load_ruleset("medicare")
    for text in CORPUS + [f"{extra}07/01/2024 Zofran 4 mg IVP 10:15\n{extra}07/02/2024"]:
        text = extra + text
        tl = read_timeline(text, rs)
        assert header.date_of_service(text, tl.dates, tl.words) == header.date_of_service(text, tl.dates), text


# --- a segment's dose and indication: patterns led by their first character
_OLD_RATE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:mL|ml|cc)\s*/\s*(?:hr|h|hour)\b", re.I)


def test_the_led_rate_pattern_finds_what_the_plain_one_found():
    for text in _random_texts("0123456789.. mLlc/hrou\u0663", 60_000, seed=23, longest=16) + CORPUS:
        for pos in (0, 1, 2):
            want = [(m.span(), m.group(1)) for m in _OLD_RATE.finditer(text, pos)]
            assert [(m.span(), m.group(1)) for m in segments._RATE.finditer(text, pos)] == want, (text, pos)


_OLD_INDICATION = re.compile(r"\bfor\s+(dehydration|hypokalemia|hypomagnesemia|low potassium|low magnesium|"
                             r"[a-z][a-z \-']{2,40}?)(?=\s*(?:[,.;\n(]|$|\bvia\b|\bat\b|\bover\b|\bstart))", re.I)


def test_the_led_dose_and_indication_patterns_find_what_the_plain_ones_found():
    dose_texts = _random_texts("0123456789.. mgLlu\u0663xMcqeEnitsraC", 60_000, seed=21, longest=16)
    for text in dose_texts + CORPUS:
        for pos in (0, 1, 2):        # searched from inside the text, as from a mention's end: lookbehinds see before
            want = [(m.span(), m.groups()) for m in segments.DOSE.finditer(text, pos)]
            got = [(m.span(), (text[m.start():m.end("n")], m.group("u"))) for m in segments._DOSE_LED.finditer(text, pos)]
            assert got == want, (text, pos)
    ind_texts = _random_texts("for xFOR_1 .,\nab", 40_000, seed=22, longest=20)
    for text in ind_texts + CORPUS:
        for pos in (0, 1):
            want = [(m.span(), m.span(1)) for m in _OLD_INDICATION.finditer(text, pos)]
            assert [(m.span(), m.span(1)) for m in segments._INDICATION.finditer(text, pos)] == want, (text, pos)


# --- names and route phrases looked for only when the note has all their words
def test_names_a_note_cannot_hold_are_not_looked_for_and_the_names_are_unchanged():
    from infucode.knowledge.intake.mentions import drug_name_index
    index = drug_name_index(load_ruleset("medicare"))
    pieces = ["Mg", "mg", "sulfate", "4", "4-factor", "PCC", "NS", "ns", "flush", "IVIG", "lyophilized", "G-CSF", "g",
              "l-amb", "Zofran", "NaCl", "0.9%", "sodium", "chloride", "5-FU", "fluorouracil", "(5-FU)", " ", "  ", "\n",
              "-", "/", "(", ")", "500 mL", "Gammagard", "Liquid"]
    rnd = random.Random(41)
    texts = [" ".join(rnd.choice(pieces) for _ in range(rnd.randrange(1, 12))) for _ in range(6000)] + CORPUS
    for text in texts:
        words = distinct_words(text)
        assert list(index.find(text, words)) == list(index.find(text, words, every_name=True)), text


def test_route_phrases_a_note_cannot_hold_are_not_tried_and_the_routes_are_unchanged():
    from infucode.vocabulary import find_route_words
    pieces = ["IV", "iv", "push", "per", "rectum", "tube", "s.c.", "S.C", "mL/hr", "ml/h", "mL per hour", "IVP",
              "infusion", "PO", "po", "SL", "sub-q", "SQ", "IM", "im", "Patel's", "bolus", "IV  bolus", "2iv", " ", "\n"]
    rnd = random.Random(42)
    for _ in range(300):
        text = " ".join(rnd.choice(pieces) for _ in range(rnd.randrange(400, 900)))      # a note: over 2,000 characters
        words = distinct_words(text)
        assert find_route_words(text, words=words) == find_route_words(text, words=words, every_phrase=True), \
            text[:200]


# --- clause ends inside a time or date: found span by span (was: one bisection per clause end)
def _old_find_clauses(text: str, protected: list[tuple[int, int]]) -> list[tuple[int, int]]:
    cuts = [m.start() for m in clauses._CLAUSE_END.finditer(text)]
    if protected:
        starts, ends = [a for a, _ in protected], [b for _, b in protected]
        cuts = [c for c in cuts if (i := bisect.bisect_right(starts, c) - 1) < 0 or ends[i] <= c]
    lows = [0] + [c + 1 for c in cuts]
    cuts.append(len(text))
    return [(lo, c) for lo, c in zip(lows, cuts) if c > lo]


def test_clauses_cut_span_by_span_are_the_clauses_cut_end_by_end():
    rnd = random.Random(3)
    for _ in range(20_000):
        text = "".join(rnd.choice("ab. ;\n") for _ in range(rnd.randrange(1, 30)))
        # spans that may overlap or nest: the rule (the span starting last before a cut decides) is kept as it was
        spans = sorted((a, a + rnd.randrange(1, 6))
                       for a in rnd.sample(range(len(text) + 1), min(len(text) + 1, rnd.randrange(0, 4))))
        assert clauses.find_clauses(text, spans) == _old_find_clauses(text, spans), (text, spans)
    rs = load_ruleset("medicare")
    for text in CORPUS:
        tl = read_timeline(text, rs)
        times = clock.find_times(text, [(d.start, d.end) for d in tl.dates] + [(m.start, m.end) for m in tl.mentions])
        spans = sorted([(t.start, t.end) for t in times] + [(d.start, d.end) for d in tl.dates])
        assert clauses.find_clauses(text, spans) == _old_find_clauses(text, spans)


def test_a_segment_without_for_is_not_searched_for_an_indication_and_the_details_are_unchanged():
    rs = load_ruleset("medicare")
    rnd = random.Random(44)
    texts = list(CORPUS)
    for _ in range(200):
        words = rnd.choice(CORPUS).split(" ")
        words.insert(rnd.randrange(len(words) + 1), rnd.choice(["for dehydration", "For nausea,", "fortune", "for"]))
        texts.append(" ".join(words))
    for text in texts:
        tl = read_timeline(text, rs)
        gate = gate_words(text, tl.words)
        placed, plain = segments.detail_gates(gate, text), segments.detail_gates(gate)
        assert plain.indication_at is None
        for seg in tl.segments:
            if seg.mention is None:
                continue
            got, want = (segments.Segment(seg.start, seg.end, seg.mention, site=seg.site) for _ in range(2))
            segments.read_details(text, got, seg.mention, [], gates=placed)
            segments.read_details(text, want, seg.mention, [], gates=plain)
            assert got == want, text


# --- ASCII forms of the patterns, for a note where ASCII classes read it as Unicode's do
def test_the_ascii_forms_find_what_the_unicode_forms_find_where_ascii_classes_hold():
    from infucode.vocabulary.names import ascii_classes_hold
    assert ascii_classes_hold("Zofran 4 mg IVP 10:15") and not ascii_classes_hold("8\x1cpm") \
        and not ascii_classes_hold("Zofran 4 mg IVP 10:15 \u00e9")
    texts = _random_texts("0123456789.. mgLlu/hrFfor \t\nxMcqeEnitsraC_ab", 40_000, seed=51, longest=20) + \
        [t for t in CORPUS if ascii_classes_hold(t)]
    for text in texts:
        assert ascii_classes_hold(text)
        for ascii_form, unicode_form in zip(segments._ASCII_FORMS, segments._UNICODE_FORMS):
            assert [(m.span(), m.groups()) for m in ascii_form.finditer(text)] == \
                [(m.span(), m.groups()) for m in unicode_form.finditer(text)], text
