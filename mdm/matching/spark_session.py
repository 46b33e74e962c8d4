"""The Spark session of the spark engine: made from ``[spark]``, with errors that say what to
install when PySpark or Java is missing."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

from mdm.config.specs import SparkSpec
from mdm.errors import MdmError, Reason

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MISSING_PYSPARK: Final = (
    "The spark engine needs PySpark, which is not installed: install mdm with its spark "
    "extra (pip install 'mdm[spark]'), or run with --engine local."
)
# Options every session gets unless [spark] options say otherwise: pandas batches over Arrow,
# no progress bars in the terminal, no web UI port taken.
DEFAULT_OPTIONS: Final = {
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
    "spark.ui.enabled": "false",
}


def spark_session(settings: SparkSpec) -> SparkSession:
    """The running Spark session, or a new one on ``settings.master`` with ``settings``'
    options. Raises ``MdmError`` naming what to install when PySpark or Java is missing."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as error:
        raise MdmError(Reason.USAGE, MISSING_PYSPARK) from error
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    # Started by spark-submit (it hands its JVM's gateway over): its --master and --conf hold.
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ
    master = settings.master or (None if submitted else "local[*]")
    builder = SparkSession.builder.appName(settings.app_name)
    if master is not None:
        builder = builder.master(master)
    if master is not None and master.startswith("local"):
        # Spark's Python workers run this interpreter (its packages: mdm, pandas, pyarrow),
        # not whichever python3 comes first on the PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    options = {
        **DEFAULT_OPTIONS,
        "spark.sql.shuffle.partitions": str(settings.partitions),
        **settings.options,
    }
    for key, value in options.items():
        builder = builder.config(key, value)
    try:
        with quiet_pyspark():
            return builder.getOrCreate()
    except Exception as error:  # the JVM did not start: Java missing or misconfigured
        raise MdmError(
            Reason.USAGE,
            f"Spark did not start on {master or 'the spark-submit master'!r}: {error}. The "
            "spark engine needs Java 17 or newer (java on the PATH or JAVA_HOME set; on "
            "Debian: apt-get install openjdk-17-jre-headless).",
        ) from error


@contextmanager
def quiet_pyspark() -> Iterator[None]:
    """PySpark warns on every pandas conversion that it does not yet fully support pandas 3,
    and pandas warns of the arguments PySpark passes it that pandas 3 deprecates; what the
    engine uses of it (Arrow batches of numbers and strings) works, and the warnings would
    drown a run's log. Only warnings raised in PySpark's own code are silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
        )
        warnings.filterwarnings("ignore", module=r"pyspark\.")
        yield


@contextmanager
def job_group(spark: SparkSession, group: str, description: str) -> Iterator[None]:
    """Spark's jobs in the block are in ``group``; the thread's group is restored after."""
    context = spark.sparkContext
    previous = context.getLocalProperty("spark.jobGroup.id")
    context.setJobGroup(group, description)
    try:
        yield
    finally:
        if previous is None:
            context.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
            context.setLocalProperty("spark.job.description", None)  # type: ignore[arg-type]
        else:
            context.setLocalProperty("spark.jobGroup.id", previous)
