"""The committed `.proto` and `_pb2` files are exactly what `tools/gen_protos.py` makes today.

A hand edit of a generated file, or a change to the facts or the generator without
regenerating, fails here with the list of stale files.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gen_protos() -> ModuleType:
    # `tools/` is a directory of scripts, not a package, so the generator is loaded by path.
    spec = importlib.util.spec_from_file_location("gen_protos", REPO / "tools" / "gen_protos.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_protos"] = module  # `dataclasses` looks the module up while it runs.
    spec.loader.exec_module(module)
    return module


def test_committed_files_are_current(gen_protos: ModuleType) -> None:
    """This test ensures that regenerating from the facts changes nothing in the tree."""
    stale = gen_protos.check(REPO)
    assert not stale, "stale generated files (run tools/gen_protos.py):\n" + "\n".join(stale)


def test_check_notices_an_edited_module(gen_protos: ModuleType, tmp_path: Path) -> None:
    """This test ensures that the check would catch a hand-edited, deleted or stray file."""
    # 1. Copy the committed tree; the copy is current.
    shutil.copytree(REPO / "mesos" / "protos", tmp_path / "mesos" / "protos")
    assert gen_protos.check(tmp_path) == []

    # 2. Edit one module, delete one stub, add a stray module.
    edited = tmp_path / "mesos" / "protos" / "messages" / "messages_pb2.py"
    edited.write_text(edited.read_text(encoding="utf-8") + "# edited by hand\n", encoding="utf-8")
    (tmp_path / "mesos" / "protos" / "master" / "registry_pb2.pyi").unlink()
    (tmp_path / "mesos" / "protos" / "mesos" / "stray_pb2.py").write_text("", encoding="utf-8")

    # 3. Each problem is reported, naming the file.
    stale = gen_protos.check(tmp_path)
    assert stale == [
        "mesos/protos/master/registry_pb2.pyi: missing",
        "mesos/protos/mesos/stray_pb2.py: not generated from the facts (delete it)",
        "mesos/protos/messages/messages_pb2.py: differs from a fresh generation",
    ]
