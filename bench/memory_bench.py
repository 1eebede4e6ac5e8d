"""PSS of readerd's whole process tree, against issue 13's bounds (run by hand; Linux only).

    .venv/bin/python bench/memory_bench.py [--idle SECONDS] [--only once|daemon]

(a) `readerd run --once` on the bundled samples in a fresh data directory (no other
    configuration: the offline analyser), sampled every 20 ms while it runs; the
    peak of the PSS summed over the process and all its descendants, against 250 MiB.
(b) `readerd run` (the daemon) in a fresh data directory: once its first processing
    pass has logged, the PSS of its tree is sampled for --idle seconds between ticks;
    the peak against 120 MiB.

PSS (proportional set size, from /proc/<pid>/smaps_rollup) charges each shared page
to the processes sharing it in equal parts, so the sum over a tree counts every page
once: the memory the tree really costs the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ONCE_BOUND_MIB = 250.0
IDLE_BOUND_MIB = 120.0
SAMPLE_EVERY = 0.02


def _children() -> dict[int, list[int]]:
    """ppid -> pids, for every process visible in /proc."""
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])  # the name may hold spaces
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(root: int) -> list[int]:
    """root and every process below it."""
    tree, found, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, []))
    return found


def pss_kib(pid: int) -> tuple[int, int] | None:
    """(PSS, private) of one process in KiB, or None when it has gone."""
    fields: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("Pss", "Private_Clean", "Private_Dirty"):
                fields[name] = int(rest.split()[0])
    except (OSError, ValueError):
        return None
    if "Pss" not in fields:
        return None
    return fields["Pss"], fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)


def _name(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "?"
    return " ".join(cmd.split()[1:4])[:60] or "?"


@dataclass
class Peak:
    """The largest tree total seen, and how it was made up."""

    total_kib: int = 0
    processes: dict[int, tuple[str, int, int]] = field(default_factory=dict)
    samples: int = 0
    most_processes: int = 0

    def sample(self, root: int) -> None:
        sizes = {pid: pss_kib(pid) for pid in descendants(root)}
        alive = {pid: kib for pid, kib in sizes.items() if kib is not None}
        self.samples += 1
        self.most_processes = max(self.most_processes, len(alive))
        total = sum(pss for pss, _ in alive.values())
        if total > self.total_kib:
            self.total_kib = total
            self.processes = {pid: (_name(pid), *kib) for pid, kib in alive.items()}

    def report(self, what: str, bound_mib: float) -> None:
        mib = self.total_kib / 1024
        print(
            f"{what}: peak PSS {mib:.0f} MiB over {len(self.processes)} processes "
            f"(at most {self.most_processes} at once, {self.samples} samples); "
            f"bound {bound_mib:.0f} MiB; ratio {mib / bound_mib:.2f}"
        )
        for pid, (name, pss, own) in sorted(self.processes.items(), key=lambda p: -p[1][1]):
            print(f"    {pss / 1024:6.1f} MiB PSS ({own / 1024:5.1f} private)  pid {pid}  {name}")


def _env(data_dir: Path) -> dict[str, str]:
    """This environment without READERD_* settings, and a fresh data directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("READERD_")}
    return {**env, "READERD_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}


def _start(args: list[str], data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "readerd", *args],
            env=_env(data_dir),
            cwd=data_dir,  # no .env file from the checkout
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def run_once(work: Path) -> Peak:
    """(a) the peak PSS of `readerd run --once` on the samples."""
    data = work / "once"
    data.mkdir()
    log = work / "once.log"
    peak = Peak()
    started = time.monotonic()
    proc = _start(["run", "--once"], data, log)
    try:
        while proc.poll() is None:
            peak.sample(proc.pid)
            time.sleep(SAMPLE_EVERY)
    finally:
        _kill_group(proc)
    print(f"run --once: exit {proc.returncode} in {time.monotonic() - started:.1f} s")
    if proc.returncode != 0:
        print(log.read_text(errors="replace")[-2000:])
    return peak


def run_daemon(work: Path, idle: float) -> Peak:
    """(b) the peak PSS of the daemon while idle after its first processing pass."""
    data = work / "daemon"
    data.mkdir()
    log = work / "daemon.log"
    busy = Peak()
    proc = _start(["run"], data, log)
    try:
        deadline = time.monotonic() + 120
        while "process: " not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"daemon: no processing pass logged\n{log.read_text()[-2000:]}")
            busy.sample(proc.pid)
            time.sleep(SAMPLE_EVERY)
        busy.report("daemon, first pass (for reference, no bound)", ONCE_BOUND_MIB)
        time.sleep(1.0)  # the pass's finally: blocks (pool shut-down, state file) finish
        idle_peak = Peak()
        until = time.monotonic() + idle
        while time.monotonic() < until:
            idle_peak.sample(proc.pid)
            time.sleep(SAMPLE_EVERY * 5)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=20)
        _kill_group(proc)
    return idle_peak


def main() -> None:
    """Measure and print both figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle sampling")
    parser.add_argument("--only", choices=("once", "daemon"), help="measure just one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="readerd-memory-") as tmp:
        work = Path(tmp)
        if args.only in (None, "once"):
            run_once(work).report("run --once on the samples", ONCE_BOUND_MIB)
        if args.only in (None, "daemon"):
            run_daemon(work, args.idle).report(
                f"daemon idle between ticks ({args.idle:g} s)", IDLE_BOUND_MIB
            )


if __name__ == "__main__":
    main()
