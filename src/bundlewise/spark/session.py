"""The Spark session bundlewise runs on: one per process, configured from a frozen :class:`SparkConfig`.

PySpark is imported inside the functions, never at import time (``bundlewise --help`` stays light).
Executors run this project's Python: :func:`get_session` sets ``PYSPARK_PYTHON`` to the driver's
interpreter when it is unset (local mode and a cluster whose nodes share the same environment path);
on a cluster with another layout set ``PYSPARK_PYTHON`` or ``spark.pyspark.python`` yourself.

Examples
--------
>>> SparkConfig(master="local[2]").spark_conf()["spark.sql.shuffle.partitions"]
'2'
>>> SparkConfig.from_dict({"master": "local[1]", "colour": "red"})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
bundlewise.errors.ConfigError: unknown spark key(s) 'colour'; allowed keys are 'app_name', 'conf', ...
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bundlewise.config import _ConfigBase
from bundlewise.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SparkConfig(_ConfigBase):
    """Where and how to run Spark.

    Parameters
    ----------
    master : str, optional
        ``local[N]``, ``spark://host:7077`` (standalone), ``yarn``, ``k8s://https://host:443``; None =
        what ``spark-submit`` (or ``$MASTER``) chose, else ``local[2]``.
    shuffle_partitions : int
        ``spark.sql.shuffle.partitions``: 2 for tests and one machine, ~2-4 per executor core on a cluster.
    executor_memory, driver_memory : str, optional
        JVM heap sizes (``4g``); the pandas workers of ``mapInPandas`` use memory outside it.
    ui : bool
        The Spark web UI (off in tests).
    conf : tuple of (key, value)
        Any other ``spark.*`` setting, e.g. ``(("spark.executor.cores", "4"),)``.
    """

    _name: ClassVar[str] = "spark"

    master: str | None = None
    app_name: str = "bundlewise"
    shuffle_partitions: int = 2
    executor_memory: str | None = None
    driver_memory: str | None = None
    ui: bool = False
    conf: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not isinstance(self.shuffle_partitions, int) or self.shuffle_partitions < 1:
            raise ConfigError(f"shuffle_partitions is {self.shuffle_partitions!r}; it must be an integer >= 1")
        for pair in self.conf:
            if len(pair) != 2 or not str(pair[0]).startswith("spark."):
                raise ConfigError(f"conf entry {pair!r} is not a ('spark.key', 'value') pair; give settings as "
                                  "(('spark.executor.cores', '4'),)")

    def spark_conf(self) -> dict[str, str]:
        """The ``spark.*`` settings of this config (the master is set separately)."""
        out = {"spark.sql.shuffle.partitions": str(self.shuffle_partitions),
               "spark.ui.enabled": str(self.ui).lower(), "spark.ui.showConsoleProgress": "false",
               # naive warehouse timestamps must not move with the machine's time zone (decay ages)
               "spark.sql.session.timeZone": "UTC",
               # mapInPandas batches: bigger ones amortise the Python round trip
               "spark.sql.execution.arrow.maxRecordsPerBatch": "50000"}
        if self.executor_memory:
            out["spark.executor.memory"] = self.executor_memory
        if self.driver_memory:
            out["spark.driver.memory"] = self.driver_memory
        out.update({str(k): str(v) for k, v in self.conf})
        return out


def quiet_pandas_warnings() -> None:
    """PySpark 4.3 warns that pandas 3 is 'not yet fully supported'; every path bundlewise uses is tested on
    pandas 3 (tests/spark), so the notice is silenced (only these two messages)."""
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    warnings.filterwarnings("ignore", message="The copy keyword is deprecated")


def get_session(config: SparkConfig | None = None) -> Any:
    """The active SparkSession, or a new one built from ``config`` (default: :class:`SparkConfig`).

    An active session (a test fixture's, ``spark-submit``'s, a notebook's) is returned as it is:
    one JVM per process, whatever asks for it.
    """
    from pyspark.sql import SparkSession

    quiet_pandas_warnings()
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    config = config or SparkConfig()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers run the project's Python (and numpy)
    builder = SparkSession.builder.appName(config.app_name)
    master = config.master or os.environ.get("MASTER")
    # under spark-submit the JVM already exists (it sets PYSPARK_GATEWAY_PORT) and holds --master: keep it
    launched_by_submit = "PYSPARK_GATEWAY_PORT" in os.environ or "--master" in os.environ.get("PYSPARK_SUBMIT_ARGS", "")
    if master is None and not launched_by_submit:
        master = "local[2]"
    if master is not None:
        if master.startswith("local"):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # nothing listens beyond this machine
        builder = builder.master(master)
    for key, value in config.spark_conf().items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    log.info("spark session %s on %s", session.version, session.sparkContext.master)
    return session
