"""A background thread that runs a job every so often, for as long as the process serves."""

from __future__ import annotations

import logging
import threading
from typing import Callable

log = logging.getLogger(__name__)


class Periodic:
    """Calls ``job`` every ``seconds`` until stopped; a failed run is logged and the next one goes ahead."""

    def __init__(self, name: str, job: Callable[[], object], seconds: float):
        self.name = name
        self.job = job
        self.seconds = seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.wait(self.seconds):
                try:
                    self.job()
                except Exception:
                    log.exception("%s failed; trying again in %.0f s", self.name, self.seconds)

        self._thread = threading.Thread(target=loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
