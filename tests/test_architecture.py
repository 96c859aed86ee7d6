"""The floors of the house: every import in ``src/infucode`` runs down (or along a floor), never up,
never in a circle, and no private name (``_name``) is used outside the module that defines it.

Floors, lowest first (a module may import its own floor and any floor below):

1. model: the data model and its decoding, the shared vocabulary of words, option parsing;
2. reference: the tables and their loaders (no command line);
3. rules and ruleset;
4. engine (and the ``infucode`` package itself, which re-exports the engine);
5. adapters: formats in and out;
6. audit, batch (with Spark), knowledge;
7. web;
8. cli: ``infucode.cli``, ``infucode.cli_data``, ``infucode.cli_profiles``, ``infucode.cli_ruleset`` and every
   module named ``cli``.

The check reads the source with :mod:`ast` (every import, also those inside functions), so it needs
nothing installed and runs in well under a second.
"""
from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "infucode"

FLOORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("model", ("infucode.model", "infucode.decoding", "infucode.vocabulary", "infucode.options")),
    ("reference", ("infucode.reference",)),
    ("rules", ("infucode.rules", "infucode.ruleset")),
    ("engine", ("infucode.engine", "infucode")),
    ("adapters", ("infucode.adapters",)),
    ("audit, batch, knowledge", ("infucode.audit", "infucode.batch", "infucode.knowledge")),
    ("web", ("infucode.web",)),
    ("cli", ("infucode.cli", "infucode.cli_data", "infucode.cli_profiles", "infucode.cli_ruleset", "infucode.__main__")),
)
CLI_FLOOR = len(FLOORS) - 1

#: Private names of the standard library that are its public API (``os._exit``, namedtuple methods).
STDLIB_PRIVATE_API = frozenset({"_exit", "_getframe", "_replace", "_asdict", "_fields", "_make"})


# --------------------------------------------------------------------------------------------
# The checker
# --------------------------------------------------------------------------------------------


def module_name(path: Path, src: Path = SRC) -> str:
    parts = path.relative_to(src).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def floor_of(module: str) -> int | None:
    """The floor of a module, or None when it is on none (a new package must be given one)."""
    if module.rsplit(".", 1)[-1] == "cli":
        return CLI_FLOOR
    best: tuple[int, int] | None = None  # (length of the matching prefix, floor)
    for floor, (_name, prefixes) in enumerate(FLOORS):
        for prefix in prefixes:
            exact_only = prefix == PACKAGE  # the package itself, not everything in it
            if module == prefix or (not exact_only and module.startswith(prefix + ".")):
                if best is None or len(prefix) > best[0]:
                    best = (len(prefix), floor)
    return None if best is None else best[1]


class Import:
    """One import of an ``infucode`` module: where, what, and the names taken from it."""

    def __init__(self, source: str, target: str, names: tuple[str, ...], line: int):
        self.source, self.target, self.names, self.line = source, target, names, line

    def __repr__(self) -> str:
        return f"{self.source}:{self.line} -> {self.target} {list(self.names)}"


class Module:
    def __init__(self, name: str, text: str, is_package: bool):
        self.name = name
        self.package = name if is_package else name.rpartition(".")[0]
        self.tree = ast.parse(text)


def parse_modules(sources: dict[str, tuple[str, bool]]) -> dict[str, Module]:
    """``{module name: (source text, is a package)}`` -> parsed modules."""
    return {name: Module(name, text, is_package) for name, (text, is_package) in sources.items()}


def read_package(src: Path = SRC) -> dict[str, Module]:
    return parse_modules({module_name(p, src): (p.read_text(encoding="utf-8"), p.name == "__init__.py")
                          for p in sorted((src / PACKAGE).rglob("*.py"))})


def imports(mod: Module, known: set[str]) -> Iterable[Import]:
    """Every import of an ``infucode`` module in ``mod`` (also inside functions). ``from pkg import x``
    counts as an import of the module ``pkg.x`` when there is one, else of ``pkg``."""
    for node in ast.walk(mod.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                    yield Import(mod.name, alias.name, (), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = mod.package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not (target == PACKAGE or target.startswith(PACKAGE + ".")):
                continue
            plain = []
            for alias in node.names:
                if f"{target}.{alias.name}" in known:
                    yield Import(mod.name, f"{target}.{alias.name}", (), node.lineno)
                else:
                    plain.append(alias.name)
            if plain:
                yield Import(mod.name, target, tuple(plain), node.lineno)


def arrows_up(modules: dict[str, Module]) -> list[str]:
    known = set(modules)
    found = []
    for mod in modules.values():
        here = floor_of(mod.name)
        for imp in imports(mod, known):
            there = floor_of(imp.target)
            if here is not None and there is not None and there > here:
                found.append(f"{imp} (floor {FLOORS[here][0]} imports floor {FLOORS[there][0]})")
    return found


def circles(modules: dict[str, Module]) -> list[list[str]]:
    """Strongly connected sets of two or more modules (or one that imports itself), by Tarjan's algorithm."""
    known = set(modules)
    edges = {name: sorted({imp.target for imp in imports(mod, known) if imp.target in known})
             for name, mod in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1 or node in edges[node]:
                    found.append(sorted(group))
    return found


#: Libraries that belong to one floor and above: the command line to the cli floor, HTTP to the web floor.
FLOOR_LIBRARIES = {"typer": "cli", "click": "cli", "fastapi": "web", "starlette": "web", "uvicorn": "web"}


def libraries_too_low(modules: dict[str, Module]) -> list[str]:
    """Imports of a command-line or web library below the floor it belongs to (a CLI in the reference data)."""
    lowest = {lib: [name for name, _ in FLOORS].index(floor) for lib, floor in FLOOR_LIBRARIES.items()}
    found = []
    for mod in modules.values():
        here = floor_of(mod.name)
        for node in ast.walk(mod.tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                lib = name.split(".")[0]
                if lib in lowest and here is not None and here < lowest[lib]:
                    found.append(f"{mod.name}:{node.lineno} imports {lib} (floor {FLOORS[lowest[lib]][0]})")
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_crossings(modules: dict[str, Module]) -> list[str]:
    """Private names used outside their module: ``from m import _x`` (a private module ``pkg._x`` may be
    imported inside ``pkg``), and ``something._x`` on anything but ``self`` or ``cls``."""
    known = set(modules)
    found = []
    for mod in modules.values():
        for imp in imports(mod, known):
            last = imp.target.rsplit(".", 1)[-1]
            if _private(last) and not imp.names:
                owner = imp.target.rpartition(".")[0]
                if mod.name != owner and not mod.name.startswith(owner + "."):
                    found.append(f"{imp} (private module used outside its package)")
            for name in imp.names:
                if _private(name):
                    found.append(f"{imp} (private name {name})")
        for node in ast.walk(mod.tree):
            if (isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in STDLIB_PRIVATE_API
                    and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
                found.append(f"{mod.name}:{node.lineno} uses .{node.attr} of another object")
    return found


# --------------------------------------------------------------------------------------------
# The house
# --------------------------------------------------------------------------------------------

MODULES = read_package()


def test_every_module_is_on_a_floor():
    assert MODULES, "no module found under src/infucode"
    assert [m for m in MODULES if floor_of(m) is None] == []


def test_no_import_runs_up():
    assert arrows_up(MODULES) == []


def test_no_import_circle():
    assert circles(MODULES) == []


def test_no_private_name_crosses_a_module():
    assert private_crossings(MODULES) == []


def test_no_command_line_or_web_library_below_its_floor():
    assert libraries_too_low(MODULES) == []


# --------------------------------------------------------------------------------------------
# The checker finds what it is meant to find (so the tests above can fail)
# --------------------------------------------------------------------------------------------


def _house(**sources: str) -> dict[str, Module]:
    """Module name (dots written as ``__``) -> source; a name ending in ``__init`` is a package."""
    parsed = {}
    for key, text in sources.items():
        name = key.replace("__", ".")
        is_package = name.endswith(".init")
        parsed[name.removesuffix(".init")] = (text, is_package)
    return parse_modules(parsed)


@pytest.mark.parametrize("module, floor", [
    ("infucode.model", "model"), ("infucode.vocabulary.clock", "model"), ("infucode.reference.releases", "reference"),
    ("infucode.ruleset", "rules"), ("infucode.rules.timing", "rules"), ("infucode", "engine"),
    ("infucode.adapters.fhir", "adapters"), ("infucode.batch.spark", "audit, batch, knowledge"),
    ("infucode.audit.cli", "cli"), ("infucode.cli_data", "cli"), ("infucode.web.app", "web"),
])
def test_floors_as_documented(module, floor):
    assert FLOORS[floor_of(module)][0] == floor


def test_an_unknown_package_is_on_no_floor():
    assert floor_of("infucode.newthing.mod") is None


def test_checker_finds_an_arrow_up():
    house = _house(infucode__reference__releases="from ..ruleset import DatedTables\n",
                   infucode__ruleset="from .reference.codes import CodeTable\n")
    assert len(arrows_up(house)) == 1
    assert "infucode.reference.releases:1 -> infucode.ruleset" in arrows_up(house)[0]


def test_checker_finds_an_arrow_up_inside_a_function():
    house = _house(infucode__adapters__flat="def f():\n    from infucode.batch import runner\n",
                   infucode__batch__runner="")
    assert [a.split(" (")[0] for a in arrows_up(house)] == ["infucode.adapters.flat:2 -> infucode.batch.runner []"]


def test_checker_finds_a_circle_on_one_floor():
    house = _house(infucode__reference__ncci="from .cms_files import read_ptp_file\n",
                   infucode__reference__cms_files="from .ncci import PtpEdit\n",
                   infucode__reference__codes="")
    assert circles(house) == [["infucode.reference.cms_files", "infucode.reference.ncci"]]


def test_checker_finds_a_command_line_in_the_reference_data():
    house = _house(infucode__reference__data_cli="import typer\n", infucode__cli_data="import typer\n",
                   infucode__audit__cli="from typer import Option\n", infucode__web__app="import fastapi\n",
                   infucode__batch__runner="def f():\n    from fastapi import Request\n")
    assert [f.split(" ")[0] for f in libraries_too_low(house)] == ["infucode.reference.data_cli:1",
                                                                 "infucode.batch.runner:2"]


def test_checker_finds_private_names():
    house = _house(infucode__batch__runner="class _Sink: ...\n_STATE = {}\n",
                   infucode__batch__spark=("from infucode.batch.runner import _Sink\n"
                                           "from infucode.batch import runner\nrunner._STATE.clear()\n"),
                   infucode__knowledge__init="", infucode__knowledge___data="",
                   infucode__knowledge__topics="from infucode.knowledge import _data\n",
                   infucode__web__app="from infucode.knowledge import _data\n")
    found = private_crossings(house)
    assert len(found) == 3, found
    assert any("private name _Sink" in f for f in found)
    assert any("uses ._STATE" in f for f in found)
    assert any(f.startswith("infucode.web.app:1") for f in found)  # a private module outside its package
