"""Issue 28: analyses take turns in one bounded queue per process, and a waiting caller is told
its place."""
from __future__ import annotations

import threading
import time

import pytest

from usecases.analysis_queue import AnalysisQueue, process_queue, waiting_sentence


def test_never_more_than_the_workers_run_at_once_and_every_job_finishes() -> None:
    queue = AnalysisQueue(workers=2)
    running, peak, lock = 0, 0, threading.Lock()
    results: list[int] = []

    def job(n: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return n

    threads = [threading.Thread(target=lambda n=n: results.append(queue.run(lambda: job(n))))
               for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == list(range(10)), "nothing lost"
    assert peak == 2


def test_waiting_callers_are_served_in_arrival_order_and_told_their_place() -> None:
    queue = AnalysisQueue(workers=1)
    release = threading.Event()
    order: list[str] = []
    places: dict[str, list[int]] = {"b": [], "c": []}
    first = threading.Thread(target=lambda: queue.run(lambda: (release.wait(10), order.append("a"))))
    first.start()
    while queue.ahead_of_new() < 1:
        time.sleep(0.01)
    # b runs long enough for c, polling, to see its place move from 2 to 1.
    second = threading.Thread(target=lambda: queue.run(lambda: (order.append("b"), time.sleep(1.0)),
                                                       on_wait=places["b"].append))
    second.start()
    while queue.ahead_of_new() < 2:
        time.sleep(0.01)
    third = threading.Thread(target=lambda: queue.run(lambda: order.append("c"),
                                                      on_wait=places["c"].append))
    third.start()
    while queue.ahead_of_new() < 3:
        time.sleep(0.01)
    time.sleep(0.3)
    release.set()
    for thread in (first, second, third):
        thread.join(timeout=10)
    assert order == ["a", "b", "c"]
    assert places["b"][0] == 1 and places["c"][0] == 2
    assert places["c"][-1] == 1, "told again when the place changed"


def test_a_failing_job_frees_its_place() -> None:
    queue = AnalysisQueue(workers=1)
    with pytest.raises(RuntimeError):
        queue.run(lambda: (_ for _ in ()).throw(RuntimeError("broken photo")))
    assert queue.run(lambda: 7) == 7 and queue.ahead_of_new() == 0


def test_one_queue_per_process_and_words() -> None:
    assert process_queue(1) is process_queue(1)
    with pytest.raises(ValueError, match="at least 1"):
        AnalysisQueue(0)
    assert waiting_sentence(0) == "Analysing the photo ..."
    assert waiting_sentence(1) == "Waiting for the analysis: 1 photo from other users ahead of yours."
    assert "3 photos" in waiting_sentence(3)
