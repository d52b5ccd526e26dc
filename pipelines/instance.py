"""Where the Dagster instance keeps its state, decided once for every way Dagster is started.

``treadmill``, ``make ui`` and Dagster's own commands run bare from the project root
(``dagster dev``, ``dagster definitions validate``, ``dg check defs``…) all keep run history,
event logs, schedule state, compute logs and artifacts in one place: ``$DAGSTER_HOME`` when it is
set, otherwise ``<warehouse>/dagster``. Without ``DAGSTER_HOME`` Dagster builds a throwaway
instance in the working directory from the project's ``dagster.yaml``; that file names the classes
below, so the throwaway instance still stores everything under the warehouse and history
survives the command. Each class works its directory out when it is built, in whichever process
builds it (the webserver, the daemon, a run worker), from the variables that process inherited.
"""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager
from dagster._core.storage.root import LocalArtifactStorage
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from dagster._serdes import ConfigurableClassData

from transforms.settings import warehouse_root


def dagster_home(warehouse: Path | None = None) -> Path:
    """``$DAGSTER_HOME`` if set, otherwise ``<warehouse>/dagster`` (an absolute path).

    ``warehouse`` defaults to ``$TREADMILL_WAREHOUSE`` or ``./warehouse``, as everywhere else.
    """
    if os.environ.get("DAGSTER_HOME"):
        return Path(os.environ["DAGSTER_HOME"]).resolve()
    return ((warehouse or warehouse_root()) / "dagster").resolve()


class WarehouseStorage(DagsterSqliteStorage):
    """Runs, event logs and schedule state in SQLite under :func:`dagster_home`."""

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> Self:
        return cls.from_local(base_dir=str(dagster_home()), inst_data=inst_data)


class _InDagsterHome:
    """Built by Dagster with no configuration, in ``<dagster home>/<folder>`` as by default."""

    folder: ClassVar[str]

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(base_dir=base_dir, inst_data=inst_data)  # type: ignore[call-arg]

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> Self:
        return cls(base_dir=str(dagster_home() / cls.folder), inst_data=inst_data)


class WarehouseComputeLogs(_InDagsterHome, LocalComputeLogManager):
    """Each step's stdout and stderr, under ``<dagster home>/storage``."""

    folder = "storage"


class WarehouseArtifacts(_InDagsterHome, LocalArtifactStorage):
    """Dagster's local artifacts (its ``storage/`` folder), beside the compute logs."""

    folder = ""
