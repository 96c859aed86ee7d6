"""Shared test setup."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _no_user_cms_data(tmp_path_factory):
    """``infucode audit`` reads CMS files imported into the user data directory; point it at an empty
    directory so a developer's own imports never change a test's result."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INFUCODE_DATA_DIR", str(tmp_path_factory.mktemp("no-imported-cms-data")))
        yield
