"""A description of the machine a benchmark ran on, for its report."""

import os
import platform
from importlib.metadata import version
from pathlib import Path


def describe() -> dict[str, object]:
    memory_kib = 0
    try:
        with Path("/proc/meminfo").open() as meminfo:
            memory_kib = int(meminfo.readline().split()[1])
    except OSError:
        pass
    cpu = platform.processor()
    try:
        with Path("/proc/cpuinfo").open() as cpuinfo:
            cpu = next(
                (
                    line.split(":", 1)[1].strip()
                    for line in cpuinfo
                    if line.startswith("model name")
                ),
                cpu,
            )
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024**2, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {
            name: version(name) for name in ("duckdb", "polars", "pyarrow", "dagster", "numpy")
        },
    }
