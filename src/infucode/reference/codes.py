"""The drug-administration code table (CPT 96360-96549): our own descriptions, family, kind,
add-on primaries, wRVU, MUE/MAI, with the source of every value.

Data lives in ``data/codes_<release>.yaml``; CMS quarterly/annual files can replace the MUE and
wRVU columns (see ``cms_files``). Loaded once per process and indexed by code.

    table = CodeTable.load()
    table["96366"].primaries                  # frozenset({'96360', '96365', '96367', '96413'})
    table.mue("96366", "facility").value      # 24
    from infucode.reference import cms_files
    newer = table.with_mue(cms_files.read_mue_file(prac_csv), cms_files.read_mue_file(oph_csv), "2025Q1")
"""
from __future__ import annotations

import importlib.resources
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

import yaml

# CONTRACT (filled in by the reference-data work; the engine relies on these names):


@dataclass(frozen=True, slots=True)
class Mue:
    value: int | None          # None = no MUE published
    mai: int | None            # 1 line edit, 2 date of service absolute, 3 date of service clinical
    rationale: str | None = None
    source: str = "S1-MUE"


@dataclass(frozen=True, slots=True)
class Related:
    """A neighbouring code and, in our own words, how it differs."""

    code: str
    how_it_differs: str


@dataclass(frozen=True, slots=True)
class CodeInfo:
    code: str
    description: str                  # our own words, never AMA descriptor text
    family: str                       # "hydration" | "therapeutic" | "chemotherapy" | "access" (96521-96523) | "other"
    kind: str                         # e.g. "initial_infusion", "added_hour", "sequential_infusion", ...
    add_on: bool
    primaries: frozenset[str]         # eligible primary codes (CMS add-on code edits); empty if not add-on
    wrvu: float | None                # None = not confirmed
    mue_practitioner: Mue
    mue_hospital: Mue
    pfs_status: str | None = None     # "A", "X", "T", ...
    min_minutes: int | None = None    # minimum documented minutes for the code, if timed
    sources: dict[str, str] = field(default_factory=dict)   # field name -> source key
    unconfirmed: tuple[str, ...] = ()  # field names whose value nobody could confirm
    effective_year: int = 2024
    # --- additions (all defaulted) ---
    time_rule: str | None = None      # short own-words statement of the time/unit rule
    global_days: str | None = None    # PFS global period: "XXX", "ZZZ" (add-on), ...
    related: tuple[Related, ...] = ()
    documentation: tuple[str, ...] = ()   # what the record must show (main codes)
    denials: tuple[str, ...] = ()         # common denial reasons (main codes)
    notes: tuple[str, ...] = ()           # provenance notes, e.g. "kept the 2024Q3 value"

    def is_confirmed(self, field_name: str) -> bool:
        return field_name not in self.unconfirmed

    def mue(self, claim: str) -> Mue:
        """MUE for a claim type: "professional" -> practitioner table, "facility" -> hospital."""
        return self.mue_practitioner if _claim_column(claim) == "mue_practitioner" else self.mue_hospital


FAMILIES = frozenset({"hydration", "therapeutic", "chemotherapy", "access", "other"})
KINDS = frozenset({
    "initial_infusion", "added_hour", "sequential_infusion", "concurrent_infusion", "initial_push",
    "sequential_push", "same_drug_push", "injection", "added_site", "on_body_injector",
    "prolonged_pump", "intralesional", "intracavitary", "intrathecal", "pump_refill",
    "port_irrigation", "unlisted",
})
_FIELDS = frozenset({
    "description", "family", "kind", "add_on", "primaries", "wrvu", "mue_practitioner",
    "mue_hospital", "pfs_status", "min_minutes", "time_rule", "global_days", "effective_year",
    "related", "documentation", "denials",
})
_CLAIMS = {"professional": "mue_practitioner", "facility": "mue_hospital"}

DEFAULT_FILE = "codes_2024.yaml"
DATA_PACKAGE = "infucode.reference.data"


def _claim_column(claim: str) -> str:
    try:
        return _CLAIMS[claim]
    except (KeyError, TypeError):
        raise ValueError(f"claim must be 'professional' or 'facility', not {claim!r}") from None


class CodeTable:
    """Indexed code table. ``CodeTable.load()`` reads the bundled release.

    The table is immutable: ``with_mue`` / ``with_wrvu`` return a new table. ``release`` names the
    bundled data release, extended with ``+mue:<release>`` / ``+wrvu:<release>`` after a CMS file
    replaced a column; ``values_as_of`` says which vintage each numeric column holds.
    """

    __slots__ = ("release", "values_as_of", "_codes")

    release: str

    def __init__(self, codes: Iterable[CodeInfo], release: str,
                 values_as_of: Mapping[str, str] | None = None) -> None:
        ordered = sorted(codes, key=lambda c: c.code)
        self._codes: Mapping[str, CodeInfo] = MappingProxyType({c.code: c for c in ordered})
        self.release = release
        self.values_as_of: Mapping[str, str] = MappingProxyType(dict(values_as_of or {}))

    # ---------------------------------------------------------------- loading
    @classmethod
    def load(cls, path=None) -> "CodeTable":
        """Read a code table YAML; ``path=None`` reads the bundled release (cached per process)."""
        if path is None:
            global _DEFAULT
            if _DEFAULT is None:
                resource = importlib.resources.files(DATA_PACKAGE) / DEFAULT_FILE
                _DEFAULT = cls._from_text(resource.read_text(encoding="utf-8"), f"{DATA_PACKAGE}/{DEFAULT_FILE}")
            return _DEFAULT
        p = Path(path)
        return cls._from_text(p.read_text(encoding="utf-8"), str(p))

    @classmethod
    def _from_text(cls, text: str, where: str) -> "CodeTable":
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        doc = yaml.load(text, Loader=loader)
        if not isinstance(doc, dict) or not isinstance(doc.get("codes"), dict):
            raise ValueError(f"{where}: expected a mapping with a 'codes' mapping")
        release = doc.get("release")
        if not isinstance(release, str) or not release:
            raise ValueError(f"{where}: 'release' must be a non-empty string")
        values_as_of = {str(k): str(v) for k, v in (doc.get("values_as_of") or {}).items()}
        codes = [_parse_code(str(code), entry, where) for code, entry in doc["codes"].items()]
        return cls(codes, release, values_as_of)

    # ---------------------------------------------------------------- lookup
    def __getitem__(self, code: str) -> CodeInfo:
        try:
            return self._codes[code]
        except (KeyError, TypeError):
            raise KeyError(f"{code!r} is not a drug-administration code in release {self.release}") from None

    def get(self, code: str) -> CodeInfo | None:
        try:
            return self._codes.get(code)
        except TypeError:
            return None

    def __contains__(self, code: object) -> bool:
        try:
            return code in self._codes
        except TypeError:
            return False

    def __iter__(self) -> Iterator[CodeInfo]:
        return iter(self._codes.values())

    def __len__(self) -> int:
        return len(self._codes)

    def __repr__(self) -> str:
        return f"CodeTable(release={self.release!r}, codes={len(self)})"

    def codes(self) -> tuple[str, ...]:
        """All codes, in code order."""
        return tuple(self._codes)

    @property
    def by_code(self) -> Mapping[str, CodeInfo]:
        """The table as a read-only mapping code -> CodeInfo (one dict lookup, for the engine's hot path)."""
        return self._codes

    def mue(self, code: str, claim: str) -> Mue:
        """MUE for ``code``: claim "professional" -> practitioner table, "facility" -> outpatient hospital."""
        return getattr(self[code], _claim_column(claim))

    def add_ons_for(self, primary: str) -> tuple[str, ...]:
        """Add-on codes that may be reported with ``primary`` (CMS add-on code edits)."""
        return tuple(c.code for c in self if primary in c.primaries)

    # ---------------------------------------------------------------- replacing columns
    def with_mue(self, practitioner: dict[str, Mue] | None, hospital: dict[str, Mue] | None,
                 release: str) -> "CodeTable":
        """A new table whose MUE columns come from CMS MUE files (``cms_files.read_mue_file``).

        ``None`` leaves that column alone. Codes missing from a supplied file keep their value and get
        a note saying so.
        """
        columns = {"mue_practitioner": practitioner, "mue_hospital": hospital}
        new = [self._replace_columns(info, columns, release) for info in self]
        as_of = dict(self.values_as_of)
        if practitioner is not None and hospital is not None:
            as_of["mue"] = release
            as_of.pop("mue_practitioner", None)
            as_of.pop("mue_hospital", None)
        elif practitioner is not None:
            as_of["mue_practitioner"] = release
        elif hospital is not None:
            as_of["mue_hospital"] = release
        else:
            return self
        return CodeTable(new, f"{self.release}+mue:{release}", as_of)

    def with_wrvu(self, values: dict[str, float], release: str) -> "CodeTable":
        """A new table whose wRVU column comes from a CMS PPRRVU file (``cms_files.read_pfs_rvu_file``).

        Codes missing from the file keep their value and get a note saying so.
        """
        new = [self._replace_columns(info, {"wrvu": values}, release, source="CMS-RVU-FILE") for info in self]
        as_of = dict(self.values_as_of)
        as_of["wrvu"] = release
        return CodeTable(new, f"{self.release}+wrvu:{release}", as_of)

    def _replace_columns(self, info: CodeInfo, columns: Mapping[str, Mapping | None], release: str,
                         source: str | None = None) -> CodeInfo:
        changes: dict = {}
        sources = dict(info.sources)
        unconfirmed = list(info.unconfirmed)
        notes = list(info.notes)
        for name, table in columns.items():
            if table is None:
                continue
            if info.code in table:
                value = table[info.code]
                changes[name] = value
                sources[name] = value.source if isinstance(value, Mue) else (source or sources.get(name, ""))
                if name in unconfirmed:
                    unconfirmed.remove(name)
            else:
                old = self.values_as_of.get(name) or self.values_as_of.get(name.split("_")[0]) or self.release
                notes.append(f"{name}: not in the CMS file for {release}; kept the value as of {old}")
        if not changes and len(notes) == len(info.notes):
            return info
        return replace(info, **changes, sources=sources, unconfirmed=tuple(unconfirmed), notes=tuple(notes))


_DEFAULT: CodeTable | None = None


# -------------------------------------------------------------------- YAML parsing helpers
def _parse_code(code: str, entry: object, where: str) -> CodeInfo:
    def fail(msg: str) -> ValueError:
        return ValueError(f"{where}: code {code}: {msg}")

    if not isinstance(entry, dict):
        raise fail("entry must be a mapping")
    required = ("description", "family", "kind", "add_on", "primaries", "wrvu", "mue", "sources")
    missing = [k for k in required if k not in entry]
    if missing:
        raise fail(f"missing {', '.join(missing)}")
    description = entry["description"]
    if not isinstance(description, str) or not description.strip():
        raise fail("description must be non-empty text")
    if entry["family"] not in FAMILIES:
        raise fail(f"family {entry['family']!r} is not one of {sorted(FAMILIES)}")
    if entry["kind"] not in KINDS:
        raise fail(f"kind {entry['kind']!r} is not one of {sorted(KINDS)}")
    if not isinstance(entry["add_on"], bool):
        raise fail("add_on must be true or false")
    primaries = frozenset(str(p) for p in (entry["primaries"] or ()))
    if primaries and not entry["add_on"]:
        raise fail("only add-on codes have primaries")
    wrvu = entry["wrvu"]
    if wrvu is not None and (isinstance(wrvu, bool) or not isinstance(wrvu, (int, float))):
        raise fail(f"wrvu must be a number or null, not {wrvu!r}")
    mue = entry["mue"]
    if not isinstance(mue, dict) or set(mue) != {"practitioner", "hospital"}:
        raise fail("mue must have exactly 'practitioner' and 'hospital'")
    sources = entry["sources"]
    if not isinstance(sources, dict) or not sources:
        raise fail("sources must be a non-empty mapping of field -> source key")
    sources = {str(k): str(v) for k, v in sources.items()}
    unconfirmed = tuple(str(u) for u in (entry.get("unconfirmed") or ()))
    unknown = [u for u in unconfirmed if u not in _FIELDS]
    if unknown:
        raise fail(f"unconfirmed names unknown fields {unknown}")
    related = tuple(Related(str(r["code"]), str(r["how_it_differs"])) for r in (entry.get("related") or ()))
    min_minutes = entry.get("min_minutes")
    if min_minutes is not None and (isinstance(min_minutes, bool) or not isinstance(min_minutes, int)):
        raise fail("min_minutes must be an integer or null")
    return CodeInfo(
        code=code,
        description=" ".join(description.split()),
        family=entry["family"],
        kind=entry["kind"],
        add_on=entry["add_on"],
        primaries=primaries,
        wrvu=None if wrvu is None else float(wrvu),
        mue_practitioner=_parse_mue(mue["practitioner"], sources.get("mue_practitioner"), fail),
        mue_hospital=_parse_mue(mue["hospital"], sources.get("mue_hospital"), fail),
        pfs_status=entry.get("pfs_status"),
        min_minutes=min_minutes,
        sources=sources,
        unconfirmed=unconfirmed,
        effective_year=int(entry.get("effective_year", 2024)),
        time_rule=" ".join(entry["time_rule"].split()) if entry.get("time_rule") else None,
        global_days=entry.get("global_days"),
        related=related,
        documentation=tuple(str(d) for d in (entry.get("documentation") or ())),
        denials=tuple(str(d) for d in (entry.get("denials") or ())),
    )


def _parse_mue(raw: object, source: str | None, fail) -> Mue:
    if not isinstance(raw, dict) or not {"value", "mai"} <= set(raw):
        raise fail("each MUE needs value and mai")
    value, mai = raw["value"], raw["mai"]
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise fail(f"MUE value must be a non-negative integer or null, not {value!r}")
    if mai is not None and mai not in (1, 2, 3):
        raise fail(f"MAI must be 1, 2, 3 or null, not {mai!r}")
    if source is None:
        # a null MUE without a cited source is our own choice to leave the value unknown
        source = "S1-MUE" if value is not None else "INFUCODE"
    return Mue(value=value, mai=mai, rationale=raw.get("rationale"), source=source)
