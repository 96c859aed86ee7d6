"""Property-based run against the OpenAPI document: no generated request makes the server fail (no 5xx),
and every answer has a status code and a content type the document lists (issue 15: problem+json for
every error, each error response documented).

Uses schemathesis' strategies directly with hypothesis (its pytest plugin does not support pytest 9).
Bounded: a few examples per operation, so the whole run stays well under a minute.
"""
import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance  # noqa: E402

from infucode.web.app import create_app  # noqa: E402

EXAMPLES_PER_OPERATION = 12


@pytest.fixture(scope="module")
def operations(tmp_path_factory):
    app = create_app(db_url=f"sqlite:///{tmp_path_factory.mktemp('st')}/c.db")
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    ops = [result.ok() for result in schema.get_all_operations()]
    assert len(ops) >= 8
    return ops


def test_no_server_error_and_no_undocumented_status_or_content_type(operations):
    failures = []
    for op in operations:
        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def run(case):
            response = case.call()
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:200]}")
                return
            try:
                case.validate_response(response, checks=[status_code_conformance, content_type_conformance])
            except Exception as exc:  # noqa: BLE001 - schemathesis raises a group of check failures
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code} "
                                f"{response.headers.get('content-type')}: {str(exc)[:300]}")

        run()
    assert not failures, "\n".join(failures[:5])


def test_the_document_lists_problem_responses(operations):
    from fastapi.testclient import TestClient
    doc = TestClient(create_app(db_url="sqlite:///:memory:")).get("/openapi.json").json()
    code = doc["paths"]["/v1/code"]["post"]["responses"]
    for status in ("400", "408", "413", "415", "422", "503"):
        assert "application/problem+json" in code[status]["content"], status
        assert "application/json" not in code[status]["content"]
    assert "404" in doc["paths"]["/v1/cases/{case_id}"]["get"]["responses"]
    assert "HTTPValidationError" not in doc.get("components", {}).get("schemas", {})
