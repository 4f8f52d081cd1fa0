"""The app as a visitor meets it: `streamlit run streamlit_app.py` on a free port, until the block ends.

Shared by the benchmarks that open it in Chromium and by the browser tests.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def chromium() -> str | None:
    """Debian's chromium, which the benchmarks open the app in; None, said why, if it is not installed."""
    path = shutil.which("chromium")
    if path is None:
        print("Debian's chromium is not installed (apt-get install chromium)", file=sys.stderr)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def served_app(env: dict[str, str] | None = None, output: int | None = subprocess.DEVNULL,
               script: str = "streamlit_app.py", root: Path = ROOT
               ) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """(its URL, its process), healthy; terminated (then killed) at the end of the block. `script`, from
    the repository's root: another app to serve instead (a benchmark's baseline); `root`, another
    checkout of the app to serve (a benchmark comparing two)."""
    port = free_port()
    if env is None:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=root, env=env, stdout=output, stderr=subprocess.STDOUT if output is not None else None)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"streamlit exited with {proc.returncode}") from None
                time.sleep(0.5)
        else:
            raise RuntimeError("streamlit did not start")
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
