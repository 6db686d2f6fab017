"""Typed parameter spaces: bounds, defaults, unit-cube encoding and seeded sampling.

Parameter types: :class:`IntParam`, :class:`FloatParam`, :class:`CategoricalParam` (one
unit-cube coordinate each), :class:`SequenceParam` (a variable-length sequence of
choices, e.g. compiler passes: ``max_len`` coordinates) and :class:`PermutationParam`
(an ordering of fixed items, e.g. loop order: one coordinate per item, decoded by
sorting them: the "random keys" encoding). A :class:`ParamSpace` may carry a
constraint (e.g. tiles that must fit a cache): ``validate`` rejects a configuration
that breaks it, ``sample`` draws until one satisfies it.
"""

from __future__ import annotations

import hashlib
import json
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Config = dict[str, Any]

# A constraint returns None when a configuration is valid, else the reason (one line).
Constraint = Callable[[Mapping[str, Any]], str | None]


class ConstraintViolation(ValueError):
    """A configuration of the right types that breaks the space's constraint."""


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


@dataclass(frozen=True)
class SequenceParam:
    """A sequence of ``min_len`` to ``max_len`` elements of ``choices`` (repeats allowed),
    e.g. a compiler pass order. Values are tuples.

    Encoding: ``max_len`` coordinates; coordinate i in [0, 1] picks among ``len(choices)``
    elements plus, for positions at or past ``min_len``, "end of sequence" (the first
    slot), so the decoded sequence stops at the first end marker.
    """

    name: str
    choices: tuple[Any, ...]
    min_len: int
    max_len: int
    default: tuple[Any, ...]

    def __post_init__(self) -> None:
        if not 0 <= self.min_len <= self.max_len or self.max_len < 1 or not self.choices:
            raise ValueError(f"{self.name}: need 0 <= min_len <= max_len, max_len >= 1, choices")
        self.validate(self.default)

    @property
    def width(self) -> int:
        return self.max_len

    def _slots(self, position: int) -> int:
        return len(self.choices) + (1 if position >= self.min_len else 0)

    def encode_many(self, value: Any) -> list[float]:
        seq = self.validate(value)
        out = []
        for i in range(self.max_len):
            n, shift = self._slots(i), (1 if i >= self.min_len else 0)
            k = self.choices.index(seq[i]) + shift if i < len(seq) else 0
            out.append((k + 0.5) / n)
        return out

    def decode_many(self, u: Sequence[float]) -> tuple[Any, ...]:
        seq = []
        for i in range(self.max_len):
            n, shift = self._slots(i), (1 if i >= self.min_len else 0)
            k = min(int(math.floor(_clip01(u[i]) * n)), n - 1)
            if shift and k == 0:
                break
            seq.append(self.choices[k - shift])
        return tuple(seq)

    def validate(self, value: Any) -> tuple[Any, ...]:
        if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray):
            raise ValueError(f"{self.name}: expected a sequence, got {value!r}")
        seq = tuple(value)
        if not self.min_len <= len(seq) <= self.max_len:
            raise ValueError(
                f"{self.name}: length {len(seq)} not in [{self.min_len}, {self.max_len}]"
            )
        bad = [v for v in seq if v not in self.choices]
        if bad:
            raise ValueError(
                f"{self.name}: {bad[0]!r} is not one of the {len(self.choices)} choices"
            )
        return seq


@dataclass(frozen=True)
class PermutationParam:
    """An ordering of ``items`` (each exactly once), e.g. a loop order. Values are tuples.

    Encoding ("random keys"): one coordinate per item; the decoded order sorts the items
    by their coordinate (ties by item position), so every vector decodes to a valid
    permutation and small moves swap neighbours.
    """

    name: str
    items: tuple[Any, ...]
    default: tuple[Any, ...]

    def __post_init__(self) -> None:
        if len(set(self.items)) != len(self.items) or not self.items:
            raise ValueError(f"{self.name}: items must be unique and non-empty")
        self.validate(self.default)

    @property
    def width(self) -> int:
        return len(self.items)

    def encode_many(self, value: Any) -> list[float]:
        perm = self.validate(value)
        n = len(perm)
        rank = {item: r for r, item in enumerate(perm)}
        return [(rank[item] + 0.5) / n for item in self.items]

    def decode_many(self, u: Sequence[float]) -> tuple[Any, ...]:
        keys = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
        order = np.argsort(keys, kind="stable")
        return tuple(self.items[i] for i in order)

    def validate(self, value: Any) -> tuple[Any, ...]:
        if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray):
            raise ValueError(f"{self.name}: expected a sequence, got {value!r}")
        perm = tuple(value)
        if sorted(map(repr, perm)) != sorted(map(repr, self.items)) or len(perm) != len(self.items):
            raise ValueError(
                f"{self.name}: {list(perm)!r} is not a permutation of {list(self.items)}"
            )
        return perm


Param = IntParam | FloatParam | CategoricalParam | SequenceParam | PermutationParam
ScalarParam = IntParam | FloatParam | CategoricalParam


def param_width(p: Param) -> int:
    """Unit-cube coordinates of one parameter (1 for scalars)."""
    return int(getattr(p, "width", 1))


class ParamSpace:
    """An ordered set of typed parameters.

    A configuration is a ``dict`` name -> value. ``encode`` maps it to a float64 vector
    of shape [d] in [0, 1]^d (d = number of parameters), ``decode`` maps any vector in
    R^d back (clipped to the cube) to a valid configuration.
    """

    def __init__(self, params: Sequence[Param], constraint: Constraint | None = None) -> None:
        names = [p.name for p in params]
        if len(set(names)) != len(names):
            raise ValueError("parameter names must be unique")
        self.params: tuple[Param, ...] = tuple(params)
        self.constraint = constraint
        self._widths = [param_width(p) for p in self.params]
        self.dim = int(sum(self._widths))
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
        # For _plain_ints: one C-level look-up of every value in name order; for
        # config_of: a dict to copy (filling a copy is ~2x faster than growing a new
        # dict of 2,000 keys).
        self._name_set = frozenset(names)
        self._getter = operator.itemgetter(*names) if len(names) >= 2 else None
        self._template = dict.fromkeys(names)

    def __len__(self) -> int:
        return len(self.params)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.params)

    def __getitem__(self, name: str) -> Param:
        return self._by_name[name]

    @property
    def names(self) -> list[str]:
        return list(self._names)

    @property
    def scalar(self) -> bool:
        """True when every parameter is an int, float or categorical (one coordinate)."""
        return self.dim == len(self.params)

    def default(self) -> Config:
        """The default configuration (the simulator's own behaviour)."""
        return {p.name: p.default for p in self.params}

    def sample(self, rng: np.random.Generator, max_tries: int = 1000) -> Config:
        """A configuration drawn uniformly from the unit cube with ``rng`` (redrawn until
        it satisfies the constraint; ValueError after ``max_tries`` draws)."""
        for _ in range(max_tries):
            config = self.decode(rng.random(self.dim))
            if self.violation(config) is None:
                return config
        raise ValueError(f"no configuration satisfying the constraint in {max_tries} draws")

    def violation(self, config: Mapping[str, Any]) -> str | None:
        """Why ``config`` breaks the constraint, or None (always None without one)."""
        return None if self.constraint is None else self.constraint(config)

    def encode(self, config: Mapping[str, Any]) -> np.ndarray:
        """float64 [dim] in [0, 1] for a valid configuration."""
        cfg = self.validate(config, check_constraint=False)
        out: list[float] = []
        for p in self.params:
            if isinstance(p, SequenceParam | PermutationParam):
                out.extend(p.encode_many(cfg[p.name]))
            else:
                out.append(p.encode(cfg[p.name]))
        return np.array(out, dtype=np.float64)

    def decode(self, vector: Sequence[float] | np.ndarray) -> Config:
        """A configuration of valid types for a vector of shape [dim] (values clipped to
        [0, 1]); it may still break the constraint (see :meth:`violation`)."""
        vec = np.asarray(vector, dtype=np.float64)
        if vec.shape != (self.dim,):
            raise ValueError(f"expected a vector of shape ({self.dim},), got {vec.shape}")
        if self.scalar:
            return {p.name: p.decode(float(u)) for p, u in zip(self.params, vec, strict=True)}  # type: ignore[union-attr]
        out: Config = {}
        at = 0
        for p, w in zip(self.params, self._widths, strict=True):
            if isinstance(p, SequenceParam | PermutationParam):
                out[p.name] = p.decode_many(vec[at : at + w])
            else:
                out[p.name] = p.decode(float(vec[at]))
            at += w
        return out

    def key(self, config: Mapping[str, Any]) -> str:
        """A short stable key of a valid configuration (for caches), equal for equal
        configurations. All-integer spaces hash their values as one int64 array (fast
        for tables of thousands of entries)."""
        if self._int_bounds is not None:
            values = np.asarray([config[n] for n in self._names], dtype=np.int64)
            return hashlib.blake2b(values.tobytes(), digest_size=16).hexdigest()
        text = json.dumps({n: config[n] for n in self._names}, sort_keys=True, default=str)
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()

    def validate(self, config: Mapping[str, Any], check_constraint: bool = True) -> Config:
        """Return a normalised copy of ``config``; ValueError naming the first bad entry,
        :class:`ConstraintViolation` if it breaks the constraint."""
        cfg = self._validate_types(config)
        if check_constraint:
            why = self.violation(cfg)
            if why is not None:
                raise ConstraintViolation(f"configuration breaks the constraint: {why}")
        return cfg

    def _plain_ints(self, config: Mapping[str, Any]) -> Config | None:
        """All-integer spaces' fast path (tables of thousands of entries, validated once
        per evaluation): exactly the space's names, every value a plain ``int`` within
        its bounds -> the normalised copy (names in space order); None when anything of
        that does not hold, and the general path decides and names the problem."""
        if self._getter is None or self._int_bounds is None:
            return None
        if len(config) != len(self._names) or not self._name_set.issuperset(config):
            return None
        values = self._getter(config)
        if set(map(type, values)) != {int}:  # bools, numpy ints, floats: general path
            return None
        try:
            array = np.fromiter(values, np.int64, count=len(values))
        except OverflowError:
            return None
        low, high = self._int_bounds
        if not ((array >= low) & (array <= high)).all():
            return None
        return self.config_of(values)

    def config_of(self, values: Sequence[Any]) -> Config:
        """The configuration whose values, in the space's name order, are ``values``
        (not validated); ValueError when there are not exactly one per parameter."""
        if len(values) != len(self._names):
            raise ValueError(f"{len(values)} values for a space of {len(self._names)} parameters")
        out = self._template.copy()
        out.update(zip(self._names, values, strict=True))
        return out

    def _validate_types(self, config: Mapping[str, Any]) -> Config:
        fast = self._plain_ints(config)
        if fast is not None:
            return fast
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
                and bool not in set(map(type, raw))  # one C-level pass, not a generator
            ):
                return dict(zip(self._names, values.tolist(), strict=True))
        return {p.name: p.validate(config[p.name]) for p in self.params}


def _clip01(u: float) -> float:
    return min(max(float(u), 0.0), 1.0)


END_OF_SEQUENCE = "<end>"


class ScalarView:
    """A space of scalar parameters standing for a space with sequence or permutation
    parameters, for searchers that know only ints, floats and categoricals (Optuna,
    OpenTuner).

    A :class:`SequenceParam` ``s`` becomes categoricals ``s[0] .. s[max_len-1]`` (from
    position ``min_len`` on, with the choice :data:`END_OF_SEQUENCE`: the sequence stops
    at the first one); a :class:`PermutationParam` ``p`` becomes floats ``p[0] ..`` in
    [0, 1], one key per item, decoded by sorting (random keys). Scalars pass through.
    The constraint is the original space's, checked after :meth:`to_space`.
    """

    def __init__(self, space: ParamSpace) -> None:
        self.original = space
        params: list[Param] = []
        for p in space:
            if isinstance(p, SequenceParam):
                default = list(p.default) + [END_OF_SEQUENCE] * (p.max_len - len(p.default))
                for i in range(p.max_len):
                    extra = (END_OF_SEQUENCE,) if i >= p.min_len else ()
                    params.append(CategoricalParam(f"{p.name}[{i}]", extra + p.choices, default[i]))
            elif isinstance(p, PermutationParam):
                keys = p.encode_many(p.default)
                params += [
                    FloatParam(f"{p.name}[{i}]", 0.0, 1.0, keys[i]) for i in range(len(p.items))
                ]
            else:
                params.append(p)
        self.space = ParamSpace(params)

    def to_space(self, flat: Mapping[str, Any]) -> Config:
        """The original space's configuration for a configuration of :attr:`space`."""
        if self.original.scalar:
            return dict(flat)
        out: Config = {}
        for p in self.original:
            if isinstance(p, SequenceParam):
                seq = []
                for i in range(p.max_len):
                    v = flat[f"{p.name}[{i}]"]
                    if v == END_OF_SEQUENCE:
                        break
                    seq.append(v)
                out[p.name] = tuple(seq)
            elif isinstance(p, PermutationParam):
                out[p.name] = p.decode_many([flat[f"{p.name}[{i}]"] for i in range(len(p.items))])
            else:
                out[p.name] = flat[p.name]
        return out

    def from_space(self, config: Mapping[str, Any]) -> Config:
        """A configuration of :attr:`space` that :meth:`to_space` maps back to ``config``."""
        if self.original.scalar:
            return dict(config)
        out: Config = {}
        for p in self.original:
            v = config[p.name]
            if isinstance(p, SequenceParam):
                full = list(v) + [END_OF_SEQUENCE] * (p.max_len - len(v))
                out.update({f"{p.name}[{i}]": full[i] for i in range(p.max_len)})
            elif isinstance(p, PermutationParam):
                keys = p.encode_many(v)
                out.update({f"{p.name}[{i}]": keys[i] for i in range(len(p.items))})
            else:
                out[p.name] = v
        return out
