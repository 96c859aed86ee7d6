"""Drug-name normalisation: the stages a written drug name goes through before it is looked up in the
catalog (case and punctuation, dose and form words, the diluent, salts, spacing, word order), so that
"Zofran 4 mg IVP", "ondansetron HCl", "0.9% sodium chloride" and "Flagyl (metronidazole)" reach
their catalog names. Core level, no IO; used by the drug catalog (infucode.reference.drugs) and by
readers of free text through it.
"""
from __future__ import annotations

import re

__all__ = ["BIOSIMILAR_SUFFIX", "BRACKETS", "UNNAMED_DRUG_WORDS", "clean_name", "exact_key", "name_stages", "number_tokens", "strip_diluent", "strip_forms",
           "strip_percent", "strip_salts"]

# Words that say a drug was given without naming it ("abx IVPB started"): the administration is read,
# and the drug is asked for; never matched to a catalog drug.
UNNAMED_DRUG_WORDS: dict[str, str] = {"abx": "antibiotic", "antibiotic": "antibiotic", "antibiotics": "antibiotic",
                                      "antibx": "antibiotic"}

UNICODE = str.maketrans({"½": " 1/2 ", "¼": " 1/4 ", "µ": "mc", "μ": "mc", "’": "'", "‘": "'",
                          "–": "-", "—": "-", "\u00a0": " "})
SPLIT_ALNUM = re.compile(r"(?<=[a-z])(?=\d)|(?<=[\d%])(?=[a-z])")
BAD_CHARS = re.compile(r"[^a-z0-9%./ ]+")
LONE_DOT = re.compile(r"(?<!\d)\.|\.(?!\d)")
LONE_SLASH = re.compile(r"(?<!\b1)/|/(?![234]\b)")      # keeps only 1/2, 1/3, 1/4
LONE_PCT = re.compile(r"(?<![\d])%")
SPACE_PCT = re.compile(r"(?<=\d)\s+%")
BRACKETS = re.compile(r"[(\[{]([^)\]}]*)[)\]}]")

DOSE = re.compile(
    r"\b\d+(?:\.\d+)?(?:\s*/\s*\d+(?:\.\d+)?)?\s*(?:million\s*)?"
    r"(?:mg|mgs|mcg|mcgs|ug|g|gm|gms|gram|grams|kg|ml|mls|cc|l|liter|liters|litre|litres|"
    r"unit|units|u|iu|meq|mmol|h|hr|hrs|hour|hours|min|mins|minute|minutes)\b"
)
TIMES = re.compile(r"\bx\s*\d+\b|\bq\s*\d+\s*h\b|\bm\s*2\b|\bauc\s*\d+(?:\.\d+)?\b")
FORM_WORDS = frozenset("""
    injection injections injectable inj iv ivp ivpb ivpush push piggyback infusion infusions infuse inf
    intravenous intravenously premix premixed solution soln sol usp bag bags vial vials bottle syringe
    prefilled pfs single multi dose doses sdv mdv pf preservative free lyophilized powder for bolus drip
    continuous sc subq subcut sq subcutaneous im intramuscular kit rate over at per each stat once prn
    daily po oral tab tabs tablet tablets mg mgs mcg mcgs ug kg ml mls cc units unit iu meq mmol hr hrs
    hour hours min mins minute minutes give given administer administered l
""".split())
TRAILING_NUMBER = re.compile(r"(?:(?<=[a-z]{2})|(?<=\bw)) \d+(?:\.\d+)?$")   # "Opdivo 480": a dose without unit
CONNECTORS = frozenset("and in with w".split())
PERCENT = re.compile(r"\b\d+(?:\.\d+)?%")
SALT_WORDS = frozenset("""
    hydrochloride hcl sodium sulfate sulphate succinate phosphate acetate calcium disodium tromethamine
    mesylate citrate tartrate bitartrate maleate dimeglumine edisylate pamoate fumarate hydrobromide
    besylate
""".split())
DILUENT = re.compile(
    r"\s+(?:in|with|w|into|diluted in|mixed in|added to)\s+"
    r"(?:\d+(?:\.\d+)?%\s*)?"
    r"(?:ns|nss|normal saline|saline|sodium chloride|nacl|d 5 w|d 5|dextrose(?: \d+%)?(?: in)?(?: water)?|"
    r"\d+% dextrose(?: in)?(?: water)?|sterile water|swfi|water|lr|lactated ringers?|ringers lactate|"
    r"1/2 ns|0\.45% nacl|0\.45% sodium chloride)\b.*$"
)
TRAILING_DILUENT = re.compile(r"\s+(?:ns|nss|d 5 w)$|\s+(?:in|with|w|into)$")
BIOSIMILAR_SUFFIX = re.compile(r"^(.*[a-z]) ([a-z]{4})$")   # "infliximab xyzz" (FDA 4-letter suffix)
NUMBERS = re.compile(r"\d+(?:\.\d+)?(?:/\d+)?%?")


def exact_key(text: str) -> str:
    return " ".join(text.lower().split())


def clean_name(text: str) -> str:
    """Stage A: case, unicode, apostrophes, punctuation; digits split from letters ("d5w" -> "d 5 w")."""
    s = text.lower().translate(UNICODE).replace("'", "")
    s = SPLIT_ALNUM.sub(" ", s)
    s = BAD_CHARS.sub(" ", s)
    s = LONE_DOT.sub(" ", s)
    s = LONE_SLASH.sub(" ", s)
    s = SPACE_PCT.sub("%", s)
    s = LONE_PCT.sub(" ", s)
    return " ".join(s.split())


def strip_forms(a: str) -> str:
    """Stage B: dose/volume tokens and route/form words removed."""
    s = DOSE.sub(" ", a)
    s = TIMES.sub(" ", s)
    s = " ".join(w for w in s.split() if w not in FORM_WORDS)
    return TRAILING_NUMBER.sub("", s)


FLUID_WORDS = frozenset("d dextrose saline ns nss nacl lr ringers lactated water".split())


def strip_diluent(b: str) -> str:
    """Stage B2: "<drug> in NS" -> "<drug>", unless what is left is itself a fluid or no drug name
    ("dextrose 5% in 0.9% NaCl" stays: it is D5NS, not D5W; "0.9% NS" stays)."""
    s = TRAILING_DILUENT.sub("", DILUENT.sub("", b)).strip()
    if s == b:
        return b
    words = s.split()
    if (not any(len(w) >= 3 and w.isalpha() for w in words) or any(w in FLUID_WORDS for w in words)
            or "sodium chloride" in s):
        return b
    return s


def strip_salts(b2: str) -> str:
    """Stage C: salt and ester words removed ("ondansetron hcl" -> "ondansetron")."""
    return " ".join(w for w in b2.split() if w not in SALT_WORDS)


def name_stages(text: str) -> tuple[str, str, str, str, str, str]:
    """A clean, B forms/doses, B2 diluent, C salts, D compact, E token-sorted."""
    a = clean_name(text)
    b = strip_forms(a)
    b2 = strip_diluent(b)
    c = strip_salts(b2)
    d = c.replace(" ", "")
    e = " ".join(sorted(w for w in c.split() if w not in CONNECTORS))
    return a, b, b2, c, d, e


def strip_percent(c: str) -> str:
    """Stage P (input only): concentration tokens removed ("IVIG 10%" -> "ivig")."""
    return " ".join(PERCENT.sub(" ", c).split())


def number_tokens(s: str) -> tuple[str, ...]:
    return tuple(sorted(NUMBERS.findall(s)))
