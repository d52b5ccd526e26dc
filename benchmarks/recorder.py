"""Recorder benchmark: a million synthetic liquidation messages through a real WebSocket server to
the real recorder, on one core each.

The stream server (``python -m simulator.stream_server --synthetic N``) and the recorder run in
two processes pinned to different cores (when there are two), so the recorder's figure is what
one core sustains: every frame read from a socket, classified, stamped and written to its hourly
file, exactly as ``treadmill record`` does. The server replays the three venues' synthetic
messages (a third each) as fast as the recorder takes them.

Measured: messages per second over the run and per second of it (the median and the slowest
full second: *sustained*), the recorder's CPU seconds (messages per CPU second is what one core
could take if the server were never the slower side; the server's CPU seconds say whether it
was), and the recorder's resident memory sampled every second from outside
(``/proc/<pid>/status``), with its own high-water mark at the end. Memory must not grow with the
number of messages: ``rss_growth_mib`` compares the last sample to the one at 10% of the run.

``python -c "from benchmarks.recorder import run; print(run(1_000_000, Path('/tmp/recbench')))"``
"""

import argparse
import asyncio
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

SERVER_START_SECONDS = 30.0
RUN_LIMIT_SECONDS = 600.0
"""A run that has not finished by then is killed and reported as a failure."""


def _rss_mib(pid: int, field: str = "VmRSS") -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a running process (``/proc/<pid>/stat``)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pin(pid: int, core: int) -> bool:
    cores = os.sched_getaffinity(0)
    if len(cores) < 2:
        return False
    os.sched_setaffinity(pid, {sorted(cores)[core]})
    return True


def _start_server(messages: int) -> tuple[subprocess.Popen[str], dict[str, str]]:
    server = subprocess.Popen(
        [sys.executable, "-m", "simulator.stream_server", f"--synthetic={messages}"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    ready, _, _ = select.select([server.stdout], [], [], SERVER_START_SECONDS)
    if not ready:
        server.kill()
        server.wait(timeout=10)
        raise RuntimeError(f"the stream server did not start within {SERVER_START_SECONDS} s")
    urls: dict[str, str] = json.loads(server.stdout.readline())["urls"]
    return server, urls


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def run(messages: int = 1_000_000, work: Path | None = None) -> dict[str, Any]:
    """Replay ``messages`` synthetic messages through the server to the recorder; the figures
    as a JSON-able dict. ``work`` (default: a temporary folder) receives the raw files."""
    work = work or Path(tempfile.mkdtemp(prefix="treadmill-recorder-bench-"))
    raw_root = work / "raw" / "recorder"
    shutil.rmtree(raw_root, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    result_path = work / "recorder-child.json"
    result_path.unlink(missing_ok=True)

    server, urls = _start_server(messages)
    try:
        env = {
            **os.environ,
            "TREADMILL_BINANCE_WS_URL": urls["binance_um"],
            "TREADMILL_BYBIT_WS_URL": urls["bybit"],
            "TREADMILL_OKX_WS_URL": urls["okx"],
        }
        began = time.perf_counter()
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.recorder",
                f"--raw-root={raw_root}",
                f"--messages={messages}",
                f"--result={result_path}",
            ],
            env=env,
            text=True,
        )
        pinned = _pin(child.pid, 0) and _pin(server.pid, 1)
        samples: list[tuple[float, float]] = []
        try:
            while child.poll() is None:
                if time.perf_counter() - began > RUN_LIMIT_SECONDS:
                    raise RuntimeError(f"the recorder did not finish in {RUN_LIMIT_SECONDS} s")
                rss = _rss_mib(child.pid)
                if rss is not None:
                    samples.append((round(time.perf_counter() - began, 2), round(rss, 1)))
                time.sleep(1.0)
        finally:
            _stop(child)
        wall = time.perf_counter() - began
        if child.returncode != 0 or not result_path.exists():
            raise RuntimeError(f"the recorder failed (exit {child.returncode})")
    finally:
        server_cpu = _cpu_seconds(server.pid)
        _stop(server)

    from benchmarks.common import load_average  # heavy (polars): never in the recorder's process

    child_result = json.loads(result_path.read_text())
    stats = child_result["stats"]
    progress: list[list[float]] = child_result["progress"]
    lines = sum(p.read_bytes().count(b"\n") for p in raw_root.glob("*/*/[0-2][0-9].jsonl*"))
    data_bytes = sum(p.stat().st_size for p in raw_root.glob("*/*/[0-2][0-9].jsonl*"))
    per_second = [(b[1] - a[1]) / (b[0] - a[0]) for a, b in pairwise(progress)]
    # Full seconds only: the first (connecting) and the last (the tail) are partial.
    steady = sorted(per_second[1:-1]) or sorted(per_second)
    rss_values = [rss for _, rss in samples]
    tenth = next(
        (rss for t, rss in samples if t >= 0.1 * child_result["seconds"]),
        rss_values[0] if rss_values else None,
    )
    growth = round(rss_values[-1] - tenth, 1) if rss_values and tenth is not None else None
    return {
        "messages": stats["messages"],
        "venues": {name: venue["data"] for name, venue in stats["venues"].items()},
        "lines_written": lines,
        "bytes_written": data_bytes,
        "garbage": stats["garbage"],
        "reconnects": stats["reconnects"],
        "gaps": stats["gaps"],
        "seconds": round(child_result["seconds"], 2),
        "messages_per_second": round(stats["messages"] / child_result["seconds"]),
        "sustained_median_per_second": round(steady[len(steady) // 2]) if steady else None,
        "sustained_min_per_second": round(steady[0]) if steady else None,
        "recorder_cpu_seconds": round(child_result["cpu_seconds"], 2),
        "recorder_messages_per_cpu_second": round(stats["messages"] / child_result["cpu_seconds"]),
        "server_cpu_seconds": round(server_cpu, 2) if server_cpu is not None else None,
        "wall_seconds_with_startup": round(wall, 2),
        "pinned_one_core_each": pinned,
        "rss_mib_max": max(rss_values) if rss_values else None,
        "rss_mib_peak_hwm": child_result["peak_rss_mib"],
        "rss_mib_at_10_percent": tenth,
        "rss_mib_last": rss_values[-1] if rss_values else None,
        "rss_growth_mib": growth,
        "rss_grew": growth is not None and growth > 8.0,
        "rss_samples_mib": rss_values,
        "load_average": load_average(),
        "raw_root": str(raw_root),
    }


def _child(raw_root: Path, messages: int, result: Path) -> None:
    """The recorder's process: record until ``messages`` liquidation messages, then report."""
    from transforms.recorder import Recorder
    from transforms.stream_protocols import venue_streams

    streams = venue_streams(["binance_um", "bybit", "okx"], ["BTCUSDT", "ETHUSDT", "SOLUSDT"])
    recorder = Recorder(streams, raw_root)
    progress: list[list[float]] = []

    async def sample(began: float) -> None:
        while True:
            await asyncio.sleep(1.0)
            progress.append([round(time.perf_counter() - began, 3), recorder.stats.messages])

    async def main() -> float:
        began = time.perf_counter()
        task = asyncio.get_running_loop().create_task(sample(began))
        try:
            await recorder.run(max_messages=messages)
        finally:
            task.cancel()
        seconds = time.perf_counter() - began
        progress.append([round(seconds, 3), recorder.stats.messages])
        return seconds

    cpu = time.process_time()
    # Connecting to 127.0.0.1 takes milliseconds: the run's seconds are recording seconds.
    seconds = asyncio.run(main())
    result.write_text(
        json.dumps(
            {
                "stats": recorder.stats.as_dict(),
                "progress": [[0.0, 0], *progress],
                "seconds": seconds,
                "cpu_seconds": time.process_time() - cpu,
                "peak_rss_mib": _rss_mib(os.getpid(), "VmHWM"),
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--raw-root", type=Path, required=True)
    parser.add_argument("--messages", type=int, required=True)
    parser.add_argument("--result", type=Path, required=True)
    arguments = parser.parse_args()
    _child(arguments.raw_root, arguments.messages, arguments.result)
