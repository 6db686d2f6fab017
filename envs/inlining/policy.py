"""Inlining policies: a linear score or a small neural network over call-site features.

Both kinds read the same inputs: ``z_i = sign(x_i) * log(1 + |x_i|) / FEATURE_SCALE``
for LLVM's raw feature counts ``x_i`` (``features``, in order) and ``d``, the -Oz
heuristic's own decision (0/1). A call site is inlined iff the logit is > 0:

- ``linear``: ``bias + w_default * d + sum_i w_i * z_i``;
- ``mlp``: ``bias + w_default * d + sum_j out_j * tanh(b_j + sum_i W_ji * z_i + W_jd * d)``
  (one hidden layer of ``hidden`` tanh units, MLGO's policy is a small feed-forward
  network too).

The task's parameter space is these weights, so a black-box tuner (or evolution
strategies, MLGO's current trainer) searches the policy's weights. The default
configuration is exactly the heuristic (``w_default = 1, bias = -0.5``, every other
output weight 0; the hidden layer's default weights are a fixed seeded draw so a
search that moves the output weights sees a first-order effect). The RL agents' actors
have the same form (SB3's actor with no or one tanh hidden layer), so every agent
returns a configuration of the same space for the harness to score.

Agents that drive compilations decision by decision (the gymnasium environment) pass a
live decider to the task's ``evaluate_policy`` instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
# Every feature LLVM 22's ML inliner sends (MLGO's 38), less the heuristic's decision.
ALL_FEATURES: tuple[str, ...] = tuple(n for n in FEATURE_NAMES if n != "inlining_default")
FEATURE_SETS = {"small": SMALL_FEATURES, "all": ALL_FEATURES}
POLICY_KINDS = ("linear", "mlp")

# log(1 + count) / 4: counts of ~50 map to ~1, so unit weights are comparable.
FEATURE_SCALE = 4.0
# Normalised inputs are clipped here (as the gymnasium env's observations are).
INPUT_BOUND = 8.0
WEIGHT_BOUND = 3.0
# The network's weights get a wider range: PPO/BC actors' first layers pass 3.
MLP_BOUND = 8.0
DEFAULT_BIAS = -0.5
# Seed of the hidden layer's default weights (part of the space's definition).
MLP_INIT_SEED = 0

_FEATURE_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}
_DEFAULT_INDEX = _FEATURE_INDEX["inlining_default"]
_HIDDEN_NAME = re.compile(r"^h(\d+)_bias$")


def normalise(raw: np.ndarray, features: Sequence[str]) -> np.ndarray:
    """z, float64 [len(features)], from raw features float64 [N_FEATURES] (host order)."""
    x = raw[[_FEATURE_INDEX[n] for n in features]]
    z = np.sign(x) * np.log1p(np.abs(x)) / FEATURE_SCALE
    return np.clip(z, -INPUT_BOUND, INPUT_BOUND)


def weight_name(feature: str) -> str:
    return f"w_{feature}"


def hidden_weight_name(unit: int, feature: str) -> str:
    """Name of the weight from ``feature`` (or ``inlining_default``) to hidden ``unit``."""
    return f"h{unit}_{feature}"


@dataclass(frozen=True)
class PolicySpec:
    """What a policy space holds: ``kind`` (linear or mlp), ``features`` (in order) and
    ``hidden`` (tanh units of the mlp; 0 for linear)."""

    kind: str
    features: tuple[str, ...]
    hidden: int = 0

    @property
    def inputs(self) -> tuple[str, ...]:
        """The network's inputs: the features, then the heuristic's decision."""
        return (*self.features, "inlining_default")

    def names(self) -> list[str]:
        """Parameter names, in the space's order."""
        out = ["bias", "w_default"]
        if self.kind == "linear":
            return out + [weight_name(f) for f in self.features]
        for j in range(self.hidden):
            out += [f"h{j}_bias"] + [hidden_weight_name(j, f) for f in self.inputs]
        return out + [f"out_h{j}" for j in range(self.hidden)]


def policy_space(
    features: Sequence[str] = SMALL_FEATURES, kind: str = "linear", hidden: int = 16
) -> ParamSpace:
    """The weights of a policy (see the module docstring); the default is -Oz.

    Linear: bias, w_default, one weight per feature, each in [-3, 3]. MLP: bias and
    w_default in [-3, 3]; per hidden unit a bias and one weight per input, and one
    output weight, in [-8, 8].
    """
    if kind not in POLICY_KINDS:
        raise ValueError(f"policy kind must be one of {POLICY_KINDS}, not {kind!r}")
    params = [
        FloatParam("bias", -WEIGHT_BOUND, WEIGHT_BOUND, DEFAULT_BIAS),
        FloatParam("w_default", -WEIGHT_BOUND, WEIGHT_BOUND, 1.0),
    ]
    if kind == "linear":
        params += [FloatParam(weight_name(f), -WEIGHT_BOUND, WEIGHT_BOUND, 0.0) for f in features]
        return ParamSpace(params)
    if hidden < 1:
        raise ValueError("an mlp policy needs hidden >= 1")
    spec = PolicySpec("mlp", tuple(features), int(hidden))
    init = default_hidden_weights(len(spec.inputs), hidden)
    for j in range(hidden):
        params.append(FloatParam(f"h{j}_bias", -MLP_BOUND, MLP_BOUND, 0.0))
        params += [
            FloatParam(hidden_weight_name(j, f), -MLP_BOUND, MLP_BOUND, float(init[j, i]))
            for i, f in enumerate(spec.inputs)
        ]
    params += [FloatParam(f"out_h{j}", -MLP_BOUND, MLP_BOUND, 0.0) for j in range(hidden)]
    return ParamSpace(params)


def default_hidden_weights(n_inputs: int, hidden: int) -> np.ndarray:
    """The hidden layer's default weights, float64 [hidden, n_inputs]: a fixed draw
    N(0, 1/n_inputs) (LeCun's initialisation), rounded to 4 decimals."""
    rng = np.random.default_rng(MLP_INIT_SEED)
    w = rng.normal(0.0, 1.0 / np.sqrt(n_inputs), size=(hidden, n_inputs))
    return np.round(np.clip(w, -MLP_BOUND, MLP_BOUND), 4)


def spec_of_space(space: ParamSpace) -> PolicySpec:
    """The :class:`PolicySpec` of an inlining policy space (ValueError otherwise).

    Read from the parameter names, so an agent (which sees only the space) can build
    the same policy as the task.
    """
    return spec_of_names(space.names)


def spec_of_names(names: Sequence[str]) -> PolicySpec:
    """The :class:`PolicySpec` whose parameters are ``names`` in order (e.g. the keys of
    a recorded configuration); ValueError if they are no inlining policy's."""
    names = list(names)
    if names[:2] != ["bias", "w_default"]:
        raise ValueError("not an inlining policy space")
    hidden = sum(1 for n in names if _HIDDEN_NAME.match(n))
    if hidden == 0:
        feats = tuple(n[len("w_") :] for n in names[2:])
        spec = PolicySpec("linear", feats)
    else:
        first = [n for n in names if n.startswith("h0_") and n != "h0_bias"]
        feats = tuple(n[len("h0_") :] for n in first)
        if not feats or feats[-1] != "inlining_default":
            raise ValueError("not an inlining policy space")
        spec = PolicySpec("mlp", feats[:-1], hidden)
    unknown = [f for f in spec.features if f not in ALL_FEATURES]
    if not spec.features or unknown or spec.names() != names:
        raise ValueError("not an inlining policy space")
    return spec


class LinearPolicy:
    """The decider of a linear configuration of :func:`policy_space`."""

    def __init__(self, config: Mapping[str, Any], features: Sequence[str]) -> None:
        self.features = tuple(features)
        self.bias = float(config["bias"])
        self.w_default = float(config["w_default"])
        self.weights = np.array([float(config[weight_name(f)]) for f in features])
        self._idx = np.array([_FEATURE_INDEX[n] for n in features], dtype=np.int64)

    def score(self, raw: np.ndarray) -> float:
        """The policy's logit for one call site (raw features float64 [N_FEATURES])."""
        z = _normalised(raw, self._idx)
        return self.bias + self.w_default * float(raw[_DEFAULT_INDEX]) + float(self.weights @ z)

    def __call__(self, raw: np.ndarray) -> bool:
        return self.score(raw) > 0.0


class MLPPolicy:
    """The decider of an mlp configuration of :func:`policy_space` (one tanh layer)."""

    def __init__(self, config: Mapping[str, Any], features: Sequence[str], hidden: int) -> None:
        spec = PolicySpec("mlp", tuple(features), int(hidden))
        self.features = spec.features
        self.bias = float(config["bias"])
        self.w_default = float(config["w_default"])
        self.w1 = np.array(
            [[float(config[hidden_weight_name(j, f)]) for f in spec.inputs] for j in range(hidden)]
        )
        self.b1 = np.array([float(config[f"h{j}_bias"]) for j in range(hidden)])
        self.out = np.array([float(config[f"out_h{j}"]) for j in range(hidden)])
        self._idx = np.array([_FEATURE_INDEX[n] for n in self.features], dtype=np.int64)

    def score(self, raw: np.ndarray) -> float:
        d = float(raw[_DEFAULT_INDEX] != 0)
        x = np.append(_normalised(raw, self._idx), d)
        h = np.tanh(self.w1 @ x + self.b1)
        return self.bias + self.w_default * d + float(self.out @ h)

    def __call__(self, raw: np.ndarray) -> bool:
        return self.score(raw) > 0.0


def make_policy(config: Mapping[str, Any], spec: PolicySpec) -> LinearPolicy | MLPPolicy:
    """The decider of ``config`` (a configuration of the space ``spec`` describes)."""
    if spec.kind == "linear":
        return LinearPolicy(config, spec.features)
    return MLPPolicy(config, spec.features, spec.hidden)


def _normalised(raw: np.ndarray, idx: np.ndarray) -> np.ndarray:
    x = raw[idx]
    return np.clip(np.sign(x) * np.log1p(np.abs(x)) / FEATURE_SCALE, -INPUT_BOUND, INPUT_BOUND)


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


def mlp_config(
    w1: np.ndarray,
    b1: np.ndarray,
    out: np.ndarray,
    bias: float,
    features: Sequence[str],
    w_default: float = 0.0,
) -> tuple[dict[str, float], float]:
    """A configuration from a network ``bias + w_default * d + out @ tanh(w1 @ x + b1)``
    with ``w1`` float [hidden, len(features) + 1] (the last column: ``d``).

    The output layer (bias, w_default, out) is scaled down by one positive factor if it
    passes its bounds (decisions unchanged); the hidden layer is clipped to
    [-8, 8] (this can change decisions). Returns (configuration, fraction of hidden
    weights clipped).
    """
    w1 = np.asarray(w1, dtype=np.float64)
    b1 = np.asarray(b1, dtype=np.float64)
    hidden = len(b1)
    spec = PolicySpec("mlp", tuple(features), hidden)
    if w1.shape != (hidden, len(spec.inputs)):
        raise ValueError(f"w1 must be [{hidden}, {len(spec.inputs)}], got {list(w1.shape)}")
    head = np.concatenate([[bias, w_default], np.asarray(out, dtype=np.float64)])
    # bias and w_default are bounded by 3, the output weights by 8: one factor keeps all.
    bounds = np.concatenate([[WEIGHT_BOUND, WEIGHT_BOUND], np.full(hidden, MLP_BOUND)])
    factor = float(np.min(bounds / np.maximum(np.abs(head), 1e-300)))
    if factor < 1.0:
        head = head * factor
    layer = np.concatenate([b1[:, None], w1], axis=1)
    clipped = float(np.mean(np.abs(layer) > MLP_BOUND))
    layer = np.clip(layer, -MLP_BOUND, MLP_BOUND)
    config: dict[str, float] = {
        "bias": float(np.clip(head[0], -WEIGHT_BOUND, WEIGHT_BOUND)),
        "w_default": float(np.clip(head[1], -WEIGHT_BOUND, WEIGHT_BOUND)),
    }
    for j in range(hidden):
        config[f"h{j}_bias"] = float(layer[j, 0])
        for i, f in enumerate(spec.inputs):
            config[hidden_weight_name(j, f)] = float(layer[j, 1 + i])
    for j in range(hidden):
        config[f"out_h{j}"] = float(np.clip(head[2 + j], -MLP_BOUND, MLP_BOUND))
    return config, clipped
