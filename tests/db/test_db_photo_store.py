"""The content-addressed photo store on disk."""
from __future__ import annotations

import hashlib
import os
import stat
import time
from pathlib import Path

import pytest

from db.photos import PhotoStore


def test_put_read_exists_delete_round_trip(tmp_path: Path) -> None:
    store = PhotoStore(tmp_path / "photos")
    data = b"\x89PNG fake bytes"
    sha = store.put(data, ".png")
    assert sha == hashlib.sha256(data).hexdigest()
    assert store.path_for(sha, ".png") == tmp_path / "photos" / sha[:2] / f"{sha}.png"
    assert store.read(sha, ".png") == data
    assert store.exists(sha, ".png") and not store.exists(sha, ".jpg")
    assert list(store.iter_files()) == [(sha, ".png")]
    assert store.delete(sha, ".png") is True
    assert store.delete(sha, ".png") is False
    assert not store.exists(sha, ".png")
    with pytest.raises(FileNotFoundError, match=sha):
        store.read(sha, ".png")


def test_put_is_idempotent_and_reports_who_created_the_file(tmp_path: Path) -> None:
    store = PhotoStore(tmp_path)
    first = store.put_checked(b"abc", ".jpg")
    second = store.put_checked(b"abc", ".JPG")  # the extension is normalised
    assert first == (second[0], True)
    assert second[1] is False
    assert len(list(store.iter_files())) == 1


def test_root_and_subfolders_are_private(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    store = PhotoStore(root)
    sha = store.put(b"x", ".png")
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.path_for(sha, ".png").parent.stat().st_mode) == 0o700


@pytest.mark.parametrize("extension", ["", ".exe", "/../../x", ".png/../..", "png", None])
def test_extensions_outside_the_allow_list_are_refused(tmp_path: Path, extension: object) -> None:
    store = PhotoStore(tmp_path / "photos")
    with pytest.raises(ValueError, match="extension"):
        store.put(b"data", extension)  # type: ignore[arg-type]
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


@pytest.mark.parametrize("sha", ["../" + "a" * 61, "A" * 64, "a" * 63, "g" * 64, ""])
def test_malformed_digests_are_refused(tmp_path: Path, sha: str) -> None:
    store = PhotoStore(tmp_path)
    with pytest.raises(ValueError, match="SHA-256"):
        store.path_for(sha, ".png")


def test_iter_files_skips_temporary_and_foreign_files(tmp_path: Path) -> None:
    store = PhotoStore(tmp_path)
    sha = store.put(b"real", ".png")
    folder = store.path_for(sha, ".png").parent
    (folder / ".tmp-abc.png").write_bytes(b"half")
    (folder / "notes.txt").write_text("x")
    (tmp_path / "README").write_text("x")
    assert list(store.iter_files()) == [(sha, ".png")]


def test_stale_temporary_files_go_to_quarantine(tmp_path: Path) -> None:
    store = PhotoStore(tmp_path)
    sha = store.put(b"real", ".png")
    folder = store.path_for(sha, ".png").parent
    old, new = folder / ".tmp-old.png", folder / ".tmp-new.png"
    old.write_bytes(b"1")
    new.write_bytes(b"2")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    assert store.stale_temp_files(older_than_s=3600) == [old]
    batch = store.new_quarantine_batch()
    assert store.quarantine_path(old, batch)
    assert not old.exists() and (batch / old.name).read_bytes() == b"1"
    assert new.exists() and store.exists(sha, ".png")
    assert list(store.iter_files()) == [(sha, ".png")], "the quarantine is not part of the store"
    with pytest.raises(ValueError, match="not inside the photo folder"):
        store.quarantine_path(tmp_path.parent / "elsewhere.png", batch)


def test_quarantine_keeps_files_until_emptied_and_releases_unchanged_ones(tmp_path: Path) -> None:
    store = PhotoStore(tmp_path)
    kept, damaged = store.put(b"kept", ".png"), store.put(b"damaged", ".jpg")
    batch = store.new_quarantine_batch()
    assert store.quarantine(kept, ".png", batch) and store.quarantine(damaged, ".jpg", batch)
    assert not store.quarantine(kept, ".png", batch), "already gone"
    (batch / f"{damaged}.jpg").write_bytes(b"bit rot")
    assert store.release_from_quarantine(kept, ".png") and store.read(kept, ".png") == b"kept"
    assert not store.release_from_quarantine(damaged, ".jpg"), "changed bytes stay out"
    assert store.empty_quarantine(older_than_s=3600) == 0  # too young
    assert store.empty_quarantine() == 1 and store.quarantine_batches() == []


def test_the_identity_file_is_written_once(tmp_path: Path) -> None:
    store = PhotoStore(tmp_path)
    assert store.read_identity() is None
    assert store.write_identity("first") == "first"
    assert store.write_identity("second") == "first", "a second binding never overwrites"
    assert stat.S_IMODE(store.identity_path.stat().st_mode) == 0o600


def test_verify_detects_changed_bytes(tmp_path: Path) -> None:
    store = PhotoStore(tmp_path)
    sha = store.put(b"original", ".png")
    assert store.verify(sha, ".png")
    store.path_for(sha, ".png").write_bytes(b"tampered")
    assert not store.verify(sha, ".png")


def test_refuses_non_bytes(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="bytes"):
        PhotoStore(tmp_path).put("text", ".png")  # type: ignore[arg-type]
