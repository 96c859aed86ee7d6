"""The drug catalog: generic and brand names, abbreviations, HCPCS codes with billing units, and
the administration family each drug takes. Matching is tolerant of case, salt names and spelling
slips; a fuzzy match says so and never selects an HCPCS code.

Data lives in ``data/drugs.yaml`` (one entry per active ingredient; biosimilars share the key).

Matching (``DrugCatalog.match``), in order, first hit wins; results are memoised per input string:

1. ``exact``      the text equals (case-insensitive, whitespace collapsed) a key, name, alias or a
                  code's ``names`` entry.
2. ``normalized`` the text equals a name after cleaning, tried in stages so that fluids such as
                  "0.9% sodium chloride" are found before salt words are stripped:
                  A punctuation/case ("Solu Medrol", "D5-W"),
                  B route/form words and dose/volume tokens removed ("ondansetron 4 mg IVPB"),
                  B2 a trailing diluent removed ("KCl 20 mEq in NS 1000 mL"),
                  C salt words removed ("ondansetron HCl"), D spaces removed ("solumedrol"),
                  E words sorted ("normal saline 0.9%"), P (input only) a concentration dropped
                  for drugs that are not fluids ("IVIG 10%"; never "dextrose 10%" -> D5W).
                  Bracketed text is tried on its own ("Remicade (infliximab)"): every part that
                  matches must name the same drug; a part naming a specific code wins.
3. ``fuzzy``      rapidfuzz ``fuzz.ratio`` >= ``FUZZY_CUTOFF`` on the stage-C form (4+ characters),
                  only when the numbers in both strings agree, the runner-up from another drug is
                  clearly worse, and never onto a fluid or flush ("D5 1/4 NS" is not "D5 1/2 NS");
                  an unknown biosimilar suffix ("infliximab-xyzz") is fuzzy too. ``hcpcs`` is None.

The HCPCS code a name selects: a code's ``names`` entry selects that code; any other name selects
the drug's default code (its first code that is not terminated).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterator, Literal

import yaml

from ..vocabulary import drug_names as _names  # the name-normalisation stages (shared vocabulary)

# CONTRACT (filled in by the drug-catalog work; the engine relies on these names):


@dataclass(frozen=True, slots=True)
class BillingUnit:
    amount: float       # e.g. 10
    unit: str           # canonical: "mg", "mcg", "g", "units", "meq", "ml"


@dataclass(frozen=True, slots=True)
class HcpcsCode:
    code: str                   # "J9312"
    billing_unit: BillingUnit
    description: str            # CMS HCPCS long description (public domain)
    added: str | None = None    # YYYY-MM-DD
    terminated: str | None = None
    names: tuple[str, ...] = ()             # names that select this code (biosimilar / brand)
    unconfirmed: str | None = None          # what about this code could not be confirmed
    mue_practitioner: int | None = None     # MUE 07-01-2024 [S1-MUE], None = not in the CSV
    mue_hospital: int | None = None


@dataclass(frozen=True, slots=True)
class Drug:
    key: str                          # active ingredient; the same key = the same drug
    name: str                         # display name
    family: str                       # "chemotherapy" | "therapeutic" | "hydration"
    complex_biologic: bool = False    # monoclonal antibody / complex biologic outside oncology
    payer_dependent: bool = False     # family decided by the profile's complex-biologic policy (e.g. infliximab)
    hormonal: bool = False            # hormonal anti-neoplastic (96402 by SC/IM for cancer)
    electrolyte: bool = False         # family decided by indication (deficiency vs dehydration)
    hcpcs: tuple[HcpcsCode, ...] = ()
    source: str = ""
    unconfirmed: str | None = None
    aliases: tuple[str, ...] = ()
    flush: bool = False               # line flush/lock: part of the administration, never reported alone
    note: str | None = None           # confirmed remark for coders (e.g. how the code depends on the bag)

    @property
    def default_hcpcs(self) -> HcpcsCode | None:
        """The code a generic/brand name selects: the first code that is not terminated."""
        for c in self.hcpcs:
            if c.terminated is None:
                return c
        return None


@dataclass(frozen=True, slots=True)
class DrugMatch:
    drug: Drug
    text: str                                    # what the user wrote
    how: Literal["exact", "normalized", "fuzzy", "hcpcs"]
    score: float                                 # 100 for exact
    hcpcs: HcpcsCode | None                      # the code this name selects; None for a fuzzy match


FAMILIES = frozenset({"chemotherapy", "therapeutic", "hydration"})
UNITS = frozenset({"mg", "mcg", "g", "units", "meq", "ml"})
FUZZY_CUTOFF = 86.0        # fuzz.ratio; "ondansteron" -> 90.9, "vinblastine"/"vincristine" -> 72.7
FUZZY_MARGIN = 3.0         # best must beat the best other drug by this much
FUZZY_MIN_LEN = 4
MEMO_LIMIT = 200_000       # distinct input strings remembered before the memo is reset

_CODE_RE = re.compile(r"^[A-Z][0-9]{4}$")

# ----------------------------------------------------------------------------- normalisation
# (moved to infucode.vocabulary.drug_names; the catalog's names for them)
_BRACKETS = _names.BRACKETS
_BIOSIMILAR_SUFFIX = _names.BIOSIMILAR_SUFFIX
_exact_key = _names.exact_key
_stages = _names.name_stages
_strip_percent = _names.strip_percent
_numbers = _names.number_tokens


# ----------------------------------------------------------------------------- catalog


@dataclass(frozen=True, slots=True)
class _Entry:
    drug: Drug
    code: HcpcsCode | None      # the code this name selects
    specific: bool              # True when the name is a code's `names` entry
    priority: int               # 0 = the name is already in this stage's form; 1 = it was reduced


_AMBIGUOUS = object()
_MISS = object()


def _default_path():
    try:
        return resources.files("infucode.reference.data").joinpath("drugs.yaml")
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - unusual installs
        return Path(__file__).with_name("data") / "drugs.yaml"


def _load_yaml(path) -> dict:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    if path is None:
        text = _default_path().read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return yaml.load(text, Loader=loader)


def _tuple(v) -> tuple[str, ...]:
    return tuple(str(x) for x in (v or ()))


def _drug_from(raw: dict, where: str) -> Drug:
    try:
        key = str(raw["key"])
        family = str(raw["family"])
    except KeyError as exc:
        raise ValueError(f"{where}: missing field {exc}") from None
    if family not in FAMILIES:
        raise ValueError(f"{where} ({key}): family {family!r} is not one of {sorted(FAMILIES)}")
    codes = []
    for i, rc in enumerate(raw.get("hcpcs") or ()):
        code = str(rc["code"]).strip().upper()
        if not _CODE_RE.match(code):
            raise ValueError(f"{where} ({key}): malformed HCPCS code {code!r}")
        bu = rc["billing_unit"]
        unit = str(bu["unit"])
        if unit not in UNITS:
            raise ValueError(f"{where} ({key}) {code}: unit {unit!r} is not one of {sorted(UNITS)}")
        amount = float(bu["amount"])
        if amount <= 0:
            raise ValueError(f"{where} ({key}) {code}: billing amount must be positive")
        codes.append(HcpcsCode(
            code=code,
            billing_unit=BillingUnit(amount=amount, unit=unit),
            description=str(rc["description"]),
            added=rc.get("added"),
            terminated=rc.get("terminated"),
            names=_tuple(rc.get("names")),
            unconfirmed=rc.get("unconfirmed"),
            mue_practitioner=rc.get("mue_practitioner"),
            mue_hospital=rc.get("mue_hospital"),
        ))
    return Drug(
        key=key,
        name=str(raw.get("name") or key),
        family=family,
        complex_biologic=bool(raw.get("complex_biologic", False)),
        payer_dependent=bool(raw.get("payer_dependent", False)),
        hormonal=bool(raw.get("hormonal", False)),
        electrolyte=bool(raw.get("electrolyte", False)),
        hcpcs=tuple(codes),
        source=str(raw.get("source") or ""),
        unconfirmed=raw.get("unconfirmed"),
        aliases=_tuple(raw.get("aliases")),
        flush=bool(raw.get("flush", False)),
        note=raw.get("note"),
    )


def _no_fuzzy(drug: Drug) -> bool:
    """Fluids (and saline look-alikes) never match fuzzily: one letter turns LR into water or NS
    into 1/2NS, so their names must match exactly or after normalisation."""
    return drug.family == "hydration" or drug.flush or drug.key == "hypertonic_saline"


class DrugCatalog:
    """Indexed drug catalog. ``DrugCatalog.load()`` reads the bundled release (once per process)."""

    release: str

    _bundled: "DrugCatalog | None" = None

    def __init__(self, drugs, release: str, source: str = ""):
        self.release = release
        self.source = source
        self._drugs: tuple[Drug, ...] = tuple(drugs)
        self._by_key: dict[str, Drug] = {}
        self._by_code: dict[str, tuple[Drug, HcpcsCode]] = {}
        self._exact: dict[str, _Entry] = {}
        self._stage: tuple[dict, ...] = ({}, {}, {}, {}, {}, {})
        self._percent: dict = {}        # stage P: digit-free stage-C forms of non-fluid drugs
        self._memo: dict[str, DrugMatch | None] = {}
        self._ambiguous: set[tuple[int, str]] = set()
        self._build()

    # ------------------------------------------------------------------ construction

    @classmethod
    def load(cls, path=None) -> "DrugCatalog":
        """Load a catalog file; ``path=None`` loads the bundled ``data/drugs.yaml`` (cached)."""
        if path is None and cls._bundled is not None:
            return cls._bundled
        raw = _load_yaml(path)
        if not isinstance(raw, dict) or "drugs" not in raw:
            raise ValueError("drug catalog: top level must be a mapping with 'drugs'")
        drugs = [_drug_from(d, f"drugs[{i}]") for i, d in enumerate(raw["drugs"])]
        cat = cls(drugs, release=str(raw.get("release", "")), source=str(raw.get("source", "")))
        if path is None:
            cls._bundled = cat
        return cat

    def _build(self) -> None:
        for drug in self._drugs:
            if drug.key in self._by_key:
                raise ValueError(f"drug catalog: duplicate key {drug.key!r}")
            self._by_key[drug.key] = drug
            for c in drug.hcpcs:
                if c.code in self._by_code:
                    other = self._by_code[c.code][0].key
                    raise ValueError(f"drug catalog: HCPCS {c.code} used by {other!r} and {drug.key!r}")
                self._by_code[c.code] = (drug, c)

        for drug in self._drugs:
            default = drug.default_hcpcs
            names: list[tuple[str, HcpcsCode | None, bool]] = []
            for n in (drug.key, drug.key.replace("_", " "), drug.name, *drug.aliases):
                names.append((n, default, False))
            for c in drug.hcpcs:
                for n in c.names:
                    names.append((n, c, True))
            for text, code, specific in names:
                self._add_exact(_exact_key(text), _Entry(drug, code, specific, 0))
                stages = _stages(text)
                prio = 0 if stages[3] == stages[0] else 1      # 0: the name needed no reduction
                entry = _Entry(drug, code, specific, prio)
                for level, form in enumerate(stages):
                    if form:
                        self._add_stage(self._stage[level], level, form, entry)
                c = stages[3]
                if c and not re.search(r"\d", c) and drug.family != "hydration" and drug.key != "hypertonic_saline":
                    self._add_stage(self._percent, 9, c, entry)

        # fuzzy choices: stage-C forms that name one drug
        table_c = self._stage[3]
        self._fuzzy_keys: list[str] = []
        self._fuzzy_entries: list[_Entry] = []
        for form, entry in table_c.items():
            if entry is _AMBIGUOUS or len(form) < FUZZY_MIN_LEN or _no_fuzzy(entry.drug):
                continue
            self._fuzzy_keys.append(form)
            self._fuzzy_entries.append(entry)
        self._fuzzy_numbers = [_numbers(k) for k in self._fuzzy_keys]

    def _add_exact(self, key: str, entry: _Entry) -> None:
        old = self._exact.get(key)
        if old is None:
            self._exact[key] = entry
        elif old.drug is not entry.drug:
            raise ValueError(f"drug catalog: name {key!r} is used by {old.drug.key!r} and {entry.drug.key!r}")
        elif entry.specific and not old.specific:
            raise ValueError(f"drug catalog: name {key!r} is both a name of {entry.drug.key!r} and a code name")

    def _add_stage(self, table: dict, level: int, form: str, entry: _Entry) -> None:
        old = table.get(form)
        if old is None:
            table[form] = entry
            return
        if old is _AMBIGUOUS:
            return
        if entry.priority < old.priority:
            table[form] = entry
        elif entry.priority > old.priority:
            return
        elif old.drug is not entry.drug:
            table[form] = _AMBIGUOUS
            self._ambiguous.add((level, form))
        elif old.code is not entry.code and old.specific and not entry.specific:
            table[form] = entry          # same drug, two codes: the generic default wins

    # ------------------------------------------------------------------ container protocol

    def __len__(self) -> int:
        return len(self._drugs)

    def __iter__(self) -> Iterator[Drug]:
        return iter(self._drugs)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    @property
    def drugs(self) -> tuple[Drug, ...]:
        return self._drugs

    def get(self, key: str) -> Drug | None:
        """The drug with this catalog key (e.g. ``"immune_globulin"``)."""
        return self._by_key.get(key)

    def ambiguous_forms(self) -> list[tuple[int, str]]:
        """Normalised forms (stage, text) that two drugs share; such forms never match."""
        return sorted(self._ambiguous)

    # ------------------------------------------------------------------ lookups

    def by_hcpcs(self, code: str) -> tuple[Drug, HcpcsCode] | None:
        if not code:
            return None
        return self._by_code.get(code.strip().upper())

    def code_for_volume(self, drug: Drug, volume_ml: float | None) -> HcpcsCode | None:
        """For a fluid billed per volume: the active code whose unit equals the bag volume
        (NS 250 -> J7050, 500 -> J7040, 1000 -> J7030), else the default code."""
        if volume_ml is not None:
            for c in drug.hcpcs:
                if c.terminated is None and c.billing_unit.unit == "ml" and c.billing_unit.amount == volume_ml:
                    return c
        return drug.default_hcpcs

    def match(self, name: str) -> DrugMatch | None:
        memo = self._memo
        hit = memo.get(name, _MISS)
        if hit is not _MISS:
            return hit
        result = self._match(name) if isinstance(name, str) else None
        if len(memo) >= MEMO_LIMIT:
            memo.clear()
        memo[name] = result
        return result

    def _match(self, text: str) -> DrugMatch | None:
        key = _exact_key(text)
        if not key:
            return None
        entry = self._exact.get(key)
        if entry is not None:
            return DrugMatch(entry.drug, text, "exact", 100.0, entry.code)

        entry = self._lookup_stages(text)
        if entry is _AMBIGUOUS:
            return None
        if entry is not None:
            return DrugMatch(entry.drug, text, "normalized", 100.0, entry.code)

        # bracketed text: "Remicade (infliximab)", "infliximab (Inflectra)"
        parts = self._parts(text)
        if parts:
            hits = [e for e in (self._lookup_stages(p) for p in parts) if e is not None]
            if any(e is _AMBIGUOUS for e in hits):
                return None
            if hits:
                drugs = {id(e.drug) for e in hits}
                if len(drugs) > 1:
                    return None
                best = next((e for e in hits if e.specific), hits[0])
                return DrugMatch(best.drug, text, "normalized", 100.0, best.code)

        return self._fuzzy(text, parts)

    @staticmethod
    def _parts(text: str) -> list[str]:
        inner = _BRACKETS.findall(text)
        if not inner:
            return []
        outer = _BRACKETS.sub(" ", text)
        return [p for p in (outer, *inner) if p.strip()]

    def _lookup_stages(self, text: str):
        exact = self._exact.get(_exact_key(text))
        if exact is not None:
            return exact
        stages = _stages(text)
        for level, form in enumerate(stages):
            if not form:
                continue
            entry = self._stage[level].get(form)
            if entry is not None:
                return entry
        if "%" in stages[3]:
            p = _strip_percent(stages[3])
            if p and not re.search(r"\d", p):
                return self._percent.get(p)
        return None

    def _fuzzy(self, text: str, parts: list[str]) -> DrugMatch | None:
        from rapidfuzz import fuzz, process

        queries = [_stages(p)[3] for p in (parts or [text])]
        best: tuple[float, _Entry] | None = None
        for q in queries:
            if len(q) < FUZZY_MIN_LEN:
                continue
            # an unknown biosimilar suffix ("infliximab-xyzz"): the drug is known, the code is not
            m = _BIOSIMILAR_SUFFIX.match(q)
            if m is not None:
                entry = self._stage[3].get(m.group(1))
                if entry is not None and entry is not _AMBIGUOUS and entry.drug.key.replace("_", " ") == m.group(1):
                    score = fuzz.ratio(q, m.group(1))
                    if best is None or score > best[0]:
                        best = (score, entry)
                    continue
            qnum = _numbers(q)
            found = process.extract(q, self._fuzzy_keys, scorer=fuzz.ratio, limit=8,
                                    score_cutoff=FUZZY_CUTOFF - FUZZY_MARGIN)
            ranked = [(score, self._fuzzy_entries[i]) for _, score, i in found
                      if self._fuzzy_numbers[i] == qnum]
            if not ranked or ranked[0][0] < FUZZY_CUTOFF:
                continue
            top_score, top = ranked[0]
            rival = next((s for s, e in ranked[1:] if e.drug is not top.drug), None)
            if rival is not None and top_score - rival < FUZZY_MARGIN:
                continue
            if best is None or top_score > best[0]:
                best = (top_score, top)
        if best is None:
            return None
        return DrugMatch(best[1].drug, text, "fuzzy", float(best[0]), None)
