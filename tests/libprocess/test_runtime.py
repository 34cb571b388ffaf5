"""The runtime's life-cycle edges: spawn and terminate racing other threads, events for
finished processes, and exits (`sys.exit` / `libprocess.exit`) from handlers."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from typing import Any

import pytest

import libprocess
from libprocess import (
    UPID,
    FutureDiscarded,
    FutureFailed,
    Process,
    dispatch,
    spawn,
    terminate,
    testing,
    wait,
)


class Journal(Process):
    """Records, in order, which of its hooks and methods ran."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id)
        self.entries: list[str] = []

    def initialize(self) -> None:
        self.entries.append("initialize")

    def finalize(self) -> None:
        self.entries.append("finalize")

    def poke(self) -> str:
        self.entries.append("poke")
        return "poked"

    def exited(self, upid: UPID) -> None:
        self.entries.append(f"exited {upid.id}")


def test_dispatch_to_a_finished_process_is_discarded() -> None:
    """This test ensures that a dispatch to a process that has finished gives a discarded
    future at once (it used to stay pending for ever), and leaves nothing in flight."""
    journal = Journal()
    spawn(journal)
    terminate(journal)
    assert wait(journal, 5)
    future = dispatch(journal, journal.poke)
    with pytest.raises(FutureDiscarded):
        future.get(5)
    testing.settle(5)
    assert journal.entries == ["initialize", "finalize"]


def test_events_racing_terminate_all_complete() -> None:
    """This test ensures that dispatches racing a terminate from another thread all
    complete, either run or discarded, and that `settle` still returns: none is lost in the
    inbox of a stopping actor."""
    for _ in range(20):
        journal = Journal()
        spawn(journal)
        futures: list[Any] = []
        started = threading.Event()

        def storm(target: Journal = journal, futures: list[Any] = futures,
                  started: threading.Event = started) -> None:
            started.set()
            for _ in range(200):
                futures.append(dispatch(target, target.poke))

        sender = threading.Thread(target=storm)
        sender.start()
        started.wait(5)
        terminate(journal, inject=False)
        sender.join(10)
        assert wait(journal, 5)
        for future in futures:
            assert future.wait(5), "a dispatch racing terminate never completed"
            assert future.is_ready() or future.is_discarded()
        testing.settle(5)
        assert journal.entries.count("poke") == sum(f.is_ready() for f in futures)


def test_terminating_an_unspawned_process_does_nothing() -> None:
    """This test ensures that terminating a process that was never spawned is a no-op (it
    used to raise and leave an event counted in flight, so every later `settle` hung), and
    that waiting for it returns at once."""
    never = Journal()
    terminate(never)
    assert wait(never, 0)
    testing.settle(5)
    with pytest.raises(FutureFailed, match="not spawned"):
        dispatch(never, never.poke).get(5)


def test_initialize_runs_even_when_terminated_at_once() -> None:
    """This test ensures that `initialize` runs before `finalize` even when the process is
    terminated (dropping its queued events) right after `spawn`, as in libprocess."""
    for _ in range(10):
        journal = Journal()
        spawn(journal)
        terminate(journal)
        assert wait(journal, 5)
        assert journal.entries == ["initialize", "finalize"]


def test_initialize_comes_before_events_from_other_threads() -> None:
    """This test ensures that a process is visible to other threads only once `initialize`
    is queued: a thread that dispatches as soon as it can look the process up never gets
    its event handled first (it used to, or to crash on a process without an actor)."""
    manager = libprocess.manager()
    for i in range(30):
        ident = f"early-bird-{i}"
        journal = Journal(ident)
        poked: list[Any] = []

        def spin(ident: str = ident, poked: list[Any] = poked) -> None:
            while True:
                process = manager.lookup(ident)
                if process is not None:
                    poked.append(dispatch(process, "poke"))
                    return

        spinner = threading.Thread(target=spin)
        spinner.start()
        spawn(journal)
        spinner.join(10)
        assert poked[0].get(5) == "poked"
        assert journal.entries[:2] == ["initialize", "poke"]


def test_links_of_a_finished_linker_are_forgotten() -> None:
    """This test ensures that a process that linked and then finished gets no `exited` (its
    links die with it), while a live linker still does."""
    target, gone, alive = Journal(), Journal(), Journal()
    for process in (target, gone, alive):
        spawn(process)
    dispatch(gone, gone.link, target.upid).get(5)
    dispatch(alive, alive.link, target.upid).get(5)
    terminate(gone)
    assert wait(gone, 5)
    exited = testing.future_exited(alive, target)
    terminate(target)
    assert exited.get(5) == target.upid
    testing.settle(5)
    assert gone.entries == ["initialize", "finalize"]
    assert alive.entries == ["initialize", f"exited {target.id}"]


def test_sys_exit_in_a_handler_ends_that_process_under_the_test_kit() -> None:
    """This test ensures that `sys.exit(3)` in a handler is taken as an exit of the OS
    process (recorded by the test kit instead), that the exiting process is terminated,
    and that the other processes keep running (pykka used to stop every actor, silently)."""
    exiting, bystander = Journal(), Journal()
    spawn(exiting)
    spawn(bystander)
    status = testing.future_exit()
    call = dispatch(exiting, sys.exit, 3)
    assert status.get(5) == 3
    assert wait(exiting, 5)
    assert exiting.entries == ["initialize", "finalize"]
    with pytest.raises(FutureDiscarded):
        call.get(5)
    assert dispatch(bystander, bystander.poke).get(5) == "poked"


def test_libprocess_exit_never_returns_to_the_handler() -> None:
    """This test ensures that `libprocess.exit(code, message)` gives its status, ends the
    calling process, and that the code after it never runs."""
    journal = Journal()
    spawn(journal)
    after: list[str] = []

    def commit_suicide() -> None:
        libprocess.exit(2, "Lost leadership")
        after.append("still running")

    status = testing.future_exit()
    dispatch(journal, commit_suicide)
    assert status.get(5) == 2
    assert wait(journal, 5)
    assert after == []


def test_an_unexpected_exit_fails_the_test() -> None:
    """This test ensures that an exit nobody expected with `future_exit` is reported as a
    failure of the test."""
    journal = Journal()
    spawn(journal)
    dispatch(journal, libprocess.exit, 1, "boom")
    assert wait(journal, 5)
    with pytest.raises(AssertionError, match=r"unexpected libprocess.exit\(1\): boom"):
        testing.check_expectations()


def test_other_base_exceptions_are_handler_errors() -> None:
    """This test ensures that a handler raising a `BaseException` that is not an exit (a
    stray `KeyboardInterrupt`) fails its dispatch and is counted, and the process keeps
    serving."""
    journal = Journal()
    spawn(journal)
    errors = libprocess.metrics.get("libprocess/handler_errors")
    assert errors is not None
    before = errors.values()["libprocess/handler_errors"]

    def interrupt() -> None:
        raise KeyboardInterrupt

    with pytest.raises(FutureFailed, match="KeyboardInterrupt"):
        dispatch(journal, interrupt).get(5)
    assert dispatch(journal, journal.poke).get(5) == "poked"
    assert errors.values()["libprocess/handler_errors"] == before + 1


_EXITING_DAEMON = textwrap.dedent("""
    import sys
    import libprocess

    libprocess.initialize(ip="127.0.0.1")
    main, other = libprocess.Process("main"), libprocess.Process("other")
    libprocess.spawn(main)
    libprocess.spawn(other)
    if sys.argv[1] == "sys.exit":
        libprocess.dispatch(main, sys.exit, 7)
    else:
        libprocess.dispatch(main, libprocess.exit, 5, "Committing suicide")
    # The main thread waits for the process, as a daemon's `main()` does; it is the exit
    # that must end the OS process, with its status.
    libprocess.wait(main, 60)
    sys.exit(0)
""")


@pytest.mark.integration
@pytest.mark.parametrize("how, status", [("sys.exit", 7), ("libprocess.exit", 5)])
def test_exit_in_a_handler_ends_the_os_process(how: str, status: int) -> None:
    """This test ensures that, outside the test kit, an exit in a handler ends the whole OS
    process with the handler's status and logs why (it used to leave a process with every
    actor stopped, its `wait` hanging, and status 0)."""
    result = subprocess.run([sys.executable, "-c", _EXITING_DAEMON, how],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == status, result.stderr
    assert f"Exiting with status {status}" in result.stderr


def test_a_slow_spawn_holds_no_lock_and_reserves_its_id(monkeypatch):
    """This test ensures that while a process's thread is being started (which can take
    milliseconds), the runtime's lock is free (other threads list processes, link, spawn) and
    its id is reserved: a second process with that id is refused, and the first one still
    starts with `initialize` as its first event."""
    from libprocess import runtime

    started = threading.Event()
    release = threading.Event()
    real_start = runtime._ProcessActor.start

    def slow_start(*args: Any, **kwargs: Any) -> Any:
        started.set()
        assert release.wait(10)
        return real_start(*args, **kwargs)

    monkeypatch.setattr(runtime._ProcessActor, "start", slow_start)
    slow = Journal("slow-spawn")
    spawning = threading.Thread(target=spawn, args=(slow,))
    spawning.start()
    try:
        assert started.wait(10)
        listed: list[Any] = []
        lister = threading.Thread(target=lambda: listed.append(libprocess.manager().processes()))
        lister.start()
        lister.join(5)
        assert not lister.is_alive(), "processes() waited for a thread start"
        assert all(p.id != "slow-spawn" for p in listed[0])
        with pytest.raises(ValueError, match="exists already"):
            spawn(Journal("slow-spawn"))
    finally:
        release.set()
        spawning.join(10)
    assert dispatch(slow, lambda: list(slow.entries)).get(10) == ["initialize"]
    terminate(slow)
    assert wait(slow, 10)
