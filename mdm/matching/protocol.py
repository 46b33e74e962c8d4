"""What the pipeline asks of a matching engine, and how one is picked by name.

An engine matches a set of records in match form under a spec, explains a pair, gives the
value shares of a population and the blocking keys of records for the index kept between
runs. ``LocalEngine`` (``mdm.matching.engine``) does it in this process with numpy; other
engines implement the same ``MatchEngine`` and are imported only when named, so that their
dependencies stay optional: ``SparkEngine`` (``mdm.matching.spark_engine``) does the pair work
on Spark, with the same results.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Final, Protocol

import numpy.typing as npt
import pandas as pd

from mdm.config.match_spec import MatchSpec
from mdm.config.specs import ProjectSpec
from mdm.errors import MdmError, Reason
from mdm.matching.encoded import PairsLike
from mdm.matching.explain import Explanation
from mdm.matching.model import FellegiSunterModel
from mdm.matching.result import MatchResult

LOCAL: Final = "local"
SPARK: Final = "spark"
DEFAULT_ENGINE: Final = LOCAL


class MatchEngine(Protocol):
    @property
    def name(self) -> str: ...

    def match(
        self,
        records: pd.DataFrame,
        spec: MatchSpec,
        *,
        model: FellegiSunterModel | None = None,
        labels: pd.DataFrame | None = None,
        must_link: PairsLike | None = None,
        cannot_link: PairsLike | None = None,
        new: npt.ArrayLike | None = None,
        groups: npt.ArrayLike | None = None,
        frequencies: Mapping[str, pd.Series] | pd.DataFrame | None = None,
        oversized: Collection[str] = (),
    ) -> MatchResult:
        """Match ``records`` (``record_id`` and the match-form columns ``spec`` reads, with a
        default RangeIndex) under ``spec``.

        model: a trained model to score with (probabilistic); trained from the records when
          None (``MatchResult.trained`` then says so: save it to reuse it).
        labels: known pairs (``left_record_id``, ``right_record_id``, ``is_match``) that refine
          the model's m and u (steward decisions).
        must_link, cannot_link: record id pairs (a frame with ``left_record_id`` and
          ``right_record_id``, or an array of shape (k, 2)) that are, or are not, the same
          entity, whatever the scores; they win over rules and thresholds, and clustering
          respects them (a cannot-link pair never shares a cluster; it wins over a conflicting
          must-link chain). Pairs a rule forces apart are kept apart the same way.
        new: a bool per record: only pairs with at least one new record are made (a delta).
        groups: a label per record: only pairs across different labels are made (linkage).
        frequencies: term frequencies (comparison name -> value -> share; or a frame with a
          column per comparison, indexed by value) for the term-frequency adjusted
          comparisons, e.g. ``term_frequencies(all_records, spec)`` when ``records`` are only
          part of the population (a delta): shares then do not depend on the part.
          Default: the shares among ``records``.
        oversized: blocking keys (``blocking_keys`` texts) to skip whatever their size among
          ``records``: those over ``max_block_size`` in the population ``records`` are part of
          (a delta), so that the part makes the pairs the whole would make.
        """
        ...

    def term_frequencies(self, records: pd.DataFrame, spec: MatchSpec) -> dict[str, pd.Series]:
        """The value shares of ``records`` for every term-frequency adjusted comparison of
        ``spec`` (comparison name -> value -> share): pass them to ``match`` to match a part
        of these records as the whole would be matched."""
        ...

    def explain(
        self,
        record_a: pd.Series,
        record_b: pd.Series,
        spec: MatchSpec,
        model: FellegiSunterModel,
        *,
        frequencies: Mapping[str, pd.Series] | None = None,
    ) -> Explanation:
        """Why two records (match-form values by field name) match or not, weight by weight."""
        ...

    def blocking_keys(self, records: pd.DataFrame, spec: MatchSpec) -> pd.DataFrame:
        """Every blocking key of every row as stable text (columns ``row``, ``key``): two rows
        share a block exactly when they share a text, so an index of them finds a new
        record's candidates without blocking every record again."""
        ...


def _local(project: ProjectSpec | None) -> MatchEngine:
    from mdm.matching.engine import LocalEngine

    return LocalEngine()


def _spark(project: ProjectSpec | None) -> MatchEngine:
    from mdm.matching.spark_engine import SparkEngine

    return SparkEngine((project or ProjectSpec()).spark)


_ENGINES: Final[Mapping[str, Callable[[ProjectSpec | None], MatchEngine]]] = {
    LOCAL: _local,
    SPARK: _spark,
}
# The engines that run in this process with nothing more installed. The engine-parametrized
# tests run on these and on the spark engine (tests/conftest.py: one local Spark per test
# process), which tests/test_spark_engine.py also holds to the local engine's answers.
ENGINE_NAMES: Final = (LOCAL,)


def engine_named(name: str = DEFAULT_ENGINE, project: ProjectSpec | None = None) -> MatchEngine:
    """The engine called ``name`` (``local``: numpy in this process; ``spark``: on the Spark
    of the ``project``'s ``[spark]`` settings), for a ``project`` (its settings)."""
    make = _ENGINES.get(name)
    if make is None:
        raise MdmError(
            Reason.USAGE,
            f"There is no match engine {name!r}; engines: {', '.join(_ENGINES)}.",
        )
    return make(project)
