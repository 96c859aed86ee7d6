"""Shared test setup."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def generator():
    """benchmarks/generate.py (not a package): the seeded generator of synthetic encounters."""
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "benchmarks" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True, scope="session")
def _no_user_cms_data(tmp_path_factory):
    """``infucode audit`` reads CMS files imported into the user data directory; point it at an empty
    directory so a developer's own imports never change a test's result."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INFUCODE_DATA_DIR", str(tmp_path_factory.mktemp("no-imported-cms-data")))
        yield


def load_note_corpus():
    """tests/notes/corpus.py (tests/ is not a package), registered once as ``note_corpus`` so the corpus tests
    share one module (its dataclasses look their module up in sys.modules)."""
    import sys
    if "note_corpus" not in sys.modules:
        spec = importlib.util.spec_from_file_location("note_corpus", ROOT / "tests" / "notes" / "corpus.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["note_corpus"] = module
        assert spec.loader is not None
        spec.loader.exec_module(module)
    return sys.modules["note_corpus"]
