"""Fixtures for the application layer's tests: the data layer's fresh database, photo store and
accounts (tests/db/conftest.py), and the page tests' environment (tests/dashboard/conftest.py),
which wires a database, data folder and weights folder through the settings' variables."""
from datetime import date

import pytest

from tests.dashboard.conftest import dash, env  # noqa: F401
from tests.db.conftest import (  # noqa: F401
    _fast_bcrypt,
    admin,
    clinician,
    db_url,
    engine,
    other_clinician,
    researcher,
    session,
    store,
)
from usecases.clinic import Clinic


@pytest.fixture
def stored(dash):  # noqa: ANN001, ANN201
    """(clinic, clinician, photo row, its analysis row, patient id): one photo stored with
    an analysis of 3 papules."""
    from core.imaging import decode_photo
    from db.engine import get_engine
    from db.photos import PhotoStore
    from db.repository import latest_analysis, list_photos

    dash.make_account("root", role="admin")
    doctor = dash.get_account(dash.make_account("doc"))
    patient = dash.make_patient(doctor.id, "ACN-001")
    photo = decode_photo(dash.face_photo_bytes(), filename="face.png")
    visit = dash.make_visit(doctor.id, patient, date(2024, 1, 10), photo=photo,
                            analysis=dash.sample_analysis(photo))
    clinic = Clinic(engine=get_engine(dash.env.url), photo_store=PhotoStore(dash.env.data_dir / "photos"))
    with clinic.session() as session:
        row = list_photos(session=session, actor=doctor, visit_id=visit)[0]
        analysis = latest_analysis(session=session, actor=doctor, photo_id=row.id)
    return clinic, doctor, row, analysis, patient
