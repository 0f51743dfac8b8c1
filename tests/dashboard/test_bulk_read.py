"""`state.bulk_read`: the garbage collector pauses during a page's bulk read, and only then."""
from __future__ import annotations

import gc
import threading

import pytest

from dashboard import state


@pytest.fixture(autouse=True)
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_the_collector_pauses_inside_and_resumes_after_even_on_an_error() -> None:
    with state.bulk_read():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), state.bulk_read():
        raise RuntimeError("the read failed")
    assert gc.isenabled()


def test_overlapping_reads_of_two_sessions_resume_it_when_the_last_ends() -> None:
    first_in, second_done = threading.Event(), threading.Event()

    def other_session() -> None:
        with state.bulk_read():
            first_in.set()
            second_done.wait(5)

    thread = threading.Thread(target=other_session)
    thread.start()
    assert first_in.wait(5)
    with state.bulk_read():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other session's read still runs
    second_done.set()
    thread.join(5)
    assert gc.isenabled()


def test_a_collector_paused_by_someone_else_stays_paused() -> None:
    gc.disable()
    with state.bulk_read():
        pass
    assert not gc.isenabled()
