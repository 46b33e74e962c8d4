"""The Fellegi-Sunter model: per comparison level, m and u probabilities and their weight.

* ``m[level]``: the probability of the level among pairs that are the same entity;
* ``u[level]``: ... among pairs that are not (an exact level's u is replaced by the value's
  own frequency when the comparison is term-frequency adjusted);
* ``weight = log2(m / u)``: the level's evidence in bits; a ``NULL`` level weighs 0;
* ``prior``: the probability that two random records are the same entity;
* ``u_context[level]`` (a model with a ``context``, such as a contact's employer): the level's
  probability among pairs that are not the same entity but share the context. Where a pair
  agrees on the context, its other comparisons weigh ``log2(m / u_context)``: two colleagues
  share a switchboard number and a mail domain as a matter of course, so within one employer
  those agreements say little about the person, while the names still say much.

A pair's match weight is ``log2(prior / (1 - prior))`` plus its levels' weights, and its match
probability is ``2^w / (1 + 2^w)``.

The model is a readable JSON file (``rules/match/<entity>.model.json``): per comparison its
levels, strongest first, with label, m, u and weight; the prior; how it was trained. Floats are
written exactly (shortest round-trip form), so a saved and reloaded model scores identically.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from mdm.errors import MdmError, Reason
from mdm.matching.comparisons import Comparison

FORMAT: Final = "mdm-fellegi-sunter/1"
FloatArray = npt.NDArray[np.float64]


def log2_odds(probability: float) -> float:
    """The match weight of a probability (``log2(p / (1 - p))``)."""
    return math.log2(probability) - math.log2(1.0 - probability)


@dataclass(frozen=True)
class ComparisonModel:
    """m and u of one comparison's levels, indexed by level code (0 = else)."""

    name: str
    field: str
    labels: tuple[str, ...]
    m: tuple[float, ...]
    u: tuple[float, ...]
    tf_adjust: bool = False
    tf_minimum_u: float = 1e-6
    # u among the non-matching pairs that share the model's context; None without a context
    # and for the context comparison itself.
    u_context: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if not len(self.labels) == len(self.m) == len(self.u):
            raise ValueError(f"comparison {self.name!r}: labels, m and u differ in length")
        if self.u_context is not None and len(self.u_context) != len(self.u):
            raise ValueError(f"comparison {self.name!r}: u_context and u differ in length")
        if any(not 0.0 < p <= 1.0 for p in (*self.m, *self.u, *(self.u_context or ()))):
            raise ValueError(f"comparison {self.name!r}: m and u must be in (0, 1]")

    @property
    def weights(self) -> tuple[float, ...]:
        return tuple(math.log2(m) - math.log2(u) for m, u in zip(self.m, self.u, strict=True))

    @property
    def context_weights(self) -> tuple[float, ...] | None:
        """The weights within the context (``log2(m / u_context)``), if the model has one."""
        if self.u_context is None:
            return None
        pairs = zip(self.m, self.u_context, strict=True)
        return tuple(math.log2(m) - math.log2(u) for m, u in pairs)

    def weight_table(self) -> FloatArray:
        """Weights by code with a trailing 0.0, so that indexing with ``NULL`` (-1) gives 0."""
        return np.array([*self.weights, 0.0], dtype=np.float64)

    def context_weight_table(self) -> FloatArray:
        """``weight_table`` within the context (the plain one where there is no context u)."""
        weights = self.context_weights
        return self.weight_table() if weights is None else np.array([*weights, 0.0])

    def with_u_context(self, u_context: Sequence[float] | None) -> ComparisonModel:
        return dataclasses.replace(
            self, u_context=None if u_context is None else tuple(float(u) for u in u_context)
        )


# eq=False keeps identity semantics cheap; compare models with ``to_dict``.
@dataclass(frozen=True, eq=False)
class FellegiSunterModel:
    entity: str
    prior: float
    comparisons: tuple[ComparisonModel, ...]
    training: Mapping[str, Any] = field(default_factory=dict)
    # The comparison whose exact agreement is the context of the others (see the module).
    context: str | None = None
    # Comparisons whose full agreement stands for the context where the context's own
    # comparison is null (``MatchSpec.context_also``).
    context_also: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 < self.prior < 1.0:
            raise ValueError(f"the prior must be in (0, 1), got {self.prior}")
        names = [c.name for c in self.comparisons]
        for name in (self.context, *self.context_also):
            if name is not None and name not in names:
                raise ValueError(f"the context {name!r} is none of the model's comparisons")
        if self.context_also and self.context is None:
            raise ValueError("context_also needs a context")

    @property
    def context_also_indexes(self) -> tuple[int, ...]:
        names = [c.name for c in self.comparisons]
        return tuple(names.index(name) for name in self.context_also)

    @property
    def context_index(self) -> int | None:
        names = [c.name for c in self.comparisons]
        return None if self.context is None else names.index(self.context)

    @property
    def prior_weight(self) -> float:
        return log2_odds(self.prior)

    def comparison(self, name: str) -> ComparisonModel:
        for comparison in self.comparisons:
            if comparison.name == name:
                return comparison
        raise KeyError(f"the model has no comparison {name!r}")

    def check(
        self,
        comparisons: Sequence[Comparison],
        where: str = "the model",
        context: str | None = None,
        context_also: Sequence[str] = (),
    ) -> None:
        """Raise ``MdmError`` unless this model has exactly these comparisons and levels, and
        the ``context`` the rules declare."""
        have = [(c.name, c.labels) for c in self.comparisons]
        want = [(c.name, c.labels) for c in comparisons]
        if self.context != context or self.context_also != tuple(context_also):
            raise MdmError(
                Reason.RULES,
                f"{where} was trained with context "
                f"{_context_text(self.context, self.context_also)}, the rules now declare "
                f"{_context_text(context, tuple(context_also))}. Delete the model file to train "
                "a new one.",
            )
        if have != want:
            raise MdmError(
                Reason.RULES,
                f"{where} was trained for other comparisons than the rules now declare: "
                f"model {_describe(have)}; rules {_describe(want)}. Delete the model file to "
                "train a new one.",
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "entity": self.entity,
            "prior": {"probability": self.prior, "weight": self.prior_weight},
            "comparisons": [
                {
                    "name": c.name,
                    "field": c.field,
                    "tf_adjust": c.tf_adjust,
                    "tf_minimum_u": c.tf_minimum_u,
                    "levels": [_level_dict(c, code) for code in reversed(range(len(c.labels)))],
                }
                for c in self.comparisons
            ],
            **({"context": self.context} if self.context is not None else {}),
            **({"context_also": list(self.context_also)} if self.context_also else {}),
            "training": dict(self.training),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FellegiSunterModel:
        if data.get("format") != FORMAT:
            raise ValueError(f"not an {FORMAT} model (format: {data.get('format')!r})")
        comparisons = []
        for item in data["comparisons"]:
            levels = sorted(item["levels"], key=lambda level: int(level["code"]))
            if [int(level["code"]) for level in levels] != list(range(len(levels))):
                raise ValueError(f"comparison {item['name']!r}: level codes must be 0..k-1")
            comparisons.append(
                ComparisonModel(
                    name=str(item["name"]),
                    field=str(item["field"]),
                    labels=tuple(str(level["label"]) for level in levels),
                    m=tuple(float(level["m"]) for level in levels),
                    u=tuple(float(level["u"]) for level in levels),
                    tf_adjust=bool(item.get("tf_adjust", False)),
                    tf_minimum_u=float(item.get("tf_minimum_u", 1e-6)),
                    u_context=(
                        tuple(float(level["u_context"]) for level in levels)
                        if all("u_context" in level for level in levels)
                        else None
                    ),
                )
            )
        context = data.get("context")
        return cls(
            entity=str(data["entity"]),
            prior=float(data["prior"]["probability"]),
            comparisons=tuple(comparisons),
            training=dict(data.get("training", {})),
            context=None if context is None else str(context),
            context_also=tuple(str(name) for name in data.get("context_also", ())),
        )

    def save(self, path: Path) -> None:
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False)
        path.write_text(text + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> FellegiSunterModel:
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise MdmError(
                Reason.RULES,
                f"Cannot read the match model {path}: {error}. Delete it to train a new one.",
            ) from error


def _context_text(context: str | None, also: tuple[str, ...]) -> str:
    return repr(context) + (f" (also {', '.join(map(repr, also))})" if also else "")


def _level_dict(comparison: ComparisonModel, code: int) -> dict[str, Any]:
    level: dict[str, Any] = {
        "code": code,
        "label": comparison.labels[code],
        "m": comparison.m[code],
        "u": comparison.u[code],
        "weight": comparison.weights[code],
    }
    context_weights = comparison.context_weights
    if comparison.u_context is not None and context_weights is not None:
        level["u_context"] = comparison.u_context[code]
        level["weight_in_context"] = context_weights[code]
    return level


def _describe(items: list[tuple[str, tuple[str, ...]]]) -> str:
    return "; ".join(f"{name} [{', '.join(labels)}]" for name, labels in items) or "none"
