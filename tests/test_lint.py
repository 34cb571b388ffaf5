"""House rules that tooling checks: ruff is clean and the layering holds."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_is_clean() -> None:
    """This test ensures that `ruff check` (configured in pyproject.toml) passes."""
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--quiet", "libprocess",
                             "mesos", "tests", "tools"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_libprocess_never_imports_mesos() -> None:
    """This test ensures that the runtime knows nothing of the system built on it."""
    pattern = re.compile(r"^\s*(from|import)\s+mesos\b", re.MULTILINE)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "libprocess").rglob("*.py")
                 if pattern.search(p.read_text())]
    assert offenders == []


def test_no_ambient_time_in_mesos() -> None:
    """This test ensures that `mesos/` reads time and sleeps only through the libprocess
    clock (generated protobuf modules excepted)."""
    pattern = re.compile(r"time\.sleep\(|time\.time\(|threading\.Timer\(")
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "mesos").rglob("*.py")
                 if not p.name.endswith("_pb2.py") and pattern.search(p.read_text())]
    assert offenders == []


def test_mypy_is_clean() -> None:
    """This test ensures that `mypy` (configured in pyproject.toml) passes on `libprocess/`
    and `mesos/`."""
    result = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary", "-p",
                             "libprocess", "-p", "mesos"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
