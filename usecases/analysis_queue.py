"""One bounded queue of analyses per process (issue 28: many clinicians at once).

Every browser session of an app process shares one loaded analyzer (usecases.model_loading).
Run from each session's own thread, ten uploads at once would run ten analyses at once on two
cores: each slower, all finishing late, memory growing with each. Instead they take turns here:
at most `workers` analyses run at a time, the rest wait in arrival order, and each waiting
caller is told its place ("2 photos ahead of yours") while it waits.
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
DEFAULT_WORKERS = 1  # ONNX Runtime already uses every core for one analysis
_POLL_S = 0.25


class AnalysisQueue:
    """At most `workers` jobs at once; the others wait first come, first served."""

    def __init__(self, workers: int = DEFAULT_WORKERS) -> None:
        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be a whole number of at least 1, not {workers!r}")
        self.workers = workers
        self._cond = threading.Condition()
        self._waiting: deque[object] = deque()
        self._running = 0

    def ahead_of_new(self) -> int:
        """How many jobs a job submitted now would wait behind (running ones included)."""
        with self._cond:
            return self._running + len(self._waiting)

    def run(self, job: Callable[[], T], on_wait: Callable[[int], None] | None = None) -> T:
        """Run `job` when its turn comes and return its result. While it waits, `on_wait` is
        called (outside the lock) with the number of jobs ahead of it whenever that changes."""
        ticket = object()
        told: int | None = None
        with self._cond:
            self._waiting.append(ticket)
        while True:
            with self._cond:
                if self._running < self.workers and self._waiting[0] is ticket:
                    self._waiting.popleft()
                    self._running += 1
                    break
                ahead = self._running + self._waiting.index(ticket)
            if on_wait is not None and ahead != told:
                told = ahead
                on_wait(ahead)
            with self._cond:
                self._cond.wait(timeout=_POLL_S)
        try:
            return job()
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()


_QUEUES: dict[int, AnalysisQueue] = {}
_LOCK = threading.Lock()


def process_queue(workers: int = DEFAULT_WORKERS) -> AnalysisQueue:
    """This process's queue for `workers` (one per process and size, made on first use)."""
    with _LOCK:
        if workers not in _QUEUES:
            _QUEUES[workers] = AnalysisQueue(workers)
        return _QUEUES[workers]


def waiting_sentence(ahead: int) -> str:
    """The waiting user's line, in words."""
    if ahead <= 0:
        return "Analysing the photo ..."
    photos = "photo" if ahead == 1 else "photos"
    return f"Waiting for the analysis: {ahead} {photos} from other users ahead of yours."
