"""Fixtures for the integration tests: real daemons as OS processes on free ports."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from libprocess.testing import await_condition
from mesos.testing import v1_http

HERE = Path(__file__).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except (OSError, urllib.error.URLError):
        return False


class Daemons:
    """Starts OS processes (logs in the test's tmp dir) and kills them all at the end."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.children: list[subprocess.Popen[str]] = []

    def start(self, name: str, args: list[str], **kwargs: Any) -> subprocess.Popen[str]:
        with open(self.tmp / f"{name}.log", "w") as log:
            child = subprocess.Popen([sys.executable, *args],
                                     stdout=kwargs.pop("stdout", log), stderr=log, text=True,
                                     start_new_session=True,
                                     env=dict(os.environ, PYTHONUNBUFFERED="1"), **kwargs)
        self.children.append(child)
        return child

    def master(self, *extra: str) -> str:
        port = free_port()
        work_dir = self.tmp / f"master-{port}"
        work_dir.mkdir()
        self.start(f"master-{port}", ["-m", "mesos.master.main", "--ip=127.0.0.1",
                                      f"--port={port}", f"--work_dir={work_dir}", *extra])
        address = f"127.0.0.1:{port}"
        await_condition(lambda: answers(f"http://{address}/master/health"), 30,
                        message="the master to answer /health")
        return address

    def agent(self, master: str, *extra: str, name: str = "") -> tuple[str, Path]:
        """Starts a `mesos-agent`; returns its HTTP address and work dir once registered."""
        port = free_port()
        work_dir = self.tmp / (name or f"agent-{port}")
        work_dir.mkdir(exist_ok=True)
        self.start(name or f"agent-{port}", [
            "-m", "mesos.agent.main", f"--master={master}", "--ip=127.0.0.1", f"--port={port}",
            f"--work_dir={work_dir}", "--resources=cpus:2;mem:1024;disk:1024",
            "--registration_backoff_factor=100ms", *extra])
        address = f"127.0.0.1:{port}"
        await_condition(lambda: answers(f"http://{address}/state")
                        and get_json(f"http://{address}/state").get("id"), 30,
                        message=f"the agent at {address} to register")
        return address, work_dir

    def framework(self, master: str, spec: dict[str, Any], name: str = "framework"
                  ) -> FrameworkEvents:
        """Starts `batch_framework.py` and follows the JSON events it prints."""
        child = self.start(name, [str(HERE / "batch_framework.py"), master, json.dumps(spec)],
                           stdout=subprocess.PIPE)
        return FrameworkEvents(child)

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        for child in reversed(self.children):
            if child.poll() is None:
                try:
                    os.killpg(child.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            child.wait(10)
            for stream in (child.stdout, child.stderr):
                if stream is not None:
                    stream.close()


class FrameworkEvents:
    """The JSON lines a test framework prints, collected by a reader thread; a wait for one
    lasts `timeout` seconds unless told otherwise."""

    def __init__(self, child: subprocess.Popen[str], timeout: float = 60.0) -> None:
        self.child = child
        self.timeout = timeout
        self.events: list[dict[str, Any]] = []
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.child.stdout is not None
        for line in self.child.stdout:
            try:
                self._queue.put(json.loads(line))
            except ValueError:
                continue
        self._queue.put(None)

    def _next(self, deadline: float) -> dict[str, Any] | None:
        """The next event printed (None once the output ended), recorded in `events`."""
        try:
            event = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"no matching framework event; saw {self.events}") from None
        if event is not None:
            self.events.append(event)
        return event

    def wait_for(self, predicate: Any, timeout: float | None = None) -> dict[str, Any]:
        """The first event (seen before or after this call) satisfying `predicate`."""
        for event in self.events:
            if predicate(event):
                return event
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            following = self._next(deadline)
            if following is None:
                raise RuntimeError(f"the framework exited; saw {self.events}")
            if predicate(following):
                return following

    def wait_exit(self, timeout: float | None = None) -> int:
        """Reads everything up to the end of the output; the exit status."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while self._next(deadline) is not None:
            pass
        return self.child.wait(max(0.0, deadline - time.monotonic()))

    def updates(self, state: str | None = None, **fields: Any) -> list[dict[str, Any]]:
        """The status updates seen so far (in `state`, with these `fields`, if given)."""
        return [e for e in self.events if e["event"] == "update"
                and (state is None or e["state"] == state)
                and all(e.get(k) == v for k, v in fields.items())]


def sandbox_processes(work_dir: Path) -> list[psutil.Process]:
    """The live processes whose environment places them in a sandbox under `work_dir`
    (command executors and their tasks)."""
    root = os.path.realpath(work_dir) + os.sep
    found = []
    for process in psutil.process_iter():
        try:
            directory = process.environ().get("MESOS_DIRECTORY", "")
            if os.path.realpath(directory).startswith(root) and \
                    process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (psutil.Error, OSError):
            continue
    return found


def task_processes(work_dir: Path) -> dict[str, psutil.Process]:
    """The `sleep` of each task under `work_dir`, by task id (the command executor's
    executor id)."""
    tasks = {}
    for process in sandbox_processes(work_dir):
        try:
            if process.name() == "sleep":
                tasks[process.environ()["MESOS_EXECUTOR_ID"]] = process
        except (psutil.Error, KeyError):
            continue
    return tasks


@pytest.fixture
def work_dir(tmp_path: Path) -> Iterator[Path]:
    """An agent's work directory (`tmp_path / "agent"`, not created); every executor and
    task still running in it is killed after the test (they run in sessions of their own,
    outside the daemons' groups)."""
    directory = tmp_path / "agent"
    yield directory
    for process in sandbox_processes(directory):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Daemons]:
    d = Daemons(tmp_path)
    yield d
    d.stop()


def v1_resources(cpus: float, mem: float) -> list[dict[str, Any]]:
    """`cpus` and `mem` as v1 `Resource`s in JSON, as a v1 HTTP scheduler sends them."""
    return [{"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}}]


@pytest.fixture
def http_scheduler() -> Iterator[Callable[[str, str], v1_http.Scheduler]]:
    """`http_scheduler(master, name)`: a v1 HTTP scheduler (as pymesos speaks it) of the
    master at `master` ("ip:port"), subscribed as framework `name` of the current user
    with a 60 s failover timeout, once SUBSCRIBED; all are closed after the test."""
    made: list[v1_http.Scheduler] = []

    def make(master: str, name: str) -> v1_http.Scheduler:
        host, port = master.split(":")
        scheduler = v1_http.Scheduler((host, int(port)))
        made.append(scheduler)
        subscription = scheduler.subscribe({
            "user": os.environ.get("USER", "") or "root", "name": name,
            "failover_timeout": 60})
        assert subscription.status == 200, subscription.body
        assert subscription.first["type"] == "SUBSCRIBED", subscription.first
        return scheduler

    yield make
    for scheduler in made:
        scheduler.close()


@pytest.fixture
def kit() -> Any:
    """Module-level helpers, as a fixture (test modules cannot import this conftest)."""

    class Kit:
        get_json = staticmethod(get_json)
        answers = staticmethod(answers)
        await_condition = staticmethod(await_condition)
        scripted_agent = str(HERE / "scripted_agent.py")
        pid_executor = f"{sys.executable} {HERE / 'pid_executor.py'}"
        FrameworkEvents = FrameworkEvents
        sandbox_processes = staticmethod(sandbox_processes)
        task_processes = staticmethod(task_processes)
        v1_resources = staticmethod(v1_resources)

    return Kit
