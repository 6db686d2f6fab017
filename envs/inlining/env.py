"""gymnasium environment ``tunebench/Inlining-v0``: one episode = one module compiled
at -Oz by LLVM 22, one step = one call-site decision.

- observation: float32 [k], the call site's normalised features
  ``sign(x) * log(1 + |x|) / 4`` (``features``, in order), then the -Oz heuristic's
  decision (0/1) if ``include_default``; clipped to [-8, 8].
- action: Discrete(2), 1 = inline, 0 = don't.
- reward: 0 at every step but the last; at the last, MLGO's
  ``1 - (size + 0.01) / (heuristic_size + 0.01)`` with sizes in .text bytes.

opt runs in a background thread whose inliner calls back into the environment
(``step`` hands the action over and waits for the next call site or the end). The
compilation itself is done by a *source*: ``DirectSource`` compiles directly (plain
gymnasium use), ``BudgetedSource`` runs each episode as one sample of a harness
``BudgetedObjective`` (so RL agents are charged like every other agent).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from envs.callback_episode import CallbackEpisode
from envs.inlining.host import DEFAULT_INDEX, Decider
from envs.inlining.policy import ALL_FEATURES, normalise
from harness.budget import BudgetedObjective

ENV_ID = "tunebench/Inlining-v0"
OBS_BOUND = 8.0


class EpisodeSource(Protocol):
    """Where episodes' modules come from and how one is compiled."""

    def n_modules(self) -> int: ...

    def module_name(self, index: int) -> str: ...

    def heuristic_size(self, index: int) -> float:
        """.text bytes of module ``index`` under the -Oz heuristic."""
        ...

    def compile(self, index: int, decide: Decider) -> float:
        """.text bytes of module ``index`` compiled under ``decide`` (NaN: failed)."""
        ...


class DirectSource:
    """Compiles the modules of one split of an inlining task directly (no budget)."""

    def __init__(self, task: Any, split: str = "train") -> None:
        self.task, self.split = task, split

    def n_modules(self) -> int:
        return int(self.task.n_items(self.split))

    def module_name(self, index: int) -> str:
        return self.task.inputs(self.split, [index])[0]

    def heuristic_size(self, index: int) -> float:
        return float(self.task.targets(self.split, np.array([index]))[0])

    def compile(self, index: int, decide: Decider) -> float:
        return float(self.task.evaluate_policy(decide, self.split, np.array([index]))[0])


class BudgetedSource:
    """Each compilation is ``objective.evaluate_policy(<live policy>, split, [index])``: one
    sample charged to the trial's budget (BudgetExhausted ends the episode's reset)."""

    def __init__(self, objective: BudgetedObjective, split: str = "train") -> None:
        self.objective, self.split = objective, split

    def n_modules(self) -> int:
        return self.objective.n_items(self.split)

    def module_name(self, index: int) -> str:
        return self.objective.inputs(self.split, np.array([index]))[0]

    def heuristic_size(self, index: int) -> float:
        return float(self.objective.targets(self.split, np.array([index]))[0])

    def compile(self, index: int, decide: Decider) -> float:
        return float(self.objective.evaluate_policy(decide, self.split, np.array([index]))[0])


class InliningEnv(gym.Env[np.ndarray, np.int64]):
    """See the module docstring.

    Args:
        source: episode source; default: the train split of ``make_inlining_task()``.
        features: the features observed (default: all 38 of LLVM 22).
        include_default: append the heuristic's decision to the observation.
        modules: module indices of the source to draw episodes from (default: all).
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        source: EpisodeSource | None = None,
        features: Sequence[str] = ALL_FEATURES,
        include_default: bool = False,
        modules: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if source is None:
            from envs.inlining.task import make_inlining_task

            source = DirectSource(make_inlining_task(), "train")
        self.source = source
        self.features = tuple(features)
        self.include_default = include_default
        self.module_pool = list(modules) if modules is not None else list(range(source.n_modules()))
        dim = len(self.features) + int(include_default)
        self.observation_space = gym.spaces.Box(-OBS_BOUND, OBS_BOUND, (dim,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        # pending: raw features float64 [N_FEATURES] of the call site awaiting a decision
        self._episode: CallbackEpisode[np.ndarray] = CallbackEpisode("inlining-episode")
        self._module = -1
        self._steps = 0

    def pending_features(self) -> np.ndarray:
        """Raw features float64 [N_FEATURES] of the call site awaiting a decision (the
        -Oz heuristic's decision among them, at ``DEFAULT_INDEX``)."""
        if self._episode.pending is None:
            raise RuntimeError("no call site is pending (reset() first)")
        return self._episode.pending

    def observe(self, raw: np.ndarray) -> np.ndarray:
        """Observation float32 [dim] of raw features float64 [N_FEATURES]."""
        z = normalise(raw, self.features)
        if self.include_default:
            z = np.append(z, float(raw[DEFAULT_INDEX] != 0))
        return np.clip(z, -OBS_BOUND, OBS_BOUND).astype(np.float32)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start compiling a module (``options["module"]`` or one drawn with the env's
        seeded generator); returns its first call site."""
        super().reset(seed=seed)
        self._abandon()
        for _ in range(len(self.module_pool) + 1):
            if options and "module" in options:
                module = int(options["module"])
            else:
                module = int(self.module_pool[int(self.np_random.integers(len(self.module_pool)))])
            kind, payload = self._start(module)
            if kind == "obs":
                return self.observe(payload), {"module": self.source.module_name(module)}
            if options and "module" in options:
                break
        raise RuntimeError("no module with an inlining decision to make")

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._episode.pending is None:
            raise RuntimeError("step() before reset() or after the episode ended")
        self._steps += 1
        kind, payload = self._episode.send(int(action))
        if kind == "obs":
            return self.observe(payload), 0.0, False, False, {}
        size, heuristic = payload, self.source.heuristic_size(self._module)
        if not np.isfinite(size):
            size = 2.0 * heuristic  # a failed compilation counts as twice the heuristic
        reward = 1.0 - (size + 0.01) / (heuristic + 0.01)
        info = {
            "module": self.source.module_name(self._module),
            "text_bytes": size,
            "heuristic_text_bytes": heuristic,
            "decisions": self._steps,
        }
        return np.zeros(self.observation_space.shape, np.float32), float(reward), True, False, info

    def close(self) -> None:
        self._abandon()
        super().close()

    # -- the compilation thread --------------------------------------------------

    def _start(self, module: int) -> tuple[str, Any]:
        self._module, self._steps = module, 0
        return self._episode.start(
            lambda decide: self.source.compile(module, lambda raw: bool(decide(raw)))
        )

    def _abandon(self) -> None:
        """Finish a running compilation by answering the heuristic's decisions."""
        self._episode.abandon(lambda raw: int(raw[DEFAULT_INDEX] != 0))


def register_envs() -> list[str]:
    """Register ``tunebench/Inlining-v0`` with gymnasium (idempotent); its ids."""
    if ENV_ID not in gym.registry:
        gym.register(id=ENV_ID, entry_point="envs.inlining.env:InliningEnv")
    return [ENV_ID]


register_envs()
