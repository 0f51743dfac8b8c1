"""`python -m usecases.cli.import_folder` (usecases.folder_import): a folder of photos into patients, visits and analysed photos,
resumable without analysing anything twice. Photos are scikit-image's public-domain astronaut."""
from __future__ import annotations

import io
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from usecases import folder_import, folder_plan
from usecases.cli import import_folder as import_command

BAD = b"these bytes are a note, not a photo"


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.model_factory import build_tiny_weights

    return build_tiny_weights(tmp_path_factory.mktemp("tiny-weights"))


_LOADED: dict[Path, object] = {}  # the tiny analyzer, loaded once per weights folder


class CountingAnalyzer:
    """The real tiny analyzer (loaded on the first call), counting its calls; raises
    KeyboardInterrupt on call `stop_at`."""

    def __init__(self, load, stop_at: int | None = None) -> None:  # noqa: ANN001
        self.load, self.stop_at, self.calls = load, stop_at, 0

    def analyze(self, photo):  # noqa: ANN001, ANN201
        self.calls += 1
        if self.stop_at is not None and self.calls >= self.stop_at:
            raise KeyboardInterrupt
        return self.load().analyze(photo)


@pytest.fixture
def use_analyzer(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest):  # noqa: ANN201
    """Make the command's model loader hand out a CountingAnalyzer; returns the installer.
    Tests that must analyse nothing never build or load the tiny model."""
    import core.pipeline

    real_load = core.pipeline.load_analyzer  # before any patch: the patched one returns the counter

    def load_tiny():  # noqa: ANN202 - core.pipeline.Analyzer
        weights = request.getfixturevalue("tiny_weights")
        if weights not in _LOADED:
            _LOADED[weights] = real_load(weights)
        return _LOADED[weights]

    def install(stop_at: int | None = None) -> CountingAnalyzer:
        counting = CountingAnalyzer(load_tiny, stop_at)
        monkeypatch.setattr("core.pipeline.load_analyzer", lambda weights_dir, **options: counting)
        return counting
    return install


def face_file(path: Path, brightness: int, fmt: str = "PNG") -> None:
    """The astronaut at 256 px, brightened by `brightness` (distinct bytes per file)."""
    from skimage import data

    image = np.asarray(Image.fromarray(data.astronaut()).resize((256, 256)), np.int16)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(image + brightness, 0, 255).astype(np.uint8)).save(buffer, format=fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


def clinic_folder(root: Path) -> Path:
    """Two patients, three visits, four photos, one bad file and a file the importer ignores."""
    face_file(root / "P001" / "2024-01-10" / "a.png", 0)
    face_file(root / "P001" / "2024-01-10" / "b.jpg", 20, "JPEG")
    face_file(root / "P001" / "2024-02-10" / "DCIM" / "c.jpg", -20, "JPEG")  # a camera's subfolder
    face_file(root / "P002" / "2024-01-12" / "d.png", 10)
    (root / "P002" / "2024-01-12" / "bad.jpg").write_bytes(BAD)
    (root / "P002" / "2024-01-12" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    return root


def run(folder: Path, account: str, weights: Path, *extra: str) -> int:
    return import_command.main([str(folder), "--account", account, "--weights", str(weights),
                              "--no-progress", *extra])


def stored(dash) -> dict[str, dict[date, list[str]]]:  # noqa: ANN001
    """code -> visit date -> names of the photos with at least one analysis."""
    from db.repository import get_account_by_username, list_analyses, list_patients, list_photos, list_visits

    with dash.env.session() as session:
        admin = get_account_by_username(session=session, username="boss")
        result: dict[str, dict[date, list[str]]] = {}
        for patient in list_patients(session=session, actor=admin):
            visits = result.setdefault(patient.code, {})
            for visit in list_visits(session=session, actor=admin, patient_id=patient.id):
                photos = list_photos(session=session, actor=admin, visit_id=visit.id)
                assert all(list_analyses(session=session, actor=admin, photo_id=p.id) for p in photos)
                visits[visit.visit_date] = sorted(p.filename for p in photos)
        return result


def upload_hashes(dash) -> Counter:  # noqa: ANN001
    from sqlmodel import select

    from db.models import Photo

    with dash.env.session() as session:
        return Counter(session.exec(select(Photo.upload_sha256)).all())


EXPECTED = {
    "P001": {date(2024, 1, 10): ["a.png", "b.jpg"], date(2024, 2, 10): ["c.jpg"]},
    "P002": {date(2024, 1, 12): ["d.png"]},
}


@pytest.mark.slow
def test_import_creates_patients_visits_and_analysed_photos(dash, tmp_path, tiny_weights, capsys) -> None:  # noqa: ANN001
    dash.make_account("boss", role="admin")
    dash.make_account("dr_a", team="north")
    folder = clinic_folder(tmp_path / "export")

    code = run(folder, "dr_a", tiny_weights)  # the real model loader on the tiny weights

    out = capsys.readouterr().out
    assert code == import_command.EXIT_REFUSED  # the bad file
    assert stored(dash) == EXPECTED
    assert "refused P002/2024-01-12/bad.jpg: " in out
    from core.errors import PhotoError
    from core.imaging import decode_photo

    with pytest.raises(PhotoError) as sentence:
        decode_photo(BAD, filename="bad.jpg")
    assert str(sentence.value) in out  # the decoder's own sentence, not a traceback
    assert out.strip().splitlines()[-1].startswith("Stored 4 photos")
    assert "skipped 0 already imported, refused 1" in out
    with dash.env.session() as session:  # the patients belong to the importing clinician's team
        from db.repository import get_account_by_username, list_patients

        mine = list_patients(session=session, actor=get_account_by_username(session=session, username="dr_a"))
        assert {p.code: p.team for p in mine} == {"P001": "north", "P002": "north"}


@pytest.mark.slow
def test_second_run_stores_and_analyses_nothing(dash, tmp_path, tiny_weights, use_analyzer, capsys) -> None:  # noqa: ANN001
    dash.make_account("boss", role="admin")
    folder = clinic_folder(tmp_path / "export")
    first = use_analyzer()
    assert run(folder, "boss", tiny_weights) == import_command.EXIT_REFUSED
    assert first.calls == 4
    capsys.readouterr()

    second = use_analyzer()
    assert run(folder, "boss", tiny_weights) == import_command.EXIT_REFUSED  # bad.jpg is still bad

    assert second.calls == 0
    assert stored(dash) == EXPECTED
    assert set(upload_hashes(dash).values()) == {1}
    assert "Stored 0 photos (0 with quality problems), skipped 4 already imported, refused 1" in (
        capsys.readouterr().out)


@pytest.mark.slow
def test_interrupted_import_resumes_storing_each_photo_once(dash, tmp_path, tiny_weights, use_analyzer) -> None:  # noqa: ANN001
    dash.make_account("boss", role="admin")
    folder = clinic_folder(tmp_path / "export")
    interrupted = use_analyzer(stop_at=3)  # Ctrl-C while the third photo is analysed

    assert run(folder, "boss", tiny_weights) == import_command.EXIT_INTERRUPTED
    # Two photos are analysed at once: the fourth may have started beside the third.
    assert interrupted.calls in (3, 4)
    assert sum(upload_hashes(dash).values()) == 2  # the two analysed photos were stored

    resumed = use_analyzer()
    assert run(folder, "boss", tiny_weights) == import_command.EXIT_REFUSED
    assert resumed.calls == 2  # only the two photos not stored yet
    assert stored(dash) == EXPECTED
    assert set(upload_hashes(dash).values()) == {1}


@pytest.mark.slow
def test_limit_and_single_patient_folder(dash, tmp_path, tiny_weights, use_analyzer, capsys) -> None:  # noqa: ANN001
    dash.make_account("boss", role="admin")
    patient = tmp_path / "P009"  # exported for one patient: the folder's name is the code
    face_file(patient / "2024-03-01" / "a.png", 0)
    face_file(patient / "2024-03-01" / "b.png", 30)
    face_file(patient / "2024-03-01" / "copy_of_a.png", 0)  # the same bytes as a.png
    counting = use_analyzer()

    assert run(patient, "boss", tiny_weights, "--limit", "1") == import_command.EXIT_OK
    assert counting.calls == 1
    assert sum(upload_hashes(dash).values()) == 1
    assert run(patient, "boss", tiny_weights) == import_command.EXIT_OK
    assert counting.calls == 2
    assert stored(dash) == {"P009": {date(2024, 3, 1): ["a.png", "b.png"]}}
    assert "skipped 2 already imported" in capsys.readouterr().out.splitlines()[-1]


def test_account_that_may_not_add_patients_gets_a_clear_error(dash, tmp_path, use_analyzer, capsys) -> None:  # noqa: ANN001
    dash.make_account("boss", role="admin")
    dash.make_account("res", role="researcher")
    folder = clinic_folder(tmp_path / "export")
    counting = use_analyzer()

    assert run(folder, "res", tmp_path) == import_command.EXIT_USAGE
    assert run(folder, "nobody", tmp_path) == import_command.EXIT_USAGE

    err = capsys.readouterr().err
    assert "The account 'res' (researcher) may not add patients or photos" in err
    assert "There is no account named 'nobody'." in err
    assert counting.calls == 0
    assert stored(dash) == {}


def test_without_a_model_nothing_is_created(dash, tmp_path, capsys) -> None:  # noqa: ANN001
    dash.make_account("boss", role="admin")
    folder = clinic_folder(tmp_path / "export")

    assert run(folder, "boss", dash.env.weights_dir) == import_command.EXIT_MODEL  # an empty folder

    assert f"No usable model in {dash.env.weights_dir}" in capsys.readouterr().err
    assert stored(dash) == {}  # not even the patients


def test_patient_code_of_another_team_is_refused_before_analysis(dash, tmp_path, use_analyzer,
                                                                 capsys) -> None:  # noqa: ANN001
    dash.make_account("boss", role="admin")
    south = dash.make_account("dr_b", team="south")
    dash.make_patient(south, "P002", team="south")
    dash.make_account("dr_a", team="north")
    folder = tmp_path / "export"
    face_file(folder / "P002" / "2024-01-12" / "d.png", 10)
    counting = use_analyzer()

    assert run(folder, "dr_a", tmp_path) == import_command.EXIT_REFUSED

    out = capsys.readouterr().out
    assert "refused P002/2024-01-12/d.png: patient P002 cannot be created" in out
    assert "may not see" in out
    assert counting.calls == 0
    assert stored(dash) == {"P002": {}}  # dr_b's patient, untouched


def test_plan_folder_refuses_misplaced_files_with_reasons(tmp_path: Path) -> None:
    root = tmp_path / "export"
    for name in ("P001/2024-01-10/a.jpg", "P001/2024-01-10/DCIM/100CANON/b.jpg", "P001/notes.txt",
                 "P001/holiday/c.jpg", "P001/2024-13-01/d.jpg", "bad code/2024-01-10/e.jpg",
                 "loose.jpg", "P002/2999-01-01/f.jpg", "P002/.hidden/g.jpg", "P002/Thumbs.db"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")

    planned, refused = folder_plan.plan_folder(root)

    assert [(p.name, p.patient_code, p.visit_date) for p in planned] == [
        ("P001/2024-01-10/DCIM/100CANON/b.jpg", "P001", date(2024, 1, 10)),
        ("P001/2024-01-10/a.jpg", "P001", date(2024, 1, 10)),
    ]
    reasons = {outcome.name: outcome.reason for outcome in refused}
    assert set(reasons) == {"P001/notes.txt", "P001/holiday/c.jpg", "P001/2024-13-01/d.jpg",
                            "bad code/2024-01-10/e.jpg", "loose.jpg", "P002/2999-01-01/f.jpg"}
    assert "YYYY-MM-DD" in reasons["P001/holiday/c.jpg"]
    assert "YYYY-MM-DD" in reasons["P001/2024-13-01/d.jpg"]  # no 13th month
    assert "patient code 'bad code'" in reasons["bad code/2024-01-10/e.jpg"]
    assert "patient folder" in reasons["loose.jpg"]
    assert "in the future" in reasons["P002/2999-01-01/f.jpg"]
    with pytest.raises(folder_plan.BatchImportError, match="is not a folder"):
        folder_plan.plan_folder(root / "missing")


@pytest.mark.slow  # a fresh interpreter importing core and db
def test_the_import_command_never_imports_streamlit() -> None:
    import subprocess
    import sys

    code = "import sys, usecases.cli.import_folder; print('streamlit' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.stdout.strip() == "False"


def test_links_that_leave_the_folder_are_refused(tmp_path: Path) -> None:
    """A link to a file elsewhere on the machine, or a patient folder that is a link to another
    folder, must not pull those files into a patient's record."""
    outside = tmp_path / "elsewhere"
    (outside / "2024-01-10").mkdir(parents=True)
    (outside / "secret.png").write_bytes(b"x")
    (outside / "2024-01-10" / "x.png").write_bytes(b"x")
    root = tmp_path / "export"
    visit = root / "P001" / "2024-01-10"
    visit.mkdir(parents=True)
    (visit / "a.png").write_bytes(b"x")
    (visit / "copy-of-a.png").symlink_to(visit / "a.png")  # stays inside: allowed
    (visit / "secret.png").symlink_to(outside / "secret.png")
    (visit / "linked-folder").symlink_to(outside)
    (root / "P009").symlink_to(outside)  # a patient folder that is a link
    (root / "P001" / "2024-02-10").symlink_to(outside / "2024-01-10")  # a visit folder link

    planned, refused = folder_plan.plan_folder(root)

    assert [p.name for p in planned] == ["P001/2024-01-10/a.png", "P001/2024-01-10/copy-of-a.png"]
    reasons = {outcome.name: outcome.reason for outcome in refused}
    assert set(reasons) == {"P001/2024-01-10/secret.png", "P001/2024-01-10/linked-folder", "P009",
                            "P001/2024-02-10"}
    for name, reason in reasons.items():
        assert reason == f"'{name}' is a link to a place outside the imported folder; copy the photos into the folder."

    # Swapped for a link after the plan was made: refused when read.
    (visit / "a.png").unlink()
    (visit / "a.png").symlink_to(outside / "secret.png")
    assert folder_plan.read_planned(planned[0]) == (
        "'P001/2024-01-10/a.png' is a link to a place outside the imported folder; copy the photos into the folder.")


def test_a_visit_folder_named_by_a_date_that_does_not_exist(tmp_path: Path) -> None:
    (tmp_path / "export" / "P001" / "2026-02-30").mkdir(parents=True)
    (tmp_path / "export" / "P001" / "2026-02-30" / "x.jpg").write_bytes(b"x")
    planned, refused = folder_plan.plan_folder(tmp_path / "export")
    assert planned == []
    assert [(o.name, o.reason) for o in refused] == [
        ("P001/2026-02-30/x.jpg", "the visit folder 2026-02-30 names a date that does not exist (YYYY-MM-DD)")]


@pytest.mark.slow
def test_a_patient_created_meanwhile_by_another_import_is_found_not_refused(
    dash, tmp_path, use_analyzer, monkeypatch, capsys,  # noqa: ANN001
) -> None:
    """Two imports of overlapping folders: the other one creates P001 after this one looked for
    it and before this one creates it. This one must find it and go on."""
    from db.models import PatientCreate
    from db.repository import create_patient

    dash.make_account("boss", role="admin")
    doctor = dash.make_account("dr_a", team="north")
    folder = tmp_path / "export"
    face_file(folder / "P001" / "2024-01-10" / "a.png", 0)
    use_analyzer()
    real_check = folder_import._Importer.check

    def check_then_lose_the_race(self, planned):  # noqa: ANN001, ANN202
        todo = real_check(self, planned)  # has looked P001 up: not there yet
        with dash.env.session() as session:  # the other import, as the same clinician
            create_patient(session=session, actor=dash.get_account(doctor), data=PatientCreate(code="P001"))
        return todo

    monkeypatch.setattr(folder_import._Importer, "check", check_then_lose_the_race)

    assert run(folder, "dr_a", tmp_path) == import_command.EXIT_OK

    assert "Stored 1 photo " in capsys.readouterr().out
    assert stored(dash) == {"P001": {date(2024, 1, 10): ["a.png"]}}


# ------------------------------------------------------ issue 24: check and read the same bytes
def _one_photo_folder(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(folder, its one photo, a secret file outside the folder)."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    secret = outside / "secret.png"
    face_file(secret, 50)
    root = tmp_path / "export"
    photo = root / "P001" / "2024-01-10" / "a.png"
    face_file(photo, 0)
    return root, photo, secret


def test_a_file_swapped_for_a_link_between_check_and_read_is_not_read(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """The check (where the file really lies) and the read are one open: a file swapped for a
    link to a file outside the folder right after the check is refused, its target never read."""
    import os

    root, photo, secret = _one_photo_folder(tmp_path)
    planned, _ = folder_plan.plan_folder(root)
    real_realpath = os.path.realpath
    swapped = []

    def realpath_then_swap(path, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        result = real_realpath(path, *args, **kwargs)
        if not swapped and Path(path) == photo:  # the check has looked: now swap the file
            swapped.append(True)
            photo.unlink()
            photo.symlink_to(secret)
        return result

    monkeypatch.setattr(os.path, "realpath", realpath_then_swap)
    data = folder_plan.read_planned(planned[0])
    monkeypatch.undo()

    assert swapped
    assert data != secret.read_bytes()
    assert data == ("'P001/2024-01-10/a.png' became a link while it was imported (a link is never "
                    "followed when a photo is read); it was not read.")


def test_a_file_swapped_in_a_rename_loop_never_gives_outside_bytes(tmp_path) -> None:  # noqa: ANN001
    """A thread swaps the photo and a link to a file outside the folder as fast as it can (the
    reported attack): no read ever returns the outside file's bytes."""
    import os
    import threading

    root, photo, secret = _one_photo_folder(tmp_path)
    planned, _ = folder_plan.plan_folder(root)
    link = photo.with_name("link.tmp")
    link.symlink_to(secret)
    spare = photo.with_name("spare.tmp")
    stop = threading.Event()

    def swap() -> None:
        while not stop.is_set():  # photo <-> link, through a spare name, one rename at a time
            os.replace(photo, spare)
            os.replace(link, photo)
            os.replace(photo, link)
            os.replace(spare, photo)

    thread = threading.Thread(target=swap, daemon=True)
    thread.start()
    outside = secret.read_bytes()
    try:
        reads = [folder_plan.read_planned(planned[0]) for _ in range(3000)]
    finally:
        stop.set()
        thread.join()
    assert not any(data == outside for data in reads)
    assert any(isinstance(data, bytes) for data in reads)  # the photo itself was read at times


def _run_with_deadline(seconds: float, function, *args):  # noqa: ANN001, ANN002, ANN202
    """`function(*args)` in a thread; (finished, result)."""
    import threading

    box: list = []
    thread = threading.Thread(target=lambda: box.append(function(*args)), daemon=True)
    thread.start()
    thread.join(seconds)
    return (not thread.is_alive()), (box[0] if box else None)


def test_a_named_pipe_in_a_visit_folder_is_skipped_with_a_sentence(dash, tmp_path, use_analyzer,
                                                                   capsys) -> None:  # noqa: ANN001
    """A FIFO used to hang the import (opening it waits for a writer)."""
    import os

    dash.make_account("boss", role="admin")
    visit = tmp_path / "export" / "P001" / "2024-01-10"
    visit.mkdir(parents=True)
    pipe = visit / "camera.jpg"
    os.mkfifo(pipe)
    counting = use_analyzer()

    finished, code = _run_with_deadline(20, run, tmp_path / "export", "boss", tmp_path)
    if not finished:  # unblock the old code's open, so the thread ends
        os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
    assert finished, "the import hung on a named pipe"
    assert code == import_command.EXIT_REFUSED
    assert ("'P001/2024-01-10/camera.jpg' is a named pipe, not a photo file; it was skipped."
            in capsys.readouterr().out)
    assert counting.calls == 0


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path) -> None:  # noqa: ANN001
    """A 600 MB file (sparse: no disk used) is refused from its size: nothing of it is read into
    memory (the old code read it whole before refusing it)."""
    import os
    import tracemalloc

    visit = tmp_path / "export" / "P001" / "2024-01-10"
    visit.mkdir(parents=True)
    big = visit / "huge.jpg"
    with big.open("wb") as handle:
        handle.truncate(600_000_000)
    planned, _ = folder_plan.plan_folder(tmp_path / "export")
    sentence = "'P001/2024-01-10/huge.jpg' is 600.0 MB; the largest photo accepted is 60 MB."

    tracemalloc.start()
    try:
        data = folder_plan.read_planned(planned[0])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, f"{peak / 1e6:.0f} MB held while refusing the file"
    assert data == sentence
    try:
        folder_plan.sha256_planned(planned[0])
    except folder_plan.RefusedFile as refused:
        assert str(refused) == sentence
    else:
        raise AssertionError("the checksum step read a file over the size limit")
    assert os.stat(big).st_size == 600_000_000


# ------------------------------------------------------------------------------- close-ups
@pytest.mark.parametrize(("parts", "expected"), [
    (("a.jpg",), (None, None)),
    (("DCIM", "100CANON", "a.jpg"), (None, None)),
    (("close-up", "a.jpg"), ("close-up", None)),
    (("Close-Up-Left-Cheek", "a.jpg"), ("close-up", "left_cheek")),
    (("chin", "IMG_0001.JPG"), ("close-up", "chin")),
    (("left cheek", "a.jpg"), ("close-up", "left_cheek")),
    (("close-up-back-2.jpg",), ("close-up", "back")),
    (("closeup_forehead.png",), ("close-up", "forehead")),
    (("close-up 3.jpg",), ("close-up", None)),
    (("chin.jpg",), (None, None)),  # a file's own name says a close-up only with the word
])
def test_a_close_up_is_known_by_its_folder_or_file_name(parts, expected) -> None:  # noqa: ANN001
    assert folder_plan.capture_hint(parts) == expected


@pytest.mark.slow
def test_close_ups_are_imported_with_their_view_and_site(dash, tmp_path, tiny_weights, use_analyzer) -> None:  # noqa: ANN001
    from sqlmodel import select

    from db.models import Photo

    dash.make_account("boss", role="admin")
    root = tmp_path / "export"
    face_file(root / "P001" / "2024-01-10" / "front.png", 0)
    face_file(root / "P001" / "2024-01-10" / "close-up-left-cheek" / "a.png", 10)
    face_file(root / "P001" / "2024-01-10" / "close-up-chin-1.png", 20)
    planned, refused = folder_plan.plan_folder(root)
    assert not refused
    use_analyzer()
    assert run(root, "boss", tiny_weights) == import_command.EXIT_OK
    with dash.env.session() as session:
        rows = {p.filename: (p.view, p.body_site) for p in session.exec(select(Photo)).all()}
    assert rows["a.png"] == ("close-up", "left_cheek")
    assert rows["close-up-chin-1.png"] == ("close-up", "chin")
    assert rows["front.png"][0] != "close-up" and rows["front.png"][1] is None


@pytest.mark.slow
def test_a_full_disk_while_storing_says_the_disk_is_full(dash, tmp_path, use_analyzer, monkeypatch,
                                                          capsys) -> None:  # noqa: ANN001
    """The photo store's lowest write fails with ENOSPC: the photo is refused with "the disk is
    full", not an errno dump or advice to migrate."""
    import errno
    import os

    dash.make_account("boss", role="admin")
    face_file(tmp_path / "export" / "P001" / "2024-01-10" / "a.png", 0)
    use_analyzer()
    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, handle) -> None:  # noqa: ANN001
            self.handle = handle

        def __enter__(self):  # noqa: ANN204
            return self

        def __exit__(self, *exc) -> None:  # noqa: ANN002
            self.handle.close()

        def write(self, data) -> int:  # noqa: ANN001
            raise OSError(errno.ENOSPC, "No space left on device")

    def fdopen(fd, mode="r", *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        handle = real_fdopen(fd, mode, *args, **kwargs)
        return FullDisk(handle) if "w" in mode else handle

    (tmp_path / "empty").mkdir()
    assert run(tmp_path / "empty", "boss", tmp_path) == import_command.EXIT_OK  # folder bound
    monkeypatch.setattr("db.photos.os.fdopen", fdopen)
    assert run(tmp_path / "export", "boss", tmp_path) == import_command.EXIT_REFUSED
    out = capsys.readouterr().out
    assert "refused P001/2024-01-10/a.png: not stored: the disk is full: free some space" in out, out


class OverlapProbe:
    """The tiny analyzer, slowed a little, recording how many analyses run at the same time."""

    def __init__(self, load) -> None:  # noqa: ANN001
        import threading

        self.load, self.running, self.most, self.lock = load, 0, 0, threading.Lock()

    def analyze(self, photo):  # noqa: ANN001, ANN201
        import time

        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(0.3)
            return self.load().analyze(photo)
        finally:
            with self.lock:
                self.running -= 1


@pytest.mark.slow
def test_two_photos_are_analysed_at_once(
        dash, tmp_path, tiny_weights, monkeypatch, capsys) -> None:  # noqa: ANN001
    """Issue 27: one analysis at a time left a core idle between its network runs (4.8 photos/s
    at 4 MP where 6 were asked for)."""
    import core.pipeline
    from usecases import folder_import

    real_load = core.pipeline.load_analyzer
    loaded = {}
    probe = OverlapProbe(lambda: loaded.setdefault("tiny", real_load(tiny_weights)))
    monkeypatch.setattr("core.pipeline.load_analyzer", lambda weights_dir, **options: probe)
    dash.make_account("boss", role="admin")
    folder = clinic_folder(tmp_path / "export")
    assert run(folder, "boss", tiny_weights) == import_command.EXIT_REFUSED  # the one bad file
    assert probe.most == folder_import.ANALYSES_AT_ONCE == 2
    assert stored(dash) == EXPECTED
    out = capsys.readouterr().out
    assert "Stored 4 photos" in out and "refused 1" in out
