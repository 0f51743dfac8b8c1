"""Address parameters are parsed in one place (dashboard/query.py, issue 24): a value that
cannot be an id answers "No such patient or no access.", never a traceback."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from dashboard import query

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
NO_ACCESS = "No such patient or no access."
BAD_VALUES = ["99999999999999999999999", "²", "2147483648", "-1", "0", "1e3", "٣", " 1 2", "0x10"]


@pytest.mark.parametrize("raw", BAD_VALUES)
def test_a_value_that_cannot_be_an_id_is_bad(raw):
    assert query.parse_id(raw) is query.BAD


@pytest.mark.parametrize(("raw", "value"), [(None, None), ("", None), ("7", 7), (" 12 ", 12),
                                            ("2147483647", 2**31 - 1)])
def test_ids_and_absent_values(raw, value):
    assert query.parse_id(raw) == value


def test_no_page_reads_the_address_itself():
    users = sorted(str(path.relative_to(DASHBOARD)) for path in DASHBOARD.rglob("*.py")
                   if "query_params" in path.read_text() and path.name != "query.py")
    assert users == [], f"st.query_params used outside dashboard/query.py: {users}"


@pytest.fixture
def with_visit(dash):  # noqa: ANN001, ANN201
    dash.make_account("boss", role="admin")
    doctor = dash.make_account("doc")
    patient = dash.make_patient(doctor, "ACN-Q1")
    dash.make_visit(doctor, patient, date(2024, 5, 1), notes="a note")
    return doctor, patient


@pytest.mark.parametrize("raw", ["99999999999999999999999", "²"])
@pytest.mark.parametrize("page", ["visit", "trends", "compare", "new_visit"])
def test_a_bad_patient_parameter_is_answered_without_a_traceback(dash, with_visit, page, raw):
    doctor, _ = with_visit
    at = dash.app(doctor).run()
    at.query_params["patient"] = raw
    at.switch_page(f"views/{page}.py").run()
    assert not at.exception, at.exception
    assert NO_ACCESS in dash.texts(at.error)


@pytest.mark.parametrize("raw", ["²", "99999999999999999999999"])
def test_a_bad_visit_parameter_is_answered_without_a_traceback(dash, with_visit, raw):
    doctor, patient = with_visit
    at = dash.app(doctor).run()
    at.session_state["patient_id"] = patient
    at.query_params["visit"] = raw
    at.switch_page("views/visit.py").run()
    assert not at.exception, at.exception
    assert NO_ACCESS in dash.texts(at.error)
    assert "a note" not in dash.page_text(at)
