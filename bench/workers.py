"""What the gunicorn workers cost while wrk runs: peak RSS and CPU time, from /proc."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from tests.support.live import children


def vm_hwm(pid: int) -> int | None:
    """Peak resident set size of a process, in bytes."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class WorkerSampler:
    """Peak RSS and CPU time of each worker, sampled from /proc while wrk runs and after.

    Sampling during the run catches workers that gunicorn recycles (max_requests) before
    they exit. CPU time is counted from the first sample of each worker (0 for one that
    started during the run, so its boot is included); the last 0.5 s of a worker that
    exits mid-run is lost.
    """

    def __init__(self, master: int, interval: float = 0.5) -> None:
        self.master = master
        self.interval = interval
        self.peaks: dict[int, int] = {}
        self.cpu_first: dict[int, float] = {}
        self.cpu_last: dict[int, float] = {}
        self._started = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> None:
        for pid in children(self.master):
            hwm = vm_hwm(pid)
            cpu = cpu_seconds(pid)
            if hwm is not None:
                self.peaks[pid] = max(hwm, self.peaks.get(pid, 0))
            if cpu is not None:
                self.cpu_first.setdefault(pid, cpu if not self._started else 0.0)
                self.cpu_last[pid] = cpu

    @property
    def cpu(self) -> float:
        return sum(self.cpu_last[pid] - self.cpu_first[pid] for pid in self.cpu_last)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> WorkerSampler:
        self.sample()
        self._started = True
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample()
