"""Closed-loop pass-ordering policies: what a policy sees, and a policy as parameters.

A policy picks the next pass from the module's current state, up to ``horizon`` passes
or until it picks STOP. The state (:class:`PassState`) is what the pass server reports
after each pass; :func:`observation` turns it into the vector both the gymnasium env
(training, in the agent's process) and the task (scoring on test modules) feed the
policy, so a trained policy sees the same numbers everywhere.

:class:`PolicyNet` is a policy as a task configuration (capability ``policy`` tasks
score configurations by running them): a linear map or a one-hidden-layer tanh MLP
(SB3's ``MlpPolicy`` actor with ``net_arch = {"pi": [H]}``) from the observation to
one logit per action plus STOP; the argmax is taken.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.passes.features import N_FEATURES, autophase_vector
from harness.params import Config, FloatParam, ParamSpace

# Bound of every policy weight in the parameter space (trained weights are far inside).
WEIGHT_BOUND = 100.0


@dataclass(frozen=True)
class PassState:
    """The module after ``step`` passes of an episode.

    Attributes:
        features: Autophase counts, float64 [56].
        step: passes applied so far; horizon: the most an episode applies.
        initial_instructions / instructions: IR instructions before any pass / now.
        history: how often each action was applied so far, int [n_actions].
    """

    features: np.ndarray
    step: int
    horizon: int
    initial_instructions: int
    instructions: int
    history: tuple[int, ...]


def obs_dim(n_actions: int) -> int:
    """Length of :func:`observation`'s vector for ``n_actions`` actions."""
    return 2 * N_FEATURES + 3 + n_actions


def observation(state: PassState) -> np.ndarray:
    """float32 [obs_dim]: the scaled Autophase features (size, then composition), the
    episode's progress ``step / horizon``, 1 at the first step, ``log(instructions /
    initial instructions)``, then each action's use count / horizon."""
    progress = state.step / max(state.horizon, 1)
    shrink = np.log(max(state.instructions, 1) / max(state.initial_instructions, 1))
    hist = np.asarray(state.history, dtype=np.float64) / max(state.horizon, 1)
    head = np.array([progress, float(state.step == 0), shrink], dtype=np.float64)
    return np.concatenate([autophase_vector(state.features), head, hist]).astype(np.float32)


FIRST_STEP_INDEX = 2 * N_FEATURES + 1  # position of the "first step" flag


class PolicyNet:
    """A policy over ``n_actions`` actions (+ STOP, the last logit) as parameters.

    Args:
        n_actions: actions (the task's action list); logits = n_actions + 1.
        hidden: 0 for a linear policy, else the tanh hidden layer's width.
        first_action: the action the default policy takes at the first step before
            stopping (``-Oz``; None: the default stops at once).
    """

    def __init__(self, n_actions: int, hidden: int = 0, first_action: int | None = 0) -> None:
        if hidden < 0:
            raise ValueError("hidden must be >= 0")
        self.n_actions, self.hidden, self.first_action = n_actions, int(hidden), first_action
        self.n_in, self.n_out = obs_dim(n_actions), n_actions + 1
        self.shapes: dict[str, tuple[int, ...]] = (
            {"w": (self.n_in, self.n_out), "b": (self.n_out,)}
            if self.hidden == 0
            else {
                "w1": (self.n_in, self.hidden),
                "b1": (self.hidden,),
                "w2": (self.hidden, self.n_out),
                "b2": (self.n_out,),
            }
        )
        self.names = [f"{k}[{i}]" for k, s in self.shapes.items() for i in range(int(np.prod(s)))]
        defaults = self._default_flat()
        self.space = ParamSpace(
            [
                FloatParam(n, -WEIGHT_BOUND, WEIGHT_BOUND, float(v))
                for n, v in zip(self.names, defaults, strict=True)
            ]
        )

    @property
    def stop(self) -> int:
        return self.n_actions

    def _default_flat(self) -> np.ndarray:
        """The -Oz policy: ``first_action`` at the first step, then STOP (weights on the
        "first step" flag; every other weight 0)."""
        arrays = {k: np.zeros(s) for k, s in self.shapes.items()}
        out_b = "b" if self.hidden == 0 else "b2"
        arrays[out_b][self.stop] = 1.0
        if self.first_action is not None:
            if self.hidden == 0:
                arrays["w"][FIRST_STEP_INDEX, self.first_action] = 3.0
            else:  # the flag reaches the output through one hidden unit: tanh(1) * 3
                arrays["w1"][FIRST_STEP_INDEX, 0] = 1.0
                arrays["w2"][0, self.first_action] = 3.0
        return np.concatenate([arrays[k].reshape(-1) for k in self.shapes])

    def arrays(self, config: Config) -> dict[str, np.ndarray]:
        """The weight arrays of a configuration."""
        flat = np.array([config[n] for n in self.names], dtype=np.float64)
        out, at = {}, 0
        for k, s in self.shapes.items():
            size = int(np.prod(s))
            out[k] = flat[at : at + size].reshape(s)
            at += size
        return out

    def config(self, arrays: dict[str, np.ndarray]) -> Config:
        """A configuration from weight arrays (clipped to the parameter bounds)."""
        flat = np.concatenate(
            [np.asarray(arrays[k], dtype=np.float64).reshape(-1) for k in self.shapes]
        )
        if flat.shape != (len(self.names),):
            raise ValueError(f"expected {len(self.names)} weights, got {flat.shape[0]}")
        flat = np.clip(flat, -WEIGHT_BOUND, WEIGHT_BOUND)
        return dict(zip(self.names, flat.tolist(), strict=True))

    def decider(self, config: Config):  # noqa: ANN201 - a closure
        """``obs float32 [n_in] -> action index`` (``stop`` ends the episode)."""
        a = self.arrays(config)

        def decide(obs: np.ndarray) -> int:
            x = np.asarray(obs, dtype=np.float64)
            if self.hidden == 0:
                logits = x @ a["w"] + a["b"]
            else:
                logits = np.tanh(x @ a["w1"] + a["b1"]) @ a["w2"] + a["b2"]
            return int(np.argmax(logits))

        return decide
