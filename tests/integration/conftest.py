"""Fixtures for the integration tests: real daemons as OS processes on free ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from libprocess.testing import await_condition

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


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Daemons]:
    d = Daemons(tmp_path)
    yield d
    d.stop()


@pytest.fixture
def kit() -> Any:
    """Module-level helpers, as a fixture (test modules cannot import this conftest)."""

    class Kit:
        get_json = staticmethod(get_json)
        answers = staticmethod(answers)
        await_condition = staticmethod(await_condition)
        scripted_agent = str(HERE / "scripted_agent.py")

    return Kit
