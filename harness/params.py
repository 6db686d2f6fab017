"""Typed parameter spaces: bounds, defaults, unit-cube encoding and seeded sampling."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Config = dict[str, Any]


@dataclass(frozen=True)
class IntParam:
    """An integer in [low, high] (both inclusive)."""

    name: str
    low: int
    high: int
    default: int

    def __post_init__(self) -> None:
        if not self.low <= self.default <= self.high:
            raise ValueError(
                f"{self.name}: default {self.default} not in [{self.low}, {self.high}]"
            )

    def encode(self, value: Any) -> float:
        # Each integer owns an equal slice of [0, 1]; its centre is the encoding.
        return (int(value) - self.low + 0.5) / (self.high - self.low + 1)

    def decode(self, u: float) -> int:
        k = int(math.floor(_clip01(u) * (self.high - self.low + 1)))
        return self.low + min(k, self.high - self.low)

    def validate(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ValueError(f"{self.name}: expected an int, got {value!r}")
        if not self.low <= value <= self.high:
            raise ValueError(f"{self.name}: {value} not in [{self.low}, {self.high}]")
        return int(value)


@dataclass(frozen=True)
class FloatParam:
    """A float in [low, high]; ``log=True`` spaces it logarithmically (low > 0)."""

    name: str
    low: float
    high: float
    default: float
    log: bool = False

    def __post_init__(self) -> None:
        if not self.low <= self.default <= self.high or self.low >= self.high:
            raise ValueError(
                f"{self.name}: bad bounds/default {self.low}, {self.high}, {self.default}"
            )
        if self.log and self.low <= 0:
            raise ValueError(f"{self.name}: a log-scaled parameter needs low > 0")

    def encode(self, value: Any) -> float:
        v = float(value)
        if self.log:
            return (math.log(v) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (v - self.low) / (self.high - self.low)

    def decode(self, u: float) -> float:
        u = _clip01(u)
        if u in (0.0, 1.0):
            return float(self.high if u else self.low)
        if self.log:
            value = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            value = self.low + u * (self.high - self.low)
        # exp/log round-off can step just past a bound (exp(log(10)) > 10).
        return float(min(max(value, self.low), self.high))

    def validate(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
            raise ValueError(f"{self.name}: expected a number, got {value!r}")
        if not self.low <= float(value) <= self.high:
            raise ValueError(f"{self.name}: {value} not in [{self.low}, {self.high}]")
        return float(value)


@dataclass(frozen=True)
class CategoricalParam:
    """One of a fixed list of choices (strings, ints, ...)."""

    name: str
    choices: tuple[Any, ...]
    default: Any

    def __post_init__(self) -> None:
        if self.default not in self.choices:
            raise ValueError(f"{self.name}: default {self.default!r} not among choices")

    def encode(self, value: Any) -> float:
        return (self.choices.index(value) + 0.5) / len(self.choices)

    def decode(self, u: float) -> Any:
        k = int(math.floor(_clip01(u) * len(self.choices)))
        return self.choices[min(k, len(self.choices) - 1)]

    def validate(self, value: Any) -> Any:
        if value not in self.choices:
            raise ValueError(f"{self.name}: {value!r} is not one of {list(self.choices)}")
        return value


Param = IntParam | FloatParam | CategoricalParam


class ParamSpace:
    """An ordered set of typed parameters.

    A configuration is a ``dict`` name -> value. ``encode`` maps it to a float64 vector
    of shape [d] in [0, 1]^d (d = number of parameters), ``decode`` maps any vector in
    R^d back (clipped to the cube) to a valid configuration.
    """

    def __init__(self, params: Sequence[Param]) -> None:
        names = [p.name for p in params]
        if len(set(names)) != len(names):
            raise ValueError("parameter names must be unique")
        self.params: tuple[Param, ...] = tuple(params)
        self._by_name = {p.name: p for p in self.params}
        self._names = tuple(names)
        # All-integer spaces (e.g. simulator tables of thousands of entries) validate
        # with one vectorised bounds check; anything it does not accept takes the
        # per-parameter path, which names the bad entry.
        self._int_bounds: tuple[np.ndarray, np.ndarray] | None = None
        if self.params and all(isinstance(p, IntParam) for p in self.params):
            self._int_bounds = (
                np.array([p.low for p in self.params], np.int64),  # type: ignore[union-attr]
                np.array([p.high for p in self.params], np.int64),  # type: ignore[union-attr]
            )

    def __len__(self) -> int:
        return len(self.params)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.params)

    def __getitem__(self, name: str) -> Param:
        return self._by_name[name]

    @property
    def names(self) -> list[str]:
        return list(self._names)

    def default(self) -> Config:
        """The default configuration (the simulator's own behaviour)."""
        return {p.name: p.default for p in self.params}

    def sample(self, rng: np.random.Generator) -> Config:
        """A configuration drawn uniformly from the unit cube with ``rng``."""
        return self.decode(rng.random(len(self.params)))

    def encode(self, config: Mapping[str, Any]) -> np.ndarray:
        """float64 [d] in [0, 1] for a valid configuration."""
        cfg = self.validate(config)
        return np.array([p.encode(cfg[p.name]) for p in self.params], dtype=np.float64)

    def decode(self, vector: Sequence[float] | np.ndarray) -> Config:
        """A valid configuration for a vector of shape [d] (values clipped to [0, 1])."""
        vec = np.asarray(vector, dtype=np.float64)
        if vec.shape != (len(self.params),):
            raise ValueError(f"expected a vector of shape ({len(self.params)},), got {vec.shape}")
        return {p.name: p.decode(float(u)) for p, u in zip(self.params, vec, strict=True)}

    def validate(self, config: Mapping[str, Any]) -> Config:
        """Return a normalised copy of ``config``; ValueError naming the first bad entry."""
        unknown = set(config) - set(self._by_name)
        if unknown:
            raise ValueError(f"unknown parameters: {sorted(unknown)}")
        missing = [p.name for p in self.params if p.name not in config]
        if missing:
            raise ValueError(f"missing parameters: {missing[:5]}")
        if self._int_bounds is not None:
            raw = [config[n] for n in self._names]
            values = np.array(raw)
            low, high = self._int_bounds
            if (
                values.dtype.kind in "iu"
                and ((values >= low) & (values <= high)).all()
                and not any(type(v) is bool for v in raw)
            ):
                return dict(zip(self._names, values.tolist(), strict=True))
        return {p.name: p.validate(config[p.name]) for p in self.params}


def _clip01(u: float) -> float:
    return min(max(float(u), 0.0), 1.0)
