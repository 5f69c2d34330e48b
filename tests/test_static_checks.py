"""The static checks are part of the suite (so CI runs them): ruff over the whole project, mypy strict on the core."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str) -> str:
    exe = Path(sys.executable).parent / name
    found = str(exe) if exe.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed in the test environment (it is in the dev dependency group)")
    return found


def test_ruff_finds_nothing() -> None:
    r = subprocess.run([_tool("ruff"), "check", "--output-format", "concise", "src", "tests", "benchmarks", "dev.py"],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_strict_on_the_core() -> None:
    r = subprocess.run([_tool("mypy"), "src/osteocare/core"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
