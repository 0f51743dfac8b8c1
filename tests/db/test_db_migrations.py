"""Alembic owns the schema: upgrade from empty, downgrade to empty, no drift from the models,
the indexes the queries need, and a database made at revision 0001 upgraded with its rows."""
from __future__ import annotations

import json

import stat
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from tests.db.db_factories import make_analysis, make_photo
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import UTCDateTime

import db.models  # noqa: F401 - registers the tables
from db.migrate import alembic_config, downgrade_database, upgrade_database
from usecases.cli import migrate

EXPECTED_TABLES = {
    "account", "patient", "visit", "photo", "analysis", "lesion", "review",
    "treatment_event", "study", "study_arm", "enrolment", "study_member", "audit_event",
}
# Tables added after revision 0001 (no rows in a 0001 database to keep).
LATER_TABLES = {
    "clinic_identity",  # 0008: the id the photo folder records
    "signin_session",  # 0010: sign-ins kept across page reloads
}
FIRST_REVISION = "0001"
# Revision 0002: composite index -> (table, columns, the 0001 single-column index it replaces).
COMPOSITE_INDEXES: dict[str, tuple[str, list[str], str]] = {
    "ix_visit_patient_id_visit_date": ("visit", ["patient_id", "visit_date"], "ix_visit_patient_id"),
    "ix_treatment_event_patient_id_event_date": (
        "treatment_event", ["patient_id", "event_date"], "ix_treatment_event_patient_id"),
    "ix_analysis_photo_id_id": ("analysis", ["photo_id", "id"], "ix_analysis_photo_id"),
    "ix_review_analysis_id_id": ("review", ["analysis_id", "id"], "ix_review_analysis_id"),
}
SECOND_OPINION_COLUMNS = (
    "second_opinion_grade", "second_opinion_label", "second_opinion_confidence",
    "second_opinion_source",
)
ASSESSMENT_COLUMNS = ("assessable", "not_assessable_reasons")  # revision 0004
TYPE_DOUBT_COLUMNS = ("inflammatory_type_uncertain", "type_confidence", "type_uncertain")  # 0005
# Added after revision 0001 (analysis and lesion columns).
# 0006: clinician corrections and research consent.
CORRECTION_COLUMNS = ("corrects_id", "corrected_by_id", "correction", "withdrawn_at",
                      "grade_evidence", "added_by_clinician", "research_consent")
# 0007: whether a study's researchers see identifiable photos.
STUDY_PHOTO_COLUMNS = ("identifiable_photos_for_researchers",)
# 0009: close-ups with their body site, and each analysis's typicality.
CLOSE_UP_COLUMNS = ("body_site", "typicality", "unusual")
# 0011: the one view (and close-up site) a study measures.
STUDY_VIEW_COLUMNS = ("measured_view", "measured_body_site")
# 0012: colour measures (redness and dark marks) of each analysis.
COLOUR_COLUMNS = db.models.COLOUR_COLUMNS
NEW_COLUMNS = (SECOND_OPINION_COLUMNS + ASSESSMENT_COLUMNS + TYPE_DOUBT_COLUMNS + CORRECTION_COLUMNS
               + STUDY_PHOTO_COLUMNS + CLOSE_UP_COLUMNS + STUDY_VIEW_COLUMNS
               + COLOUR_COLUMNS)


def _json_value(value: Any) -> Any:
    """A JSON column as the driver returns it: text on SQLite, parsed on PostgreSQL."""
    return json.loads(value) if isinstance(value, str) else value


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _indexes(url: str) -> dict[str, tuple[str, list[str]]]:
    """Every index of the database: name -> (table, columns)."""
    engine = create_engine(url)
    try:
        inspector = inspect(engine)
        return {
            index["name"]: (table, list(index["column_names"]))
            for table in inspector.get_table_names()
            for index in inspector.get_indexes(table)
        }
    finally:
        engine.dispose()


def _columns(url: str, table: str) -> set[str]:
    engine = create_engine(url)
    try:
        return {column["name"] for column in inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def _revision(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(empty_db_url: str) -> None:
    url = empty_db_url
    scripts = ScriptDirectory.from_config(alembic_config(url))
    head = scripts.get_current_head()
    assert scripts.get_revision("0002").down_revision == FIRST_REVISION
    upgrade_database(url)
    assert _tables(url) == EXPECTED_TABLES | LATER_TABLES | {"alembic_version"}
    assert _revision(url) == head

    downgrade_database(url, FIRST_REVISION)  # 0003, then 0002, undone exactly
    assert _revision(url) == FIRST_REVISION
    indexes = _indexes(url)
    for name, (table, columns, replaced) in COMPOSITE_INDEXES.items():
        assert name not in indexes
        assert indexes[replaced] == (table, columns[:1])
    assert not _columns(url, "analysis") & set(SECOND_OPINION_COLUMNS)

    downgrade_database(url, "base")
    assert _tables(url) == {"alembic_version"}
    upgrade_database(url)  # and back up again: the downgrades left a usable database
    assert _tables(url) == EXPECTED_TABLES | LATER_TABLES | {"alembic_version"}
    assert _revision(url) == head


def test_migrations_match_the_models(empty_db_url: str) -> None:
    """A model changed without a new revision shows up here as a difference."""
    upgrade_database(empty_db_url)
    engine = create_engine(empty_db_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    assert differences == []


def test_the_indexes_the_queries_need_exist_after_upgrade(empty_db_url: str) -> None:
    upgrade_database(empty_db_url)
    indexes = _indexes(empty_db_url)
    for name, (table, columns, replaced) in COMPOSITE_INDEXES.items():
        assert indexes.get(name) == (table, columns), name
        assert replaced not in indexes  # the composite's leading column serves its lookups
    # Filters that 0001 indexed already and the repository still relies on.
    for name, table, columns in [
        ("ix_photo_visit_id", "photo", ["visit_id"]),
        ("ix_photo_upload_sha256", "photo", ["upload_sha256"]),
        ("ix_photo_file_sha256", "photo", ["file_sha256"]),
        ("ix_lesion_analysis_id", "lesion", ["analysis_id"]),
        ("ix_analysis_created_at", "analysis", ["created_at"]),
        ("ix_analysis_kind_mask_sha256", "analysis", ["kind_mask_sha256"]),
        ("ix_analysis_probability_sha256", "analysis", ["probability_sha256"]),
        ("ix_patient_owner_id", "patient", ["owner_id"]),
        ("ix_patient_team", "patient", ["team"]),
        ("ix_study_member_account_id", "study_member", ["account_id"]),
        ("ix_enrolment_patient_id", "enrolment", ["patient_id"]),
        ("ix_audit_event_at", "audit_event", ["at"]),
    ]:
        assert indexes.get(name) == (table, columns), name
    engine = create_engine(empty_db_url)
    try:
        checks = {c["name"] for c in inspect(engine).get_check_constraints("analysis")}
    finally:
        engine.dispose()
    assert {"ck_analysis_grade", "ck_analysis_second_opinion_grade"} <= checks


# ------------------------------------------------------------- a database made at 0001
# Column types for the bound values that need one (dates, aware timestamps, JSON).
_BIND_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    **{name: UTCDateTime() for name in ("created_at", "locked_until", "at", "enrolled_at")},
    "captured_at": sa.DateTime(),
    **{name: sa.Date() for name in ("consent_date", "visit_date", "event_date")},
    **{name: sa.JSON(none_as_null=True) for name in (
        "quality_reasons", "quality_metrics", "face_box", "landmarks", "alignment",
        "region_counts")},
}
_T0 = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)


def _insert(connection: Connection, table: str, **values: Any) -> int:
    """INSERT one row with plain SQL (the 0001 columns, no model); returns its id."""
    names = list(values)
    columns = ", ".join('"' + name + '"' for name in names)  # quoted: "view" is an SQL word
    placeholders = ", ".join(":" + name for name in names)
    statement = text(
        f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) RETURNING id"
    ).bindparams(*[sa.bindparam(n, type_=_BIND_TYPES[n]) for n in names if n in _BIND_TYPES])
    return connection.execute(statement, values).scalar_one()


def _analysis_values(photo_id: int, *, papules: int, comedones: int, grade: int,
                     version: str, passed: bool = True, nodules: int = 0) -> dict[str, Any]:
    # Before revision 0003, inflammatory counted papules and pustules only.
    return dict(
        photo_id=photo_id, model_version=version, comedone=comedones, papule=papules, pustule=0,
        nodule=nodules, inflammatory=papules, non_inflammatory=comedones,
        total=papules + comedones + nodules,
        lesion_area_fraction=0.0125 * (papules + comedones), skin_area_px=52000, grade=grade,
        grade_label=("mild", "moderate", "severe", "very severe")[grade],
        grade_confidence=0.71, grade_source="counts", quality_passed=passed,
        quality_reasons=[] if passed else ["The photo is blurred."],
        quality_metrics={"sharpness": 153.25, "brightness": 0.47},
        face_found=True, face_box=[12.5, 20.0, 230.0, 250.5],
        landmarks=[[80.0, 100.0], [160.0, 100.0], [120.0, 140.0], [90.0, 190.0], [150.0, 190.0]],
        n_faces=1, view_estimate="front", alignment=[2.0, 0.0, -5.5, 0.0, 2.0, 3.25],
        region_counts={"forehead": {"papule": papules}, "chin": {"comedone": comedones}},
        gags_estimate=papules + comedones, kind_mask_sha256="a" * 64 if passed else None,
        probability_sha256="b" * 64 if passed else None, created_at=_T0,
    )


def _fill_0001(connection: Connection) -> None:
    """Every table of revision 0001, with the values a clinic's database holds."""
    admin = _insert(connection, "account", username="admin", full_name="Ada Admin", role="admin",
                    team=None, is_active=True, password_hash="$2b$12$" + "x" * 53,
                    failed_logins=0, locked_until=None, created_at=_T0)
    doctor = _insert(connection, "account", username="dr.lee", full_name="Dr Lee",
                     role="clinician", team="north", is_active=True,
                     password_hash="$2b$12$" + "y" * 53, failed_logins=2,
                     locked_until=datetime(2024, 3, 2, 10, 30, tzinfo=timezone.utc),
                     created_at=_T0)
    researcher = _insert(connection, "account", username="res", full_name="", role="researcher",
                         team=None, is_active=False, password_hash="$2b$12$" + "z" * 53,
                         failed_logins=0, locked_until=None, created_at=_T0)
    first = _insert(connection, "patient", code="ACN-001", name="Jane Roe",
                    consent_date=date(2024, 2, 28), skin_type="III", notes="isotretinoin naive",
                    team="north", owner_id=doctor, created_at=_T0)
    second = _insert(connection, "patient", code="ACN-002", name=None, consent_date=None,
                     skin_type=None, notes="", team=None, owner_id=doctor, created_at=_T0)
    visits = [
        _insert(connection, "visit", visit_date=day, treatment_notes=notes, patient_id=patient,
                created_by_id=doctor, created_at=_T0)
        for day, notes, patient in [
            (date(2024, 3, 1), "baseline", first),
            (date(2024, 4, 12), "doxycycline 100 mg", first),
            (date(2024, 3, 5), "", second),
        ]
    ]
    photos = [
        _insert(connection, "photo", view=view, makeup=makeup, lighting=lighting, device=device,
                captured_at=captured, visit_id=visit, file_sha256=f"{n:x}" * 64,
                upload_sha256=f"{n + 3:x}" * 64, file_extension=".jpg",
                filename=f"IMG_{n}.jpg", width=3024, height=4032, created_at=_T0)
        for n, (visit, view, makeup, lighting, device, captured) in enumerate([
            (visits[0], "front", False, "clinic lamp", "Pixel 8", datetime(2024, 3, 1, 8, 59, 1)),
            (visits[0], "left", None, None, None, None),
            (visits[1], "front", True, "daylight", "iPhone 15", datetime(2024, 4, 12, 14, 0)),
        ], start=1)
    ]
    analyses = [
        _insert(connection, "analysis", **_analysis_values(photos[0], papules=12, comedones=20,
                                                           grade=1, version="seg 1.0")),
        _insert(connection, "analysis", **_analysis_values(photos[0], papules=14, comedones=18,
                                                           grade=2, version="seg 1.1")),
        _insert(connection, "analysis", **_analysis_values(photos[2], papules=3, comedones=4,
                                                           grade=0, version="seg 1.1",
                                                           passed=False, nodules=5)),
    ]
    for analysis, kind, box, region in [
        (analyses[1], "papule", (100, 200, 112, 210), "forehead"),
        (analyses[1], "comedone", (300, 420, 304, 424), None),
        (analyses[2], "nodule", (50, 60, 90, 95), "chin"),
    ]:
        _insert(connection, "lesion", analysis_id=analysis, x0=box[0], y0=box[1], x1=box[2],
                y1=box[3], kind=kind, area_px=(box[2] - box[0]) * (box[3] - box[1]),
                score=0.875, region=region)
    _insert(connection, "review", iga=3, grade_override=None, notes="agree",
            analysis_id=analyses[1], reviewer_id=doctor, created_at=_T0)
    _insert(connection, "review", iga=1, grade_override=1, notes="fewer papules than counted",
            analysis_id=analyses[2], reviewer_id=admin, created_at=_T0)
    _insert(connection, "treatment_event", event_date=date(2024, 3, 2),
            description="start doxycycline 100 mg", patient_id=first, created_at=_T0)
    study = _insert(connection, "study", name="DOXY-24", description="doxycycline vs placebo",
                    created_by_id=doctor, created_at=_T0)
    arms = [_insert(connection, "study_arm", study_id=study, name=name)
            for name in ("doxycycline", "placebo")]
    _insert(connection, "enrolment", study_id=study, arm_id=arms[0], patient_id=first,
            baseline_visit_id=visits[0], enrolled_at=_T0)
    _insert(connection, "enrolment", study_id=study, arm_id=arms[1], patient_id=second,
            baseline_visit_id=None, enrolled_at=_T0)
    _insert(connection, "study_member", study_id=study, account_id=researcher)
    for actor, action, target, target_id, detail in [
        (doctor, "login", "account", doctor, ""),
        (None, "login_failed", "account", None, "username=dr.le"),
        (doctor, "create", "photo", photos[0], f"visit={visits[0]} view=front"),
    ]:
        _insert(connection, "audit_event", at=_T0, account_id=actor, action=action,
                target_type=target, target_id=target_id, detail=detail)


def _snapshot(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, as the driver returns it, in id order."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table: [dict(row._mapping) for row in connection.execute(
                    text(f"SELECT * FROM {table} ORDER BY id"))]
                for table in sorted(EXPECTED_TABLES)
            }
    finally:
        engine.dispose()


def _without_new_columns(snapshot: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict]]:
    return {
        table: [{k: v for k, v in row.items() if k not in NEW_COLUMNS} for row in rows]
        for table, rows in snapshot.items()
    }


def test_a_0001_database_keeps_every_row_when_upgraded(empty_db_url: str, tmp_path: Path) -> None:
    url = empty_db_url
    upgrade_database(url, FIRST_REVISION)
    engine = create_engine(url)
    with engine.begin() as connection:
        _fill_0001(connection)
    engine.dispose()
    before = _snapshot(url)
    assert {table: len(rows) for table, rows in before.items()} == {
        "account": 3, "patient": 2, "visit": 3, "photo": 3, "analysis": 3, "lesion": 3,
        "review": 2, "treatment_event": 1, "study": 1, "study_arm": 2, "enrolment": 2,
        "study_member": 1, "audit_event": 3,
    }

    upgrade_database(url)
    after = _snapshot(url)
    # Same rows, same values, every table; but inflammatory now counts nodules/cysts (0003),
    # recomputed from the stored per-type counts.
    recomputed = [{**row, "inflammatory": row["papule"] + row["pustule"] + row["nodule"]}
                  for row in before["analysis"]]
    assert [row["inflammatory"] for row in recomputed] == [12, 14, 8]
    # 0010 adds one audit row per enrolment without consent (none of the old patients gave it).
    reported = after["audit_event"][len(before["audit_event"]):]
    assert [(r["target_type"], r["target_id"]) for r in reported] == [("enrolment", 1), ("enrolment", 2)]
    assert _without_new_columns(after) == {**before, "analysis": recomputed,
                                           "audit_event": before["audit_event"] + reported}
    assert [{k: row[k] for k in SECOND_OPINION_COLUMNS} for row in after["analysis"]] == [
        dict.fromkeys(SECOND_OPINION_COLUMNS)
    ] * 3
    # 0004: every old analysis had a face and enough skin.
    assert [(bool(row["assessable"]), _json_value(row["not_assessable_reasons"]))
            for row in after["analysis"]] == [(True, [])] * 3
    # 0006: no old analysis is a correction, no lesion was added by hand, nobody consented.
    assert [(row["corrects_id"], row["withdrawn_at"], _json_value(row["grade_evidence"]))
            for row in after["analysis"]] == [(None, None, None)] * 3
    assert not any(row["added_by_clinician"] for row in after["lesion"])
    assert not any(row["research_consent"] for row in after["patient"])
    # 0007: every old study's researchers see the photos masked.
    assert [bool(row["identifiable_photos_for_researchers"]) for row in after["study"]] == [False]

    # Today's code reads the old rows and keeps writing after them.
    from db import repository as repo
    from db.engine import get_engine, new_session
    from db.models import Account
    from db.photos import PhotoStore

    with new_session(get_engine(url)) as session:
        doctor = session.exec(sa.select(Account).where(Account.username == "dr.lee")).scalar_one()
        assert doctor.locked_until == datetime(2024, 3, 2, 10, 30, tzinfo=timezone.utc)
        rows = repo.patient_timeline(session=session, actor=doctor, patient_id=1)
        assert [(r.visit_date, r.view, r.analysis_id, r.papule, r.review_iga) for r in rows] == [
            (date(2024, 3, 1), "front", 2, 14, 3),  # the latest of the photo's two analyses
            (date(2024, 3, 1), "left", None, None, None),
            (date(2024, 4, 12), "front", 3, 3, 1),
        ]
        assert all(r.second_opinion_grade is None for r in rows)
        visit = repo.create_visit(session=session, actor=doctor, patient_id=1,
                                  visit_date=date(2024, 5, 20))
        decoded = make_photo(77)
        photo = repo.store_photo(session=session, actor=doctor, visit_id=visit.id,
                                 photo_store=PhotoStore(tmp_path / "photos"), photo=decoded,
                                 analysis=make_analysis(decoded))
        assert (visit.id, photo.id) == (4, 4)  # ids go on after the old rows
    assert _without_new_columns(_snapshot(url))["lesion"][:3] == before["lesion"]

    # Back to 0001: the old rows are still as they were (0003's downgrade restores the old
    # definition of inflammatory).
    downgrade_database(url, FIRST_REVISION)
    rolled_back = _snapshot(url)
    assert {table: rows[: len(before[table])] for table, rows in rolled_back.items()} == before


# ------------------------------------------------------------------ SQLite file specifics
@pytest.mark.sqlite_only
def test_the_data_folder_is_created_private(tmp_path: Path) -> None:
    folder = tmp_path / "fresh" / "data"
    upgrade_database(f"sqlite:///{folder / 'acne.db'}")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


@pytest.mark.sqlite_only
def test_command_line_migrates_the_configured_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "appdata"
    monkeypatch.setenv("ACNE_DATA_DIR", str(data_dir))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert migrate.main() == 0
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "photos").stat().st_mode) == 0o700
    assert EXPECTED_TABLES <= _tables(f"sqlite:///{data_dir / 'acne.db'}")
    assert "up to date" in capsys.readouterr().out


def test_migrations_render_for_postgresql(capsys: pytest.CaptureFixture[str]) -> None:
    """The schema is not SQLite-only: Alembic writes it as PostgreSQL DDL (offline, no server)."""
    from alembic import command

    config = alembic_config("postgresql://acne@localhost/acne")
    command.upgrade(config, "head", sql=True)
    sql = capsys.readouterr().out
    for table in EXPECTED_TABLES:
        assert f"CREATE TABLE {table} (" in sql
    assert "TIMESTAMP WITH TIME ZONE" in sql and "JSON" in sql
    assert "CONSTRAINT ck_review_iga CHECK" in sql
    assert "CREATE INDEX ix_analysis_photo_id_id ON analysis (photo_id, id)" in sql
    assert "ADD COLUMN second_opinion_grade INTEGER" in sql


def _filled_at(url: str, revision: str, *changes: str) -> None:
    """The database at `revision` with revision 0001's rows, then `changes` (SQL) applied.
    Revisions after 0003 add NOT NULL columns the 0001 rows lack: fill at 0003 at the latest."""
    upgrade_database(url, revision)
    engine = create_engine(url)
    with engine.begin() as connection:
        _fill_0001(connection)
        for change in changes:
            connection.execute(text(change))
    engine.dispose()


def test_0003_recomputes_inflammatory_with_nodules_and_back(empty_db_url: str) -> None:
    """Stored analyses get the clinical groups without re-analysis: inflammatory = papules +
    pustules + nodules/cysts; the downgrade restores the old sum; nothing else changes."""
    url = empty_db_url
    _filled_at(url, "0002")
    before = _snapshot(url)["analysis"]

    upgrade_database(url, "0003")
    after = _snapshot(url)["analysis"]
    assert [(r["papule"], r["pustule"], r["nodule"], r["inflammatory"]) for r in after] == [
        (12, 0, 0, 12), (14, 0, 0, 14), (3, 0, 5, 8)]
    assert [{k: v for k, v in r.items() if k != "inflammatory"} for r in after] == [
        {k: v for k, v in r.items() if k != "inflammatory"} for r in before]

    downgrade_database(url, "0002")
    assert _snapshot(url)["analysis"] == before


def test_0004_marks_stored_photos_without_a_face_or_skin_not_assessable(empty_db_url: str) -> None:
    url = empty_db_url
    _filled_at(url, "0003", "UPDATE analysis SET face_found = false WHERE id = 2",
               "UPDATE analysis SET skin_area_px = 400 WHERE id = 3")

    upgrade_database(url, "0004")
    rows = _snapshot(url)["analysis"]
    assert [(bool(r["assessable"]), _json_value(r["not_assessable_reasons"])) for r in rows] == [
        (True, []),
        (False, ["No face was found, so lesions cannot be counted or graded on this photo."]),
        (False, ["Too little facial skin is visible to count lesions or grade this photo "
                 "(at least 1,000 pixels of it are needed)."]),
    ]
    downgrade_database(url, "0003")
    assert not _columns(url, "analysis") & set(ASSESSMENT_COLUMNS)


def test_0005_keeps_stored_types_and_counts_as_they_were(empty_db_url: str) -> None:
    url = empty_db_url
    _filled_at(url, "0003")
    upgrade_database(url, "0004")
    before = _snapshot(url)

    upgrade_database(url, "0005")
    after = _snapshot(url)
    assert [r["inflammatory_type_uncertain"] for r in after["analysis"]] == [0, 0, 0]
    assert [(r["type_confidence"], bool(r["type_uncertain"])) for r in after["lesion"]] == [(None, False)] * 3
    strip = {"analysis": ("inflammatory_type_uncertain",), "lesion": ("type_confidence", "type_uncertain")}
    for table, columns in strip.items():
        assert [{k: v for k, v in r.items() if k not in columns} for r in after[table]] == before[table]
    downgrade_database(url, "0004")
    assert _snapshot(url) == before


def test_0009_adds_close_ups_with_a_site_and_typicality(empty_db_url: str) -> None:
    url = empty_db_url
    _filled_at(url, "0003")
    upgrade_database(url, "0008")
    before = _snapshot(url)

    upgrade_database(url, "0009")
    after = _snapshot(url)
    assert [(r["typicality"], bool(r["unusual"])) for r in after["analysis"]] == [(None, False)] * 3
    assert [r["body_site"] for r in after["photo"]] == [None] * len(after["photo"])
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE photo SET view = 'close-up', body_site = 'left_cheek' "
                                "WHERE id = 1"))
        with pytest.raises(sa.exc.IntegrityError):  # a site outside the list is refused
            with connection.begin_nested():
                connection.execute(text("UPDATE photo SET body_site = 'elbow_x' WHERE id = 1"))
        connection.execute(text("UPDATE analysis SET typicality = 0.25, unusual = true WHERE id = 1"))
    engine.dispose()

    downgrade_database(url, "0008")  # a close-up becomes a front photo; the rest as it was
    rolled_back = _snapshot(url)
    assert rolled_back["photo"][0]["view"] == "front"
    assert not _columns(url, "photo") & set(CLOSE_UP_COLUMNS)
    assert not _columns(url, "analysis") & set(CLOSE_UP_COLUMNS)
    assert rolled_back["analysis"] == before["analysis"]


def test_0010_tells_the_administrator_what_changed(empty_db_url: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 24: enrolments without consent and patient codes that differ only in capitals are
    printed and kept in the audit trail; a stored note over its limit is shortened to it (and
    said so); the sign-in table comes and goes."""
    url = empty_db_url
    _filled_at(url, "0003")
    upgrade_database(url, "0009")
    engine = create_engine(url)
    with engine.begin() as connection:
        # Patient 1 consented (a date) and allows research use; patient 2 did neither.
        connection.execute(text("UPDATE patient SET research_consent = true WHERE id = 1"))
        _insert(connection, "patient", code="acn-001", name=None, consent_date=None,
                skin_type=None, notes="x" * 6000, team=None, owner_id=2, created_at=_T0,
                research_consent=False)
    engine.dispose()
    capsys.readouterr()

    upgrade_database(url, "0010")
    printed = capsys.readouterr().out
    after = _snapshot(url)
    reports = [(r["target_type"], r["target_id"], r["detail"]) for r in after["audit_event"]
               if r["detail"].startswith("migration 0010")]
    assert [(kind, row_id) for kind, row_id, _ in reports] == [
        ("patient", 3), ("enrolment", 2), ("patient", 3)]
    enrolment = next(d for kind, _, d in reports if kind == "enrolment")
    assert "ACN-002" in enrolment and "no consent date" in enrolment and "ACN-001" not in enrolment
    clash = reports[-1][2]
    assert "acn-001" in clash and "ACN-001" in clash
    assert all(detail.removeprefix("migration 0010: ") in printed for _, _, detail in reports)
    assert len(after["patient"][2]["notes"]) == 5000 and "6,000 characters" in reports[0][2]
    assert "signin_session" in _tables(url)

    downgrade_database(url, "0009")
    assert "signin_session" not in _tables(url)


def test_0011_a_study_measures_one_view(empty_db_url: str) -> None:
    """Issue 26 item 8: studies stored before measure the front view; a view or site outside
    the lists is refused; the downgrade drops the columns and keeps every other value."""
    url = empty_db_url
    _filled_at(url, "0003")
    upgrade_database(url, "0010")
    before = _snapshot(url)

    upgrade_database(url, "0011")
    after = _snapshot(url)
    assert [(r["measured_view"], r["measured_body_site"]) for r in after["study"]] == [
        ("front", None)] * len(after["study"])
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE study SET measured_view = 'close-up', "
                                "measured_body_site = 'chin' WHERE id = 1"))
        for change in ("UPDATE study SET measured_view = 'back' WHERE id = 1",
                       "UPDATE study SET measured_body_site = 'elbow_x' WHERE id = 1"):
            with pytest.raises(sa.exc.IntegrityError):
                with connection.begin_nested():
                    connection.execute(text(change))
    engine.dispose()

    downgrade_database(url, "0010")
    assert not _columns(url, "study") & set(STUDY_VIEW_COLUMNS)
    assert _snapshot(url)["study"] == before["study"]


def test_0012_adds_colour_measures_not_measured_before(empty_db_url: str) -> None:
    """Issue 29: stored analyses have no colour measures (NULL, never a made-up 0); a reference
    other than the two is refused; the downgrade drops the columns and keeps every other value."""
    url = empty_db_url
    _filled_at(url, "0003")
    upgrade_database(url, "0011")
    before = _snapshot(url)

    upgrade_database(url, "0012")
    after = _snapshot(url)
    assert [{name: r[name] for name in COLOUR_COLUMNS} for r in after["analysis"]] == [
        dict.fromkeys(COLOUR_COLUMNS)] * len(after["analysis"])
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE analysis SET colour_reference = 'self-referenced', "
                                "red_area_fraction = 0.031, dark_area_fraction = 0.012, "
                                "clear_skin_ita = 38.5 WHERE id = 1"))
        with pytest.raises(sa.exc.IntegrityError):
            with connection.begin_nested():
                connection.execute(text("UPDATE analysis SET colour_reference = 'guessed' WHERE id = 1"))
    engine.dispose()
    assert _snapshot(url)["analysis"][0]["red_area_fraction"] == pytest.approx(0.031)

    downgrade_database(url, "0011")
    assert not _columns(url, "analysis") & set(COLOUR_COLUMNS)
    assert _snapshot(url)["analysis"] == before["analysis"]
