"""LevelDB storage: durability across reopen, the one-opener lock, and clear failures."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import plyvel
import pytest

from mesos.state import State
from mesos.state.leveldb import LevelDBLockedError, LevelDBStorage, registry_path
from mesos.state.storage import StorageError

TIMEOUT = 10.0


def test_value_survives_close_and_reopen(tmp_path: Path, large_registry: bytes) -> None:
    """This test ensures that a stored variable (here a 50,000-agent registry) is still there,
    with its version, after the storage is closed and the directory opened again, as after a
    master restart."""
    # 1. Store through one storage, then close it.
    storage = LevelDBStorage(registry_path(tmp_path))
    state = State(storage)
    stored = state.store(state.fetch("registry").get(TIMEOUT).mutate(large_registry))
    variable = stored.get(TIMEOUT)
    assert variable is not None
    storage.close()

    # 2. A new storage on the same directory serves the same variable.
    reopened = LevelDBStorage(registry_path(tmp_path))
    try:
        fetched = State(reopened).fetch("registry").get(TIMEOUT)
        assert fetched.value == large_registry
        assert fetched.uuid == variable.uuid
        assert State(reopened).names().get(TIMEOUT) == ["registry"]
    finally:
        reopened.close()


def test_second_opener_in_this_process_is_refused(tmp_path: Path) -> None:
    """This test ensures that opening a directory that is already open fails at once with a
    message naming the directory and the likely cause, and leaves the first opener working."""
    first = LevelDBStorage(tmp_path / "registry")
    try:
        with pytest.raises(LevelDBLockedError) as error:
            LevelDBStorage(tmp_path / "registry")
        assert str(error.value).startswith(
            f"LevelDB at {tmp_path / 'registry'} is locked by another process "
            "(is another master running?)")

        state = State(first)
        assert state.store(state.fetch("x").get(TIMEOUT).mutate(b"ok")).get(TIMEOUT)
    finally:
        first.close()


def test_second_opener_in_another_process_is_refused(tmp_path: Path) -> None:
    """This test ensures that a second master process on the same `--work_dir` is refused by
    LevelDB's lock with the clear message (and exits instead of corrupting the registry)."""
    first = LevelDBStorage(registry_path(tmp_path))
    try:
        script = textwrap.dedent(f"""
            import sys
            from mesos.state.leveldb import LevelDBLockedError, LevelDBStorage
            try:
                LevelDBStorage({str(registry_path(tmp_path))!r})
            except LevelDBLockedError as e:
                print(e)
                sys.exit(3)
        """)
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 3, result.stderr
        assert "is locked by another process (is another master running?)" in result.stdout
    finally:
        first.close()


def test_closed_storage_fails_operations_and_releases_the_lock(tmp_path: Path) -> None:
    """This test ensures that a closed storage answers with failed futures (never hangs) and
    lets the next opener in."""
    storage = LevelDBStorage(tmp_path / "db")
    storage.close()

    future = State(storage).fetch("registry")

    assert future.is_failed()
    assert "closed" in future.failure
    LevelDBStorage(tmp_path / "db").close()


def test_corrupt_record_fails_the_fetch_clearly(tmp_path: Path) -> None:
    """This test ensures that a record that is not an `Entry` fails the fetch with a message
    naming it, instead of handing garbage to the registrar."""
    db = plyvel.DB(str(tmp_path / "db"), create_if_missing=True)
    db.put(b"registry", b"\xff\xff not a protobuf", sync=True)
    db.close()
    storage = LevelDBStorage(tmp_path / "db")
    try:
        future = State(storage).fetch("registry")

        assert future.is_failed()
        assert "Failed to deserialize Entry 'registry'" in future.failure
    finally:
        storage.close()


def test_unopenable_directory_is_a_clear_error(tmp_path: Path) -> None:
    """This test ensures that a path LevelDB cannot use is reported with the path."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")

    with pytest.raises(StorageError, match=f"Failed to open LevelDB at {blocker}/db"):
        LevelDBStorage(blocker / "db")


def test_registry_path_is_under_work_dir(tmp_path: Path) -> None:
    """This test ensures that the master's registry lives at `<work_dir>/registry`."""
    assert registry_path(tmp_path) == tmp_path / "registry"
