"""Metrics with Mesos names (`master/tasks_running`), served at `/metrics/snapshot` (JSON)
and `/metrics` (Prometheus text).

Counters and push gauges are thread-safe values. A `PullGauge` reads a process's state, so it
is evaluated on that process's thread through `dispatch` when a snapshot is taken, exactly as
Mesos's gauges are deferred to their owner.
"""

from __future__ import annotations

import math
import re
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from libprocess.future import Future, Promise, await_all

if TYPE_CHECKING:
    from libprocess.process import Process

__all__ = ["Counter", "Gauge", "Metric", "PullGauge", "Timer", "add", "get", "prometheus_text",
           "remove", "snapshot"]


class Metric:
    """A named metric; `values()` gives the snapshot entries (name -> number)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def values(self) -> dict[str, float]:
        raise NotImplementedError


class Counter(Metric):
    """A monotonically increasing count (thread-safe)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._value = 0
        self._lock = threading.Lock()

    def inc(self, n: int = 1) -> None:
        with self._lock:
            self._value += n

    @property
    def value(self) -> int:
        return self._value

    def values(self) -> dict[str, float]:
        return {self.name: float(self._value)}


class Gauge(Metric):
    """A value set by its owner (`set`), read by snapshots."""

    def __init__(self, name: str, value: float = 0.0) -> None:
        super().__init__(name)
        self.value = float(value)

    def set(self, value: float) -> None:
        self.value = float(value)

    def values(self) -> dict[str, float]:
        return {self.name: self.value}


class PullGauge(Metric):
    """A value computed by `fn()` on `process`'s thread (or the caller's if no process)."""

    def __init__(self, name: str, fn: Callable[[], float], process: Process | None = None):
        super().__init__(name)
        self.fn = fn
        self.process = process

    def evaluate(self) -> Future[float]:
        if self.process is None:
            try:
                return Future.ready(float(self.fn()))
            except Exception as e:
                return Future.failed(str(e))
        from libprocess.process import dispatch

        return dispatch(self.process, self.fn)

    def values(self) -> dict[str, float]:
        return {self.name: float(self.fn())}


class Timer(Metric):
    """Durations in milliseconds over a window of recent samples, with percentiles.

    The snapshot has `name` (the last sample), `name/count`, `/min`, `/max`, `/p50`, `/p90`,
    `/p95`, `/p99`, `/p999`, `/p9999`, as Mesos's timers do.
    """

    PERCENTILES = (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99),
                   ("p999", 0.999), ("p9999", 0.9999))

    def __init__(self, name: str, window: int = 1000) -> None:
        super().__init__(name)
        self._samples: deque[float] = deque(maxlen=window)
        self._count = 0
        self._lock = threading.Lock()

    def record(self, milliseconds: float) -> None:
        with self._lock:
            self._samples.append(milliseconds)
            self._count += 1

    def values(self) -> dict[str, float]:
        with self._lock:
            samples = sorted(self._samples)
            last = self._samples[-1] if self._samples else None
            count = self._count
        if last is None:
            return {}
        out = {self.name: last, f"{self.name}/count": float(count),
               f"{self.name}/min": samples[0], f"{self.name}/max": samples[-1]}
        for label, q in self.PERCENTILES:
            index = min(len(samples) - 1, max(0, math.ceil(q * len(samples)) - 1))
            out[f"{self.name}/{label}"] = samples[index]
        return out


_lock = threading.Lock()
_metrics: dict[str, Metric] = {}

# The longest a snapshot waits for its pull gauges, whatever the caller asks for.
MAX_SNAPSHOT_TIMEOUT = 60.0


def add(metric: Metric) -> Metric:
    """Registers `metric` (replacing one of the same name)."""
    with _lock:
        _metrics[metric.name] = metric
    return metric


def remove(metric: Metric | str) -> None:
    name = metric if isinstance(metric, str) else metric.name
    with _lock:
        _metrics.pop(name, None)


def get(name: str) -> Metric | None:
    return _metrics.get(name)


def snapshot(timeout: float = 5.0) -> Future[dict[str, float]]:
    """A future of every metric's value; pull gauges that time out are left out."""
    with _lock:
        items = list(_metrics.values())
    result: dict[str, float] = {}
    pending: list[tuple[str, Future[float]]] = []
    for metric in items:
        if isinstance(metric, PullGauge):
            pending.append((metric.name, metric.evaluate()))
        else:
            result.update(metric.values())
    if not pending:
        return Future.ready(dict(sorted(result.items())))
    promise: Promise[dict[str, float]] = Promise()
    finished = threading.Lock()

    def finish(_: Any) -> None:
        # Both the timer and the last gauge may get here, on two threads: only the first
        # builds the answer (the other would mutate `result` while it is being sorted).
        if not finished.acquire(blocking=False):
            return
        for name, f in pending:
            if f.is_ready():
                try:
                    result[name] = float(f.value)
                except (TypeError, ValueError):
                    pass
        promise.set(dict(sorted(result.items())))

    # Real-time bound: a snapshot must answer even while a test holds the clock paused. A
    # timeout that is not a finite number of seconds (`inf`, `nan`, `1e400`: a timer thread
    # would die of it, and the answer could then wait for ever) is bounded.
    if not 0.0 <= timeout <= MAX_SNAPSHOT_TIMEOUT:
        timeout = MAX_SNAPSHOT_TIMEOUT if timeout > 0 else 0.0
    timer = threading.Timer(timeout, finish, (None,))
    timer.daemon = True
    timer.start()
    def done(f: Any) -> None:
        timer.cancel()
        finish(f)

    await_all([f for _, f in pending]).on_any(done)
    return promise.future


_PROM_BAD = re.compile(r"[^a-zA-Z0-9_:]")


def prometheus_name(name: str) -> str:
    """`master/tasks_running` -> `master_tasks_running`; `registrar/x_ms/p50` -> `..._p50`."""
    out = _PROM_BAD.sub("_", name)
    return out if not out[:1].isdigit() else "_" + out


def prometheus_text(values: dict[str, float]) -> bytes:
    """Renders a snapshot in the Prometheus text format with prometheus-client."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import GaugeMetricFamily

    class _SnapshotCollector:
        def collect(self) -> Any:
            seen: set[str] = set()
            for name, value in values.items():
                prom = prometheus_name(name)
                if prom in seen:
                    continue
                seen.add(prom)
                family = GaugeMetricFamily(prom, f"Mesos metric {name}")
                family.add_metric([], value)
                yield family

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SnapshotCollector())
    return generate_latest(registry)


