"""Finding known names (drug names, brands, aliases) in free text in one pass over its words.

A big regular-expression alternation of every catalog name tries each name at each position
(seconds per megabyte); this index looks each word up once and compares only the names that start
with it, so finding names is linear in the text. Matching follows the catalog rules: words are runs
of ASCII letters and digits, a name matches whole words, whitespace inside a name may be any run of
whitespace, and a short name written with capitals ("NS", "LR", "D5W") is case-sensitive unless a
volume follows it ("ns 500 mL").
"""
from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["LONG_NOTE_CHARS", "NameHit", "NameIndex", "NoteWords", "Phrase", "WordAlternation", "ascii_classes_hold",
           "canonical_name", "char_places", "distinct_words", "folds_to_ascii", "gate_words", "letter_runs", "may_say",
           "phrase", "word_places", "word_scan"]

_WORD = re.compile(r"[A-Za-z0-9]+")
_SPACES = re.compile(r"\s*")      # the whitespace str.split() splits on
_VOLUME_AFTER = re.compile(r"\s*\d+(?:\.\d+)?\s*(?:ml|l|cc)(?![A-Za-z0-9])", re.I)
# A capitalised name this short is an abbreviation; lower-case it is usually an ordinary word.
SHORT_ABBREVIATION_LEN = 4


def canonical_name(text: str) -> str:
    """Lower case, whitespace runs as one space: the form names are compared in."""
    return " ".join(text.split()).lower()


# byte -> itself for an ASCII letter or digit, else a space: words by one translate and one split
_ALNUM_ONLY = bytes(c if chr(c).isascii() and chr(c).isalnum() else 32 for c in range(256))
# ... and the digits too as spaces (a lower-case alnum text then has only its letter runs)
_LETTERS_ONLY = bytes(c if chr(c).isascii() and chr(c).isalpha() else 32 for c in range(256))


class NoteWords(set):
    """The distinct words of one text (:func:`distinct_words`), which also knows where they are: the text
    as bytes, one byte per character, every character that is no ASCII letter or digit a space, lower
    case, with a space before and after. A word's places are then found with ``bytes.find`` (see
    :func:`word_places`), a C loop, where a regex alternation tried at every letter of a long note costs
    about 25 ms per MB for each scan."""

    __slots__ = ("text", "_alnum", "_letters")

    def __init__(self, text: str):
        alnum = text.encode("ascii", "replace").translate(_ALNUM_ONLY).lower()
        super().__init__(w.decode() for w in set(alnum.split()))
        self.text = text
        self._alnum = b" " + alnum + b" "
        self._letters: bytes | None = None

    def buffer(self, letters: bool) -> bytes:
        """The padded lower-case text of ASCII letters and digits, or of letters only."""
        if not letters:
            return self._alnum
        if self._letters is None:
            self._letters = self._alnum.translate(_LETTERS_ONLY)
        return self._letters


def distinct_words(text: str) -> NoteWords:
    """The distinct runs of ASCII letters and digits of ``text``, lower case: what
    ``{w.lower() for w in re.findall("[A-Za-z0-9]+", text)}`` gives, in about half the time on a long
    text (no match object or string per word). The set also finds its words' places (:func:`word_places`)."""
    return NoteWords(text)


_PLACE = operator.itemgetter(0)      # a place's position: the sort key


def char_places(text: str, chars: str) -> list[int]:
    """Every place of one of the characters ``chars`` in ``text``, in order: str.find per character, a C scan
    several times faster per MB than a regex's."""
    out: list[int] = []
    for c in chars:
        i = text.find(c)
        while i >= 0:
            out.append(i)
            i = text.find(c, i + 1)
    if len(chars) > 1:
        out.sort()
    return out


def word_places(text: str, found: Iterable[str], words: set[str] | None = None, *, letters: bool = False,
                prefix: bool = False) -> list[tuple[int, str]]:
    """``(place, word)`` of every place in ``text`` where one of the lower-case words ``found`` is written, in
    any ASCII case, not after an ASCII letter or digit (``letters``: not after a letter) and, unless
    ``prefix``, not before one either: in order of place. What one ``finditer`` of :func:`word_scan` over the
    text finds (tests/test_intake_scan_equivalence.py): with ``prefix`` a place is given once, with the
    longest word. ``words``: the text's :func:`distinct_words`, when the caller has them."""
    if not isinstance(words, NoteWords) or words.text is not text:
        words = NoteWords(text)
    buf = words.buffer(letters)
    out: list[tuple[int, str]] = []
    for w in sorted(found, key=len, reverse=True) if prefix else found:
        needle = (" " + w if prefix else " " + w + " ").encode()
        step = len(needle) - 1          # the space after a whole word may be the one before the next
        find = buf.find
        i = find(needle)
        while i >= 0:
            out.append((i, w))         # the buffer's leading space: the word's place in the text is i
            i = find(needle, i + step)
    if prefix and out:
        out.sort(key=_PLACE)            # stable: the longest word first at a place
        seen = -1
        kept = []
        for i, w in out:                # the longest word at a place was put first
            if i != seen:
                kept.append((i, w))
                seen = i
        return kept
    out.sort()
    return out


_LETTERS = re.compile(r"[a-z]+")


def letter_runs(words: set[str]) -> set[str]:
    """The distinct runs of letters in ``words`` (a :func:`distinct_words` set): the text's ``[A-Za-z]+`` runs,
    lower case ("2nd" gives "nd")."""
    return {r for w in words for r in _LETTERS.findall(w)}


# the non-ASCII letters that an ASCII letter matches under re.I (dotted/dotless i, long s, Kelvin sign)
_FOLDS_TO_ASCII = re.compile("[\u0130\u0131\u017f\u212a]")


def folds_to_ascii(text: str) -> bool:
    """True when ``text`` has a letter that a case-insensitive regex reads as an ASCII one ("ſtarted"): the
    word set of :func:`distinct_words` then misses a word that such a regex finds."""
    return not text.isascii() and _FOLDS_TO_ASCII.search(text) is not None


def ascii_classes_hold(text: str) -> bool:
    """True when a pattern compiled with re.ASCII finds in ``text`` what the Unicode pattern finds: the text is
    ASCII and has none of the four information separators (\\x1c-\\x1f, which Unicode's \\s matches and ASCII's
    does not). The regex engine tests a character against an ASCII class ([0-9], ASCII case folding) faster."""
    return text.isascii() and not any(c in text for c in "\x1c\x1d\x1e\x1f")


def gate_words(text: str, words: set[str] | None) -> set[str] | None:
    """The words a reader may skip a scan on (see :func:`may_say`): ``words`` (the text's
    :func:`distinct_words`), or None, no skipping, when the text has a letter that folds to ASCII."""
    return None if words is None or folds_to_ascii(text) else words


def may_say(words: set[str] | None, needed: frozenset[str]) -> bool:
    """False only when a scan that cannot match without one of the words ``needed`` can be skipped: the
    text (``words``, from :func:`gate_words`) has none of them. None: the words are not known."""
    return words is None or not words.isdisjoint(needed)


def word_scan(words: Iterable[str], word_chars: str = "A-Za-z0-9", *, whole: bool = True,
              also: tuple[str, str] | None = None) -> re.Pattern:
    """One pass over a text for a few known words (lower case ASCII), ASCII case-insensitive, the longest
    first at a place: not after one of ``word_chars`` and, when ``whole``, not before one either.
    ``also``: one more alternative and the characters it starts with ("[#@]", "#@"). Led by the
    characters the words start with, so the regex engine skips every other position. The readers of a
    long note build one from the words of the note they can use (its :func:`distinct_words`)."""
    alts = [re.escape(w) for w in sorted(words, key=len, reverse=True)]
    lead = "".join(sorted({w[0] for w in words}))
    if also is not None:
        alts.append(also[0])
        lead += also[1]
    tail = rf"(?![{word_chars}])" if whole else ""
    return re.compile(rf"(?=[{re.escape(lead)}])(?<![{word_chars}])(?:" + "|".join(alts) + ")" + tail, re.I | re.A)


# From this many characters, a note's readers cut their phrase tables down to the note's words (a table is
# then compiled per note; a shorter note is read with the whole tables, already compiled).
LONG_NOTE_CHARS = 20_000


class Phrase(NamedTuple):
    """One phrase of a :class:`WordAlternation`: its regex fragment; the words one of which it starts with
    (None: no fixed first word); the later words it cannot match without (one word of each group: "at\\s+home"
    needs "home"); and, for a phrase with no fixed first word, the runs of letters one of which it starts
    with ("q\\s?\\d+\\s?h" starts with the run "q" in "q4h" and in "q 4 h"; None: anything)."""

    first: frozenset[str] | None
    fragment: str
    later: tuple[frozenset[str], ...] = ()
    first_runs: frozenset[str] | None = None


def phrase(first: Iterable[str] | None, fragment: str, *later: Iterable[str], runs: Iterable[str] | None = None) -> Phrase:
    """A :class:`Phrase`: ``phrase(["at"], r"at\\s+home", ["home"])``."""
    return Phrase(None if first is None else frozenset(first), fragment, tuple(frozenset(g) for g in later),
                  None if runs is None else frozenset(runs))


class WordAlternation:
    """A case-insensitive alternation of phrases (regex fragments) that each start with one of a few known
    words, between word boundaries, in a fixed order of preference. :meth:`for_words` gives the alternation
    of only the phrases a text can hold (it has their first words and their later words), in the same
    order: it finds what the whole alternation finds there, and a long note is searched for a few phrases
    instead of all of them. :meth:`starts_for` tells where they can start.

    ``phrases``: :class:`Phrase` (see :func:`phrase`), or ``(first words, fragment)``. Every fragment starts
    with a letter, which leads the scan."""

    _CACHE_LIMIT = 256

    def __init__(self, phrases: Iterable[Phrase | tuple[Iterable[str] | None, str]]):
        self.phrases = tuple(p if isinstance(p, Phrase) else phrase(*p) for p in phrases)
        self._compiled: dict[tuple[int, ...], re.Pattern] = {}
        self.full = self._pattern(tuple(range(len(self.phrases))))

    def _kept(self, words: set[str]) -> tuple[int, ...]:
        runs = None
        keep = []
        for i, p in enumerate(self.phrases):
            if p.first is not None:
                if words.isdisjoint(p.first):
                    continue
            elif p.first_runs is not None:
                runs = letter_runs(words) if runs is None else runs
                if runs.isdisjoint(p.first_runs):
                    continue
            if any(words.isdisjoint(g) for g in p.later):
                continue
            keep.append(i)
        return tuple(keep)

    def for_words(self, words: set[str] | None) -> re.Pattern | None:
        """The alternation for a text with these words (:func:`gate_words`; None: all phrases); None when
        no phrase can match."""
        if words is None:
            return self.full
        keep = self._kept(words)
        return self._pattern(keep) if keep else None

    def starts_for(self, words: set[str]) -> tuple[set[str], set[str]] | None:
        """``(first words, first runs of letters)`` that a match of :meth:`for_words` in a text with these
        words starts with: every match starts at a place :func:`word_places` gives for the words, or for the
        runs (``letters``). None: a kept phrase has no fixed start."""
        firsts: set[str] = set()
        runs: set[str] = set()
        for i in self._kept(words):
            p = self.phrases[i]
            if p.first is not None:
                firsts |= p.first
            elif p.first_runs is not None:
                runs |= p.first_runs
            else:
                return None
        return firsts, runs

    def _pattern(self, keep: tuple[int, ...]) -> re.Pattern:
        hit = self._compiled.get(keep)
        if hit is None:
            frags = [self.phrases[i].fragment for i in keep]
            lead = "".join(sorted({f[0].lower() for f in frags} | {f[0].upper() for f in frags}))
            if len(self._compiled) >= self._CACHE_LIMIT:
                self._compiled.clear()
            # led by the letters the phrases start with: the regex engine skips every other position
            hit = self._compiled[keep] = re.compile(rf"(?=[{lead}])\b(?:" + "|".join(frags) + r")\b", re.I)
        return hit


_new_hit = tuple.__new__      # a hit made from its fields in C (a named tuple's own constructor is a Python function)


class NameHit(NamedTuple):
    start: int
    end: int
    text: str
    name: str          # the catalog name as written in the catalog


@dataclass(frozen=True)
class _Entry:
    canonical: str
    words: int
    name: str
    sensitive: bool
    tail: str          # punctuation after the last word: "%" in "NaCl 0.9%", ")" in "fluorouracil (5-FU)"
    # a name of several words: (whitespace after the first word?, the next character), a cheap test that
    # rejects most places before the words are read ("4 mg IVP" is no "Mg sulfate"); None: no test
    lead: tuple[bool, str] | None = None
    # the name's words (runs of ASCII letters and digits, lower case): a text without one of them cannot hold it
    word_set: frozenset[str] = frozenset()


class NameIndex:
    def __init__(self, names: Iterable[str]):
        by_first: dict[str, dict[str, _Entry]] = {}
        for raw in names:
            name = " ".join(raw.split())
            if len(name) < 2:
                continue
            words = _WORD.findall(name)
            if not words or not name[0].isalnum():
                continue
            last = list(_WORD.finditer(name))[-1]
            sensitive = len(name) <= SHORT_ABBREVIATION_LEN and name != name.lower()
            canon = canonical_name(name)
            key = canon + ("\x00" if sensitive else "")
            slot = by_first.setdefault(words[0].lower(), {})
            if key not in slot:
                rest = canon[len(words[0]):]
                nxt = rest.lstrip(" ")[:1]
                lead = (rest.startswith(" "), nxt) if len(words) > 1 and nxt.isascii() and nxt else None
                slot[key] = _Entry(canon, len(words), name, sensitive, canonical_name(name[last.end():]), lead,
                                   frozenset(w.lower() for w in words))
        # longest first, so "sodium chloride 0.9" wins over "sodium chloride"
        self._by_first = {k: sorted(v.values(), key=lambda e: (-len(e.canonical), e.sensitive))
                          for k, v in by_first.items()}

    def find(self, text: str, words: set[str] | None = None, *, every_name: bool = False) -> Iterator[NameHit]:
        """Non-overlapping hits, left to right, the longest name at each position.

        Only the words that can start a name the text can hold are visited: the distinct words of the text
        are looked up once, and word_places finds where they are. ``words``: the text's
        :func:`distinct_words`, when the caller has them. ``every_name``: look for the names the text cannot
        hold too (the reference the tests hold that cut against)."""
        if words is None:
            words = distinct_words(text)
        # the names the text can hold (it has all their words), by first word: a word that starts only names
        # the text cannot hold ("Mg" of "Mg sulfate" in "4 mg IVP") is not looked for
        firsts: dict[str, list[_Entry]] = {}
        for w in words:
            entries = self._by_first.get(w)
            if entries is not None:
                held = entries if every_name else [e for e in entries if e.word_set <= words]
                if held:
                    firsts[w] = held
        if not firsts:
            return
        deepest = max(e.words for held in firsts.values() for e in held)
        skip_to = 0
        for s, low in word_places(text, firsts, words):
            if s < skip_to:
                continue
            p = s + len(low)
            word_ends = None
            first = text[s:p]
            for e in firsts[low]:
                if e.words == 1 and not e.tail:
                    # the name is the word the scan found (same letters, any case): only its case may matter
                    if e.sensitive and first != e.name and not _VOLUME_AFTER.match(text, p):
                        continue
                    yield _new_hit(NameHit, (s, p, first, e.name))
                    skip_to = p
                    break
                if e.lead is not None:
                    spaced, lead = e.lead
                    q = p
                    if spaced:      # one space or more ("4 mg IVP" is no "Mg sulfate": one character decides)
                        if not text[p:p + 1].isspace():
                            continue
                        q = p + 1 if not text[p + 1:p + 2].isspace() else _SPACES.match(text, p).end()
                    if text[q:q + 1].lower()[:1] != lead:
                        continue
                if e.words == 1:
                    end = word_end = p         # the first word is the whole name: it ends where the scan's match does
                else:
                    if word_ends is None:
                        word_ends = [w.end() for w in itertools.islice(_WORD.finditer(text, s), deepest)]
                    if e.words > len(word_ends):
                        continue
                    end = word_end = word_ends[e.words - 1]
                if e.tail:
                    if text[end:end + len(e.tail)].lower() != e.tail or text[end + len(e.tail):end + len(e.tail) + 1].isalnum():
                        continue
                    end += len(e.tail)
                span = text[s:end]
                if span.lower() != e.canonical and canonical_name(span) != e.canonical:
                    continue
                if e.sensitive and " ".join(span.split()) != e.name and not _VOLUME_AFTER.match(text, end):
                    continue
                yield _new_hit(NameHit, (s, end, span, e.name))
                skip_to = word_end
                break
