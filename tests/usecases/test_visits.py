"""Record a visit (usecases.visits): decode, duplicate checks, one analysis, storage with audit,
and the one route that the new-visit page and the folder import both take."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from usecases import visits
from usecases.clinic import Clinic
from usecases.visits import CaptureDetails, check_photo, record_visit


class Analyzer:
    """A stand-in model: the fixture's valid sample analysis, counted; fails on request."""

    def __init__(self, dash, fail: bool = False) -> None:  # noqa: ANN001
        self.dash, self.fail, self.calls = dash, fail, 0

    def analyze(self, photo):  # noqa: ANN001, ANN201
        self.calls += 1
        if self.fail:
            raise RuntimeError("the model ran out of memory")
        return self.dash.sample_analysis(photo)


@pytest.fixture
def setting(dash):  # noqa: ANN001, ANN201
    """(clinic, clinician, patient id) on the test's database and data folder."""
    from db.engine import get_engine
    from db.photos import PhotoStore

    dash.make_account("root", role="admin")
    doctor = dash.get_account(dash.make_account("doc"))
    patient = dash.make_patient(doctor.id, "ACN-001")
    clinic = Clinic(engine=get_engine(dash.env.url), photo_store=PhotoStore(dash.env.data_dir / "photos"))
    return clinic, doctor, patient


def test_check_photo_refuses_what_cannot_be_used_and_analyses_once(dash, setting) -> None:  # noqa: ANN001
    clinic, doctor, patient = setting
    analyzer = Analyzer(dash)
    face = dash.face_photo_bytes()
    seen: set[str] = set()

    bad = check_photo(clinic, doctor, patient_id=patient, filename="note.jpg", data=b"a note",
                      analyzer=analyzer, seen=seen)
    assert bad.error and bad.error.startswith("'note.jpg'") and not bad.storable
    first = check_photo(clinic, doctor, patient_id=patient, filename="face.png", data=face,
                        analyzer=analyzer, seen=seen)
    again = check_photo(clinic, doctor, patient_id=patient, filename="copy.png", data=face,
                        analyzer=analyzer, seen=seen)
    assert first.storable and first.analysis is not None
    assert again.duplicate == "the same photo is already in this upload"
    assert analyzer.calls == 1  # neither the bad file nor the duplicate was analysed

    failed = check_photo(clinic, doctor, patient_id=patient, filename="face.png", data=face,
                         analyzer=Analyzer(dash, fail=True))
    assert failed.error == "analysis failed: the model ran out of memory"


def test_record_visit_stores_each_photo_in_one_unit_and_says_what_was_refused(dash, setting) -> None:  # noqa: ANN001
    from sqlmodel import select

    from db.models import Analysis, AuditEvent, Photo

    clinic, doctor, patient = setting
    analyzer = Analyzer(dash)
    face = check_photo(clinic, doctor, patient_id=patient, filename="face.png",
                       data=dash.face_photo_bytes(), analyzer=analyzer)
    bad = check_photo(clinic, doctor, patient_id=patient, filename="note.jpg", data=b"a note",
                      analyzer=analyzer)
    progress: list[tuple[int, int]] = []

    recorded = record_visit(
        clinic, doctor, patient_id=patient, visit_date=date(2024, 3, 1), notes="isotretinoin",
        photos=[(face, CaptureDetails(view="left", taken_on=date(2024, 2, 28), lighting="flash")),
                (bad, CaptureDetails())],
        on_progress=lambda done, total: progress.append((done, total)),
    )

    assert recorded.stored == 1
    assert [(r.filename, r.status) for r in recorded.results] == [("face.png", "stored"), ("note.jpg", "refused")]
    assert progress == [(1, 2), (2, 2)]
    with dash.env.session() as session:
        photo = session.exec(select(Photo)).one()
        assert (photo.view, photo.lighting, photo.captured_at.date()) == ("left", "flash", date(2024, 2, 28))
        assert session.exec(select(Analysis).where(Analysis.photo_id == photo.id)).one()
        audited = {(e.action, e.target_type) for e in session.exec(select(AuditEvent)).all()}
    assert {("create", "visit"), ("create", "photo")} <= audited

    # The same photo again, for the same patient: found before it is analysed.
    later = check_photo(clinic, doctor, patient_id=patient, filename="again.png",
                        data=dash.face_photo_bytes(), analyzer=analyzer)
    # In words, never a row number ("photo #7", issue 26).
    assert later.duplicate == (f"already stored for this patient (as '{photo.filename}', "
                               f"saved {photo.created_at:%d %b %Y})")
    assert analyzer.calls == 1


def test_a_researcher_cannot_record_a_visit(dash, setting) -> None:  # noqa: ANN001
    from db.errors import PermissionDenied

    clinic, _doctor, patient = setting
    researcher = dash.get_account(dash.make_account("res", role="researcher"))
    with pytest.raises(PermissionDenied):
        record_visit(clinic, researcher, patient_id=patient, visit_date=date(2024, 3, 1), notes="",
                     photos=[])


@pytest.mark.slow
def test_the_page_and_the_folder_import_take_the_same_route(dash, setting, monkeypatch, tmp_path: Path) -> None:  # noqa: ANN001
    """Both callers decode and store through usecases.visits: counted where the route meets core
    (decode_photo) and db (store_photo)."""
    from dashboard import state
    from usecases import folder_import

    clinic, doctor, _patient = setting
    route: list[str] = []
    real_decode, real_store = visits.decode_photo, visits.store_photo
    monkeypatch.setattr(visits, "decode_photo",
                        lambda data, filename: route.append(f"decode {filename}") or real_decode(data, filename=filename))
    monkeypatch.setattr(visits, "store_photo",
                        lambda **kw: route.append(f"store {kw['photo'].filename}") or real_store(**kw))
    analyzer = Analyzer(dash)
    monkeypatch.setattr(state, "_analyzer_for", lambda weights_dir: (analyzer, None))

    at = dash.open_page(doctor.id, "new_visit", patient_id=_patient)
    at.file_uploader[0].set_value([("page.png", dash.face_photo_bytes(), "image/png")])
    at.run()
    dash.widget(at.button, "Save the visit with 1 photo").click().run()
    assert not at.exception
    assert route == ["decode page.png", "store page.png"]

    route.clear()
    (tmp_path / "export" / "ACN-002" / "2024-05-01").mkdir(parents=True)
    (tmp_path / "export" / "ACN-002" / "2024-05-01" / "folder.png").write_bytes(dash.flat_photo_bytes())
    report = folder_import.import_folder(clinic, doctor, tmp_path / "export", get_analyzer=lambda: analyzer)
    assert report.count("stored") == 1
    assert route == ["decode folder.png", "store folder.png"]
    assert analyzer.calls == 2  # once per photo, whichever the caller
