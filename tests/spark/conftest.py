"""One Spark session for the whole test run: local[2], UI off, 2 shuffle partitions, bound to 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

pytest.importorskip("pyspark", reason="PySpark is not installed (pip install -e '.[spark]' or make install)")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs Java 17+ (java on PATH or JAVA_HOME); none here", allow_module_level=True)


@pytest.fixture(scope="session")
def spark():
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from bundlewise.spark.session import SparkConfig, get_session

    session = get_session(SparkConfig(master="local[2]", shuffle_partitions=2, driver_memory="1g",
                                      conf=(("spark.driver.bindAddress", "127.0.0.1"),
                                            ("spark.sql.adaptive.enabled", "false"))))
    yield session
    session.stop()


def pytest_collection_modifyitems(items) -> None:  # type: ignore[no-untyped-def]
    # PySpark 4.3's notices about pandas 3 (every path used here is tested on pandas 3: these tests)
    for item in items:
        if "tests/spark/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"))
            item.add_marker(pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"))
