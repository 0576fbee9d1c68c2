"""What a local job uses while it runs: CPU (% of one core, over its whole process tree),
resident memory, and, where an NVIDIA GPU is assigned, the GPU's utilisation and memory
(NVML through nvidia-ml-py). A sampler thread next to the launcher appends one JSON line
per sample to ``system.jsonl`` in the run directory::

    {"t": 4.0, "cpu_percent": 181.5, "rss_mb": 412.3, "gpu_util_percent": 97, "gpu_mem_mb": 3120}

``t`` is seconds since the job started. psutil and nvidia-ml-py are imported in the
thread (the launcher itself must start in milliseconds); without them, or without a GPU,
the fields are simply absent. Sampling never affects the job.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

SAMPLE_S = 2.0
FILE_NAME = "system.jsonl"
MAX_SAMPLES = 20_000  # a week at the default interval; the file stays small

log = logging.getLogger(__name__)


class _Tree:
    """CPU and memory of a process and its descendants, through psutil."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.psutil = psutil
        self.root = psutil.Process(pid)
        self.known: dict[int, Any] = {}

    def sample(self) -> dict[str, float]:
        psutil = self.psutil
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return {}
        cpu = rss = 0.0
        alive: dict[int, Any] = {}
        for proc in procs:
            tracked = self.known.get(proc.pid, proc)
            try:
                # The first reading of a process only primes its counter (0.0).
                cpu += tracked.cpu_percent(None)
                rss += tracked.memory_info().rss
            except psutil.Error:
                continue
            alive[proc.pid] = tracked
        self.known = alive
        return {"cpu_percent": round(cpu, 1), "rss_mb": round(rss / 2**20, 1)}


class _Gpus:
    """Utilisation and memory of the GPUs given to the job, through NVML."""

    def __init__(self, indices: list[int]) -> None:
        import pynvml  # nvidia-ml-py

        pynvml.nvmlInit()
        self.nvml = pynvml
        self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in indices]

    def sample(self) -> dict[str, float]:
        util = mem = 0.0
        for handle in self.handles:
            util += float(self.nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
            mem += float(self.nvml.nvmlDeviceGetMemoryInfo(handle).used) / 2**20
        n = len(self.handles)
        return {"gpu_util_percent": round(util / n, 1), "gpu_mem_mb": round(mem, 1)}

    def close(self) -> None:
        try:
            self.nvml.nvmlShutdown()
        except Exception:  # shutting down NVML is best effort
            log.debug("nvmlShutdown failed", exc_info=True)


def _gpu_indices(run_dir: Path) -> list[int]:
    try:
        text = (run_dir / "gpus").read_text().strip()
    except OSError:
        return []
    return [int(i) for i in text.split(",") if i.strip().isdigit()]


class SystemSampler:
    """Samples the process tree of ``pid`` every ``interval_s`` into ``run_dir``."""

    def __init__(self, run_dir: Path, pid: int, interval_s: float = SAMPLE_S) -> None:
        self.path = run_dir / FILE_NAME
        self.run_dir = run_dir
        self.pid = pid
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="system-metrics", daemon=True)
        self._started = time.monotonic()

    def start(self) -> SystemSampler:
        """Start sampling in a daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Take a last sample and stop."""
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            tree = _Tree(self.pid)
        except Exception as exc:  # psutil missing, or the job already ended
            log.debug("no CPU/memory sampling: %r", exc)
            return
        gpus: _Gpus | None = None
        indices = _gpu_indices(self.run_dir)
        if indices:
            try:
                gpus = _Gpus(indices)
            except Exception as exc:  # nvidia-ml-py missing, or no driver
                log.debug("no GPU sampling: %r", exc)
        try:
            with self.path.open("a", encoding="utf-8") as out:
                count = 0
                while count < MAX_SAMPLES:
                    sample: dict[str, float] = {
                        "t": round(time.monotonic() - self._started, 2), **tree.sample()}
                    if gpus is not None:
                        try:
                            sample.update(gpus.sample())
                        except Exception:  # a GPU reading that fails is skipped
                            log.debug("GPU sample failed", exc_info=True)
                    out.write(json.dumps(sample) + "\n")
                    out.flush()
                    count += 1
                    if self._stop.wait(self.interval_s):
                        break
        except OSError as exc:
            log.debug("system metrics not written: %r", exc)
        finally:
            if gpus is not None:
                gpus.close()


def read_samples(path: Path, limit: int = MAX_SAMPLES) -> list[dict[str, float]]:
    """The samples in a ``system.jsonl`` (malformed lines skipped)."""
    out: list[dict[str, float]] = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return out
    for line in lines[-limit:]:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            out.append({k: float(v) for k, v in record.items()
                        if isinstance(v, int | float) and not isinstance(v, bool)})
    return out
