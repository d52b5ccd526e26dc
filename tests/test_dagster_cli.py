"""Dagster's own commands, run bare from the project root as a Dagster user would.

No ``DAGSTER_HOME``, no make: each command keeps its instance under the warehouse that
``TREADMILL_WAREHOUSE`` names, and leaves nothing behind in the project root.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import httpx
import pytest
from dagster._core.instance.ref import InstanceRef

from pipelines.runner import PROJECT_ROOT

BIN = Path(sys.executable).parent
COMMAND_TIMEOUT_S = 300
DEV_START_TIMEOUT_S = 240
DEV_STOP_TIMEOUT_S = 60
"""How long ``dagster dev`` may take to shut down after SIGINT before it is killed."""


def bare_environment(warehouse: Path) -> dict[str, str]:
    """The caller's environment with the venv first on PATH and no ``DAGSTER_HOME``."""
    environment = {key: value for key, value in os.environ.items() if key != "DAGSTER_HOME"}
    environment["PATH"] = f"{BIN}{os.pathsep}{environment.get('PATH', '')}"
    environment["TREADMILL_WAREHOUSE"] = str(warehouse)
    return environment


def run_bare(arguments: list[str], warehouse: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        arguments,
        cwd=PROJECT_ROOT,
        env=bare_environment(warehouse),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, f"{' '.join(arguments)} failed:\n{result.stderr[-3000:]}"
    return result


def instance_files(warehouse: Path) -> set[str]:
    home = warehouse / "dagster"
    return {str(path.relative_to(home)) for path in home.rglob("*.db")}


@pytest.mark.parametrize(
    "command",
    [["dagster", "definitions", "validate"], ["dg", "check", "defs"]],
    ids=["dagster", "dg"],
)
def test_validating_the_definitions_needs_no_dagster_home(
    tmp_path: Path, command: list[str]
) -> None:
    warehouse = tmp_path / "warehouse"

    run_bare([str(BIN / command[0]), *command[1:]], warehouse)

    assert {"history/runs.db", "schedules/schedules.db"} <= instance_files(warehouse)


def test_listing_the_assets_needs_no_dagster_home(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"

    listed = run_bare(
        [str(BIN / "dagster"), "asset", "list", "-m", "pipelines.definitions"], warehouse
    )
    defs = run_bare([str(BIN / "dg"), "list", "defs", "--json"], warehouse)

    assets = set(listed.stdout.split())
    assert {"fct_funding", "fct_open_interest", "report", "catalog"} <= assets
    assert '"fct_funding"' in defs.stdout


def stop_dagster_dev(dev: subprocess.Popen[bytes]) -> None:
    """Stop ``dagster dev`` as Ctrl-C would, then kill its whole process group: its webserver,
    daemon and code servers share it, and none may outlive the test. A shutdown slower than
    :data:`DEV_STOP_TIMEOUT_S` (a loaded machine) is cut short, not failed: how fast Dagster
    exits is not what the test is about."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(dev.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        dev.wait(timeout=DEV_STOP_TIMEOUT_S)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(dev.pid, signal.SIGKILL)
    dev.wait(timeout=30)


def daemon_heartbeats() -> list[str]:
    """The daemons with a heartbeat in the instance the project's dagster.yaml names."""
    with dg.DagsterInstance.from_config(str(PROJECT_ROOT)) as instance:
        return list(instance.get_daemon_heartbeats())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_dagster_dev_keeps_its_history_under_the_warehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The webserver answers and the daemon's heartbeat lands in ``<warehouse>/dagster``: the
    instance outlives ``dagster dev``, unlike Dagster's throwaway default."""
    warehouse = tmp_path / "warehouse"
    # This process reads the same instance through the project's dagster.yaml.
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("TREADMILL_WAREHOUSE", str(warehouse))
    port = free_port()
    with (tmp_path / "dev.log").open("w") as log:
        dev = subprocess.Popen(
            [str(BIN / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(port)],
            cwd=PROJECT_ROOT,
            env=bare_environment(warehouse),
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + DEV_START_TIMEOUT_S
            heartbeats: list[str] = []
            server_info: dict[str, object] = {}
            while time.monotonic() < deadline and not (heartbeats and server_info):
                assert dev.poll() is None, (tmp_path / "dev.log").read_text()[-3000:]
                time.sleep(1)
                if not server_info:
                    try:
                        response = httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=5)
                    except httpx.TransportError:
                        continue
                    if response.status_code == 200:
                        server_info = response.json()
                if (warehouse / "dagster" / "history" / "runs.db").exists():
                    heartbeats = daemon_heartbeats()
            assert "dagster_webserver_version" in server_info
            assert "SCHEDULER" in heartbeats
        finally:
            stop_dagster_dev(dev)
    # dagster dev is gone, its history is not.
    assert "SCHEDULER" in daemon_heartbeats()


def test_the_projects_instance_keeps_everything_under_the_warehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dagster's own layout (``history/``, ``schedules/``, ``storage/``), rooted in the
    warehouse rather than the throwaway directory Dagster makes without ``DAGSTER_HOME``."""
    warehouse = tmp_path / "warehouse"
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("TREADMILL_WAREHOUSE", str(warehouse))
    elsewhere = tmp_path / "throwaway"
    elsewhere.mkdir()

    with dg.DagsterInstance.from_ref(
        InstanceRef.from_dir(str(elsewhere), config_dir=str(PROJECT_ROOT))
    ) as instance:
        result = dg.materialize([_printing], instance=instance)
        assert result.success
        assert instance.storage_directory() == str(warehouse / "dagster" / "storage")

    home = warehouse / "dagster"
    assert (home / "history" / "runs.db").exists()
    assert (home / "storage" / result.run_id).is_dir(), "the step's compute logs"
    assert (home / "storage" / "_printing").exists(), "the asset's output"
    assert list(elsewhere.iterdir()) == []


@dg.asset
def _printing() -> int:
    print("a line for the compute log")
    return 1
