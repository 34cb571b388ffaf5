"""Election and detection without ZooKeeper: one master, always elected.

Port of `src/master/contender/standalone.cpp` and `src/master/detector/standalone.cpp`. The
standalone detector is the scheduler driver's (`mesos.sched.detector`), re-exported here so
the master and the agent find both halves in one place; its `appoint(master_info | None)` is
how tests stage a failover.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from libprocess import Future, Promise
from mesos.sched.detector import StandaloneMasterDetector

__all__ = ["StandaloneMasterContender", "StandaloneMasterDetector"]

log = logging.getLogger(__name__)


class StandaloneMasterContender:
    """Contends for a master that is the only one: the candidacy is obtained at once and
    lasts until `withdraw()` (or the next `contend()`).

    Not a process: its state is a promise behind a lock, so any thread may call it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._initialized = False
        self._promise: Promise[None] | None = None

    def initialize(self, master_info: Any) -> Future[None]:
        """Records that the contender knows its master (it needs nothing more from it)."""
        with self._lock:
            self._initialized = True
        return Future.ready(None)

    def contend(self) -> Future[Future[None]]:
        """A ready future of the candidacy: a future that completes when it is lost."""
        with self._lock:
            if not self._initialized:
                return Future.failed("Initialize the contender first")
            previous, self._promise = self._promise, Promise()
            candidacy = self._promise.future
        if previous is not None:
            log.info("Withdrawing the previous membership before recontending")
            previous.set(None)
        return Future.ready(candidacy)

    def withdraw(self) -> Future[bool]:
        """Ends the candidacy (its future becomes ready); False if there was none."""
        with self._lock:
            promise, self._promise = self._promise, None
        if promise is None:
            return Future.ready(False)
        promise.set(None)
        return Future.ready(True)

    def terminate(self) -> None:
        """Leadership ends with the contender, as in Mesos's destructor."""
        self.withdraw()
