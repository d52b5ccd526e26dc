"""What the benchmark sections share: the symbols, simulated archives, timing and peak memory."""

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import TypeVar

from simulator.run import SimConfig, simulate_archive
from transforms.dataset import Source
from transforms.settings import Settings, parse_universe
from transforms.sources import DATASETS

RESULTS = Path(__file__).parent / "results"
TREADMILL = Path(sys.executable).with_name("treadmill")

_COINS = (
    "BTC ETH SOL BNB XRP DOGE ADA AVAX LINK DOT LTC TRX BCH NEAR APT ARB OP SUI FIL ATOM "
    "UNI ETC XLM ICP HBAR INJ STX IMX TIA SEI AAVE MKR GRT ALGO EGLD FTM SAND MANA AXS THETA "
    "FLOW CHZ APE LDO CRV SNX COMP DYDX GMX RUNE KAVA ZIL ENJ GALA ONE QTUM NEO IOTA XTZ EOS "
    "ZEC DASH KSM WAVES BAT ZRX 1INCH SUSHI YFI CELO ANKR ROSE MINA BLUR WLD JUP PYTH ORDI "
    "ENS LRC STORJ SKL AR FET BAND RSR HOT SXP CHR COTI ICX IOST ONT RVN CFX ALICE MASK GLM TWT WOO"
)
SYMBOLS: tuple[str, ...] = tuple(f"{coin}USDT" for coin in _COINS.split())
"""100 USDⓈ-M perpetuals. The simulator knows four of them; it gives every other one a stable,
made-up mid-cap market (``simulator.markets.market_spec``), so any count up to 100 simulates."""

UM_DATASETS = tuple(
    d for d in DATASETS if d.exchange == "binance_um" and d.source is Source.ARCHIVE
)
"""Every USDⓈ-M dataset of Binance's archive (not the REST fallback, not the recorded stream)."""

T = TypeVar("T")


def symbols(count: int) -> tuple[str, ...]:
    """The first ``count`` benchmark symbols."""
    if not 1 <= count <= len(SYMBOLS):
        raise ValueError(f"between 1 and {len(SYMBOLS)} symbols, not {count}")
    return SYMBOLS[:count]


def um_universe(names: Sequence[str]) -> str:
    return f"binance_um:{','.join(names)}"


def simulate(config: SimConfig) -> float | None:
    """Write the archive ``config`` describes; its seconds.

    An archive the simulator already wrote to ``config.out`` with the same settings is re-used
    (``None``): a year of 20 symbols takes minutes to simulate, and the simulator is
    deterministic.
    """
    written = config.out / "truth" / "config.json"
    wanted = json.loads(json.dumps({**asdict(config), "out": str(config.out)}, default=str))
    if written.exists():
        previous = json.loads(written.read_text())
        previous.pop("injected_quirks", None)
        if previous == wanted:
            return None
    began = time.perf_counter()
    simulate_archive(config)
    return time.perf_counter() - began


def simulate_um(out: Path, names: Sequence[str], start: date, end: date) -> float | None:
    """:func:`simulate` a USDⓈ-M-only archive of ``names`` for ``start..end`` into ``out``."""
    return simulate(
        SimConfig(out=out, start=start, end=end, symbols=tuple(names), coin_margined=(), spot=())
    )


def um_settings(warehouse: Path, mirror: Path, names: Sequence[str]) -> Settings:
    """Settings that read the simulated mirror through the same ``file://`` path as the archive."""
    return Settings(
        warehouse=warehouse,
        binance_url=mirror.as_uri() + "/",
        universe=parse_universe(um_universe(names)),
    )


def timed(function: Callable[[], T]) -> tuple[float, float, T]:
    """Wall seconds and CPU seconds (this process, every thread) of one call, and its result."""
    began, cpu = time.perf_counter(), time.process_time()
    result = function()
    return time.perf_counter() - began, time.process_time() - cpu, result


def load_average() -> tuple[float, float, float]:
    """The 1, 5 and 15-minute load averages: on a 2-core machine, above 2 means it was shared."""
    one, five, fifteen = os.getloadavg()
    return round(one, 2), round(five, 2), round(fifteen, 2)


@dataclass(frozen=True)
class ProcessRun:
    """One child process: its wall time, its CPU time (user + system), its peak resident memory
    (the high-water mark of the process itself).

    On a machine others share, CPU seconds move less than wall seconds: they count the work,
    not the waiting for a core.
    """

    seconds: float
    cpu_seconds: float
    peak_rss_mib: float


def run_process(args: Sequence[str], env: dict[str, str] | None = None) -> ProcessRun:
    """Run ``args`` to completion (in ``env``, else this environment) and measure it.

    Peak memory is the child's own high-water mark (``VmHWM``), read every 0.2 s while it
    runs. ``wait4``'s ``ru_maxrss`` cannot be used: a child exec'd from a fork starts with its
    parent's high-water mark, and this process may have held gigabytes of simulated archive.
    CPU seconds (user + system) come from ``wait4``. A non-zero exit raises with the tail of
    stderr, so a broken run can never pass for a fast one.
    """
    began = time.perf_counter()
    child = subprocess.Popen(list(args), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak_kib = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal peak_kib
        status = Path(f"/proc/{child.pid}/status")
        while not done.wait(0.2):
            try:
                lines = status.read_text().splitlines()
            except OSError:
                return
            for line in lines:
                if line.startswith("VmHWM:"):
                    peak_kib = max(peak_kib, int(line.split()[1]))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert child.stderr is not None
    stderr = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    done.set()
    watcher.join()
    seconds = time.perf_counter() - began
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        tail = stderr.decode("utf-8", "replace")[-2000:]
        raise RuntimeError(f"{' '.join(args)} exited {child.returncode}:\n{tail}")
    return ProcessRun(seconds, usage.ru_utime + usage.ru_stime, peak_kib / 1024)


def disk_free_gib(path: Path) -> float:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize / 1024**3
