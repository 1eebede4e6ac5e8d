"""A real `readerd run` subprocess for the daemon and hostile tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from tests.conftest import ReaderdCLI


class Daemon:
    """One `readerd run` subprocess, its output in a file; killed at the end if still running."""

    def __init__(
        self,
        cli: ReaderdCLI,
        env: dict[str, str] | None = None,
        *,
        args: tuple[str, ...] = (),
        **extra_env: str,
    ) -> None:
        base = env if env is not None else {**cli.base_env(), **cli.env}
        env = {**base, "PYTHONUNBUFFERED": "1", **extra_env}
        self.log_path = cli.data_dir.parent / f"daemon-{time.monotonic_ns()}.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "readerd", "run", *args],
                env=env,
                cwd=cli.data_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: extraction workers included
            )

    @property
    def log(self) -> str:
        """Everything the daemon printed so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
        """Poll condition until true; fail with the daemon's log if it dies or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"daemon exited {self.proc.returncode} before {what}\n{self.log}"
                )
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{self.log}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Send `sig` (SIGTERM by default), then the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL the daemon's whole process group (workers too), if it still runs."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
