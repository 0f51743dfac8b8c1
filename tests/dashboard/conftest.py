"""Fixtures for the dashboard's AppTest page tests: a fresh database per test, accounts, photos.

Every test gets its own data folder, database and (empty) weights folder through environment
variables, exactly as the app reads them in production.
"""
from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import streamlit as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]

APP = ROOT / "dashboard" / "app.py"
PASSWORD = "correct horse battery"


@dataclass
class Env:
    url: str
    data_dir: Path
    weights_dir: Path

    def session(self):  # noqa: ANN201 - a sqlmodel Session context manager
        from db.engine import get_engine, new_session

        return new_session(get_engine(self.url))


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, databases) -> Iterator[Env]:  # noqa: ANN001
    """A migrated, empty database and empty weights folder, wired through the app's env vars.

    The database is SQLite, or PostgreSQL when ACNE_TEST_POSTGRES_URL is set (tests/conftest.py).
    """
    data_dir = tmp_path / "data"
    weights_dir = tmp_path / "weights"
    weights_dir.mkdir()
    url = databases.new(data_dir)
    monkeypatch.setenv("ACNE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("ACNE_WEIGHTS_DIR", str(weights_dir))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # bcrypt's production cost (about 0.25 s a hash) would dominate these tests; 4 is its minimum.
    monkeypatch.setattr("db.repository.accounts.BCRYPT_ROUNDS", 4)
    # st.cache_resource lives for the whole process: forget the previous test's settings/engine.
    st.cache_resource.clear()
    st.cache_data.clear()
    yield Env(url=url, data_dir=data_dir, weights_dir=weights_dir)
    st.cache_resource.clear()
    st.cache_data.clear()
    databases.drop(url)  # also disposes this process's engines


class Dash:
    """Helpers bound to one test's database: create rows, open the app signed in."""

    PASSWORD = PASSWORD
    ROOT = ROOT

    def __init__(self, env: Env) -> None:
        self.env = env

    def make_account(self, username: str, role: str = "clinician", team: str | None = None,
                     password: str = PASSWORD) -> int:
        """Create an account directly in the database; returns its id."""
        from db.models import AccountCreate
        from db.repository import create_account

        with self.env.session() as session:
            account = create_account(
                session=session,
                data=AccountCreate(username=username, full_name=username.title(), password=password,
                                   role=role, team=team),
            )
            return account.id

    def get_account(self, account_id: int):  # noqa: ANN201
        from db.repository import get_account as repo_get_account

        with self.env.session() as session:
            account = repo_get_account(session=session, account_id=account_id)
            session.expunge(account)
            return account

    def make_patient(self, owner_id: int, code: str, name: str | None = None,
                     team: str | None = None, research_consent: bool = True) -> int:
        """Create a patient owned by `owner_id`; returns its id. By default the patient
        consented (a date) and allows research use, which a study enrolment needs (issue 24)."""
        from db.models import PatientCreate
        from db.repository import create_patient

        owner = self.get_account(owner_id)
        consent = date(2024, 1, 2) if research_consent else None
        with self.env.session() as session:
            patient = create_patient(session=session, actor=owner, data=PatientCreate(
                code=code, name=name, team=team, consent_date=consent,
                research_consent=research_consent))
            return patient.id

    def make_visit(self, actor_id: int, patient_id: int, visit_date: date,
                   photo=None, analysis=None, notes: str = "") -> int:  # noqa: ANN001
        """Create a visit, optionally with one stored photo (and analysis); returns the visit id."""
        from db.photos import PhotoStore
        from db.repository import create_visit, store_photo

        actor = self.get_account(actor_id)
        with self.env.session() as session:
            visit = create_visit(session=session, actor=actor, patient_id=patient_id,
                                 visit_date=visit_date, treatment_notes=notes)
            visit_id = visit.id
        if photo is not None:
            with self.env.session() as session:
                store_photo(session=session, actor=actor, photo_store=PhotoStore(self.env.data_dir / "photos"),
                            visit_id=visit_id, photo=photo, analysis=analysis)
        return visit_id

    def app(self, account_id: int | None = None, timeout: float = 120) -> AppTest:
        """The whole app (as `streamlit run dashboard/app.py`), signed in as `account_id` if given."""
        at = AppTest.from_file(str(APP), default_timeout=timeout)
        if account_id is not None:
            at.session_state["account_id"] = account_id
        return at

    def open_page(self, account_id: int, page: str, *, patient_id: int | None = None,
                  timeout: float = 120) -> AppTest:
        """Sign in, run once (so navigation registers the pages), then switch to `views/<page>.py`."""
        at = self.app(account_id, timeout=timeout).run()
        if patient_id is not None:
            at.session_state["patient_id"] = patient_id
        at.switch_page(f"views/{page}.py").run()
        return at

    def page_alone(self, page: str, account_id: int, *, patient_id: int | None = None) -> AppTest:
        """Run one page file on its own (no navigation): the page's own checks must hold."""
        at = AppTest.from_file(str(ROOT / "dashboard" / "views" / f"{page}.py"), default_timeout=120)
        at.session_state["account_id"] = account_id
        if patient_id is not None:
            at.session_state["patient_id"] = patient_id
        return at.run()

    @staticmethod
    def widget(elements, label: str, form: str | None = None):  # noqa: ANN001, ANN205
        """The one widget of an AppTest list with this label (and form), failing loudly."""
        found = [element for element in elements if element.label == label
                 and (form is None or element.form_id == form)]
        labels = [element.label for element in elements]
        assert len(found) == 1, f"expected one widget labelled {label!r}, found {labels}"
        return found[0]

    @staticmethod
    def texts(elements) -> list[str]:  # noqa: ANN001 - an AppTest ElementList
        """The elements' texts as a person reads them: a markdown escape (a backslash before
        punctuation, dashboard.display.plain) shows as the character alone."""
        return [re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", str(element.value)) for element in elements]

    @staticmethod
    def page_text(at: AppTest) -> str:
        """Every message, title and text on the page, joined (for 'is this said' checks)."""
        parts: list[str] = []
        for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning",
                     "error", "success", "text"):
            parts.extend(Dash.texts(getattr(at, kind)))
        return "\n".join(parts)

    @staticmethod
    def face_photo_bytes(fmt: str = "PNG", size: int = 256, exif: bytes | None = None) -> bytes:
        """A real, public-domain face (skimage astronaut), resized, as file bytes."""
        from skimage import data

        image = Image.fromarray(data.astronaut()).resize((size, size))
        buffer = io.BytesIO()
        kwargs = {"exif": exif} if exif else {}
        image.save(buffer, format=fmt, **kwargs)
        return buffer.getvalue()

    @staticmethod
    def sample_analysis(photo, *, lesions: int = 3, quality_reasons: tuple[str, ...] = (),
                        model_version: str = "test-model 0.0"):  # noqa: ANN001, ANN205
        """A hand-built, self-consistent core Analysis of `photo` (for rendering tests).

        `lesions` papules in a row (their boxes, kind mask and probability map agree), all on
        the forehead; the quality gate fails with `quality_reasons` when any are given.
        """
        from core.types import (
            GRADE_LABELS, Analysis, FaceResult, Grade, Lesion, LesionCounts, QualityResult,
        )

        height, width = photo.height, photo.width
        kind_mask = np.zeros((height, width), np.uint8)
        probability = np.zeros((height, width), np.uint8)
        found = []
        for index in range(lesions):
            x0, y0 = 10 + 12 * index, 10
            kind_mask[y0:y0 + 6, x0:x0 + 6] = 2  # papule: index 1 in LESION_KINDS, plus one
            probability[y0:y0 + 6, x0:x0 + 6] = 230
            found.append(Lesion(bbox=(x0, y0, x0 + 6, y0 + 6), kind="papule", score=0.9,
                                area_px=36, region="forehead"))
        counts = LesionCounts.from_lesions(found)
        grade = 0 if counts.inflammatory <= 5 else 1
        return Analysis(
            width=width, height=height, lesions=tuple(found), counts=counts,
            grade=Grade(value=grade, label=GRADE_LABELS[grade], confidence=0.8),
            lesion_area_fraction=36 * lesions / (width * height / 2),
            skin_area_px=width * height // 2,
            face=FaceResult(found=True, box=(0.0, 0.0, float(width), float(height)), n_faces=1,
                            view="front"),
            quality=QualityResult(passed=not quality_reasons, reasons=quality_reasons,
                                  metrics={"sharpness": 1.0}),
            model_version=model_version,
            region_counts={"forehead": {"papule": lesions}} if lesions else {},
            gags_estimate=4 if lesions else 0,
            kind_mask=kind_mask,
            probability_map=probability,
        )

    @staticmethod
    def flat_photo_bytes(colour: tuple[int, int, int] = (180, 140, 120), size: int = 96) -> bytes:
        """A plain, face-less photo (distinct colours give distinct files)."""
        buffer = io.BytesIO()
        Image.fromarray(np.full((size, size, 3), colour, np.uint8)).save(buffer, format="PNG")
        return buffer.getvalue()


@pytest.fixture
def dash(env: Env) -> Dash:
    return Dash(env)
