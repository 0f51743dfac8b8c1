"""`core.imaging.read_photo_file` (the `core.analyze` command's reader) opens a file once: a
named pipe is refused at once instead of hanging, and the size comes from the open descriptor
(issue 24, "check and use the same bytes")."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from core.errors import PhotoError
from core.imaging import read_photo_file


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    pipe = tmp_path / "photo.jpg"
    os.mkfifo(pipe)
    box: list[BaseException | object] = []

    def read() -> None:
        try:
            box.append(read_photo_file(pipe))
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            box.append(error)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive():  # unblock the old code's open so the thread ends
        os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(10)
        pytest.fail("reading a named pipe hung")
    assert isinstance(box[0], PhotoError)
    assert "not a plain file" in str(box[0])


def test_a_file_over_the_limit_is_refused_from_its_size(tmp_path: Path) -> None:
    big = tmp_path / "big.jpg"
    with big.open("wb") as handle:
        handle.truncate(70_000_000)  # sparse
    with pytest.raises(PhotoError, match="is 70.0 MB; the largest photo accepted is 60 MB"):
        read_photo_file(big)
