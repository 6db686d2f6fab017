"""Inlining policies: a linear score over normalised call-site features.

A policy inlines a call site iff

    bias + w_default * inlining_default + sum_i w_i * z_i > 0,
    z_i = sign(x_i) * log(1 + |x_i|) / FEATURE_SCALE,

where ``x_i`` are LLVM's raw feature counts and ``inlining_default`` is the -Oz
heuristic's own decision (0/1). The task's parameter space is these weights, so a
black-box tuner searches a small policy (as MLGO's evolution-strategies trainer
searches its network's weights); ``w_default = 1, bias = -0.5`` and all other
weights 0 is exactly the heuristic (the default configuration). PPO and behavioural
cloning learn the same linear form, so every agent returns a configuration of the
same space for the harness to score.

Agents that drive compilations decision by decision (the gymnasium environment) pass a
live decider to the task's ``evaluate_policy``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from envs.inlining.host import FEATURE_NAMES
from harness.params import FloatParam, ParamSpace

# The call-site features a small policy looks at (MLGO's most informative ones for
# size: callee/caller size and use counts, the cost model's estimate, position).
SMALL_FEATURES: tuple[str, ...] = (
    "cost_estimate",
    "callee_basic_block_count",
    "callee_users",
    "caller_users",
    "caller_basic_block_count",
    "callsite_height",
    "nr_ctant_params",
    "is_multiple_blocks",
    "num_loops",
    "last_call_to_static_bonus",
    "sroa_savings",
    "simplified_instructions",
)
ALL_FEATURES: tuple[str, ...] = tuple(n for n in FEATURE_NAMES if n != "inlining_default")
FEATURE_SETS = {"small": SMALL_FEATURES, "all": ALL_FEATURES}

# log(1 + count) / 4: counts of ~50 map to ~1, so unit weights are comparable.
FEATURE_SCALE = 4.0
WEIGHT_BOUND = 3.0
DEFAULT_BIAS = -0.5

_FEATURE_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}
_DEFAULT_INDEX = _FEATURE_INDEX["inlining_default"]


def normalise(raw: np.ndarray, features: Sequence[str]) -> np.ndarray:
    """z, float64 [len(features)], from raw features float64 [N_FEATURES] (host order)."""
    x = raw[[_FEATURE_INDEX[n] for n in features]]
    return np.sign(x) * np.log1p(np.abs(x)) / FEATURE_SCALE


def weight_name(feature: str) -> str:
    return f"w_{feature}"


def policy_space(features: Sequence[str] = SMALL_FEATURES) -> ParamSpace:
    """bias, w_default and one weight per feature, each in [-3, 3]; default = -Oz."""
    params = [
        FloatParam("bias", -WEIGHT_BOUND, WEIGHT_BOUND, DEFAULT_BIAS),
        FloatParam("w_default", -WEIGHT_BOUND, WEIGHT_BOUND, 1.0),
    ]
    params += [FloatParam(weight_name(f), -WEIGHT_BOUND, WEIGHT_BOUND, 0.0) for f in features]
    return ParamSpace(params)


class LinearPolicy:
    """The decider of a configuration of :func:`policy_space`."""

    def __init__(self, config: Mapping[str, Any], features: Sequence[str]) -> None:
        self.features = tuple(features)
        self.bias = float(config["bias"])
        self.w_default = float(config["w_default"])
        self.weights = np.array([float(config[weight_name(f)]) for f in features])
        self._idx = np.array([_FEATURE_INDEX[n] for n in features], dtype=np.int64)

    def score(self, raw: np.ndarray) -> float:
        """The policy's logit for one call site (raw features float64 [N_FEATURES])."""
        x = raw[self._idx]
        z = np.sign(x) * np.log1p(np.abs(x)) / FEATURE_SCALE
        return self.bias + self.w_default * float(raw[_DEFAULT_INDEX]) + float(self.weights @ z)

    def __call__(self, raw: np.ndarray) -> bool:
        return self.score(raw) > 0.0


def linear_config(
    weights: np.ndarray, bias: float, features: Sequence[str], w_default: float = 0.0
) -> dict[str, float]:
    """A configuration from a logit ``bias + w_default * d + weights @ z``.

    Scaled down by one positive factor if any value passes the bounds: the sign of
    the logit, hence every decision, is unchanged.
    """
    values = np.concatenate([[bias, w_default], np.asarray(weights, dtype=np.float64)])
    peak = float(np.max(np.abs(values)))
    if peak > WEIGHT_BOUND:
        values = values * (WEIGHT_BOUND / peak)
    names = ["bias", "w_default"] + [weight_name(f) for f in features]
    return {
        n: float(np.clip(v, -WEIGHT_BOUND, WEIGHT_BOUND))
        for n, v in zip(names, values, strict=True)
    }
