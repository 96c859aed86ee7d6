"""Property-based run against the OpenAPI document: no generated request makes the server fail (no 5xx).

Uses schemathesis' strategies directly with hypothesis (its pytest plugin does not support pytest 9).
"""
import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

from infucode.web.app import create_app  # noqa: E402


@pytest.fixture(scope="module")
def operations(tmp_path_factory):
    app = create_app(db_url=f"sqlite:///{tmp_path_factory.mktemp('st')}/c.db")
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    ops = [result.ok() for result in schema.get_all_operations()]
    assert len(ops) >= 8
    return ops


def test_no_server_error_on_any_operation(operations):
    failures = []
    for op in operations:
        @given(case=op.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case):
            response = case.call()
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:200]}")

        run()
    assert not failures, "\n".join(failures[:5])
