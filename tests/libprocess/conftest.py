"""Helpers for the runtime's tests: a peer OS process and small processes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf.wrappers_pb2 import StringValue

import libprocess
from libprocess import UPID, Process, Promise

PEER = Path(__file__).with_name("peer.py")


class Peer:
    """A runtime in another OS process (`peer.py`): echoes `StringValue`s back to the sender."""

    def __init__(self, *args: str) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.popen = subprocess.Popen([sys.executable, str(PEER), *args],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, env=env)
        assert self.popen.stdout is not None
        line = self.popen.stdout.readline().split()
        if not line or line[0] != "READY":
            err = self.popen.stderr.read() if self.popen.stderr else ""
            raise RuntimeError(f"peer did not start: {line} {err}")
        self.upid = UPID(line[1])
        self.http_port = int(line[2])

    def lines(self) -> Iterator[str]:
        assert self.popen.stdout is not None
        yield from self.popen.stdout

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(10)


@pytest.fixture
def peer() -> Iterator[Peer]:
    p = Peer()
    yield p
    p.kill()
    for stream in (p.popen.stdout, p.popen.stderr):
        if stream is not None:
            stream.close()


class Recorder(Process):
    """Records `StringValue` messages and `exited` events into promises, in order."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id)
        self.messages: list[tuple[UPID, str]] = []
        self.next_message: Promise[tuple[UPID, str]] = Promise()
        self.exits: list[UPID] = []
        self.next_exit: Promise[UPID] = Promise()

    def initialize(self) -> None:
        self.install(StringValue, self.string_value, "value")

    def string_value(self, sender: UPID, value: str) -> None:
        self.messages.append((sender, value))
        promise, self.next_message = self.next_message, Promise()
        promise.set((sender, value))

    def exited(self, upid: UPID) -> None:
        self.exits.append(upid)
        promise, self.next_exit = self.next_exit, Promise()
        promise.set(upid)


@pytest.fixture
def recorder() -> Recorder:
    r = Recorder()
    libprocess.spawn(r)
    return r


@pytest.fixture
def second_recorder() -> Recorder:
    r = Recorder()
    libprocess.spawn(r)
    return r
