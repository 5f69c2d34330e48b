#!/usr/bin/env python3
"""One entry point that sets everything up on a fresh machine with only Python 3.11+.

    python3 dev.py run     # set up, then start the web app on SQLite with the demo clinic (osteocare serve)
    python3 dev.py test    # set up (incl. test-only system packages), then run the whole test suite

Set-up: a private bootstrap venv (.venv-bootstrap) gets uv; uv installs the locked dependencies
(uv.lock) into .venv. Nothing is installed globally except, for `test`, the Debian packages the browser
tests need (when run as root on Debian and missing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
BOOT = ROOT / ".venv-bootstrap"
UV_VERSION = "0.13.9"


def sh(*cmd: str | os.PathLike[str], env: dict[str, str] | None = None, check: bool = True) -> int:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env, check=check).returncode


def uv() -> Path:
    found = shutil.which("uv")
    if found:
        return Path(found)
    exe = BOOT / "bin" / "uv"
    if not exe.exists():
        if not (BOOT / "bin" / "python").exists():
            venv.EnvBuilder(with_pip=True).create(BOOT)
        sh(BOOT / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check", f"uv=={UV_VERSION}")
    return exe


def numba_cache_dir() -> Path:
    """Where compiled kernels are cached for this version of the source: .numba-cache/<hash of src>.

    numba keys a cached kernel by the time stamp of its own file only, so a kernel that inlines a function
    from another module (QFracture's uses core.vecmath's exp) kept running the old code after an edit to
    that module alone, and the tests passed against it. Caches of other versions are removed once a day old
    (a run of another version may still be writing to one)."""
    import hashlib
    import time

    src = ROOT / "src" / "osteocare"
    digest = hashlib.sha256()
    for f in sorted(src.rglob("*.py")):
        digest.update(str(f.relative_to(src)).encode() + b"\0" + f.read_bytes())
    root = ROOT / ".numba-cache"
    here = root / digest.hexdigest()[:16]
    for old in root.glob("*") if root.is_dir() else ():
        try:
            stale = old != here and time.time() - old.stat().st_mtime > 86_400
        except OSError:  # removed meanwhile by another run
            continue
        if stale:
            shutil.rmtree(old, ignore_errors=True)
    return here


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.setdefault("UV_PYTHON_DOWNLOADS", "never")
    e.setdefault("UV_PYTHON", sys.executable)
    e.setdefault("NUMBA_CACHE_DIR", str(numba_cache_dir()))  # `run` and `test` alike
    return e


def sync() -> Path:
    """Install the locked dependencies into .venv, and compile every module to bytecode: where
    PYTHONDONTWRITEBYTECODE is set (as on this workplace's machines) Python would otherwise compile pandas,
    numba, pyarrow's and our modules from source in every process (the first chunk of a screening run took
    4.3 s instead of 1.4 s; a CLI command 2-3 s more). Both steps skip what is already compiled."""
    u = uv()
    sh(u, "sync", "--frozen", "--compile-bytecode", env=env())
    sh(ROOT / ".venv" / "bin" / "python", "-m", "compileall", "-q", "src", env=env())
    return u


def run(args: list[str]) -> int:
    """The main job: the web app on the embedded default (SQLite under ./data/), with the demo clinic on first
    start. Extra arguments go to ``osteocare serve`` (``--host``, ``--port``, ...)."""
    u = sync()
    try:
        return sh(u, "run", "--frozen", "osteocare", "serve", *args, env=env(), check=False)
    except KeyboardInterrupt:
        return 0


def _port_open(host: str, port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def system_deps() -> None:
    """What the tests need from the machine: Debian's Chromium (browser tests) and a running PostgreSQL."""
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if not Path("/usr/bin/chromium").exists() and is_root and shutil.which("apt-get"):
        env_apt = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        sh("apt-get", "update", "-qq", env=env_apt, check=False)
        sh("apt-get", "install", "-y", "-qq", "chromium", env=env_apt, check=False)
    if not _port_open("127.0.0.1", 5432) and shutil.which("pg_ctlcluster") and Path("/etc/postgresql").is_dir():
        for version in sorted(p.name for p in Path("/etc/postgresql").iterdir()):
            sh("pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start", check=False)


def test(args: list[str]) -> int:
    system_deps()
    u = sync()
    return sh(u, "run", "--frozen", "pytest", "-n", "2", *args, env=env(), check=False)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in {"run", "test"}:
        print(__doc__)
        return 2
    cmd, rest = sys.argv[1], sys.argv[2:]
    return run(rest) if cmd == "run" else test(rest)


if __name__ == "__main__":
    raise SystemExit(main())
