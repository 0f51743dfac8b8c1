"""`python -m usecases.cli.backup`: the command's own warnings (what a backup holds and how it is
restored is tested in tests/db/test_db_backup.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from usecases.cli import backup


def test_a_backup_inside_the_data_folder_gets_a_warning(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("ACNE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DATABASE_URL", db_url)

    assert backup.main(["create", str(data_dir / "backups" / "monday")]) == 0
    err = capsys.readouterr().err
    assert err.startswith(f"warning: {data_dir / 'backups' / 'monday'} is inside the data folder "
                          f"{data_dir}; a backup there is lost with the data folder")

    assert backup.main(["create", str(tmp_path / "other-disk" / "monday")]) == 0
    assert capsys.readouterr().err == ""


def _forge(backup: Path) -> None:
    """What someone who can write the backup folder can do: change a row and its checksum."""
    import json

    from db.photos import sha256_hex

    rows = backup / "tables" / "patient.jsonl"
    rows.write_text(rows.read_text("utf-8").replace("SIGN-1", "SIGN-9"), "utf-8")
    manifest = json.loads((backup / "manifest.json").read_text())
    manifest["sha256"]["tables/patient.jsonl"] = sha256_hex(rows.read_bytes())
    (backup / "manifest.json").write_text(json.dumps(manifest, indent=1))


def test_signed_backups_refuse_a_forged_or_unsigned_restore(
    db_url: str, session, clinician, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
    capsys: pytest.CaptureFixture[str],
) -> None:
    import shutil

    from tests.db.db_factories import make_patient

    make_patient(session, clinician, "SIGN-1")
    monkeypatch.setenv("ACNE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", db_url)
    key = tmp_path / "keys" / "backup.key"
    key.parent.mkdir()
    assert backup.main(["create", str(tmp_path / "unsigned")]) == 0
    assert "not signed (set ACNE_BACKUP_KEY_FILE" in capsys.readouterr().out

    assert backup.main(["make-key", str(key)]) == 0
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_text().strip()) == 64
    assert backup.main(["make-key", str(key)]) == 1  # never overwrites a key
    capsys.readouterr()
    monkeypatch.setenv("ACNE_BACKUP_KEY_FILE", str(key))
    assert backup.main(["create", str(tmp_path / "signed")]) == 0
    assert "signed with ACNE_BACKUP_KEY_FILE" in capsys.readouterr().out
    shutil.copytree(tmp_path / "signed", tmp_path / "forged")
    _forge(tmp_path / "forged")

    def restore(source: str, into: str) -> tuple[int, str]:
        monkeypatch.setenv("ACNE_DATA_DIR", str(tmp_path / into))
        monkeypatch.delenv("DATABASE_URL", raising=False)
        code = backup.main(["restore", str(tmp_path / source)])
        return code, capsys.readouterr().err

    assert restore("forged", "target-1") == (
        1, f"error: {tmp_path / 'forged'} was not signed with this clinic's backup key, or was "
           "changed after it was signed: it is refused\n")
    code, err = restore("unsigned", "target-2")
    assert code == 1 and "is not signed (manifest.sig is missing)" in err
    assert restore("signed", "target-3") == (0, "")

    # Without a key the checksums alone cannot tell: the forged backup restores (README says so).
    monkeypatch.delenv("ACNE_BACKUP_KEY_FILE")
    assert restore("forged", "target-4")[0] == 0


def test_a_key_inside_the_data_folder_or_too_short_is_refused(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    monkeypatch.setenv("ACNE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DATABASE_URL", db_url)
    (data_dir / "backup.key").write_text("x" * 64)
    (tmp_path / "short.key").write_text("too short")
    for key, says in ((data_dir / "backup.key", "lies inside the data folder"),
                      (tmp_path / "short.key", "holds 9 bytes; a key needs at least 32"),
                      (tmp_path / "missing.key", "cannot be read")):
        monkeypatch.setenv("ACNE_BACKUP_KEY_FILE", str(key))
        assert backup.main(["create", str(tmp_path / "never")]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: ACNE_BACKUP_KEY_FILE ({key})") and says in err, err
    assert not (tmp_path / "never").exists()
