"""gymnasium environment ``tunebench/PassOrdering-v0``: one episode = one module
compiled by a sequence of passes chosen one at a time (CompilerGym's LLVM env on
LLVM 22).

- observation: float32 [obs_dim] (envs/passes/policy.py ``observation``): the module's
  56 Autophase counts scaled two ways (log size; share of instructions), the episode's
  progress, a first-step flag, log(instructions / initial instructions), and how often
  each action was used so far;
- action: Discrete(n_actions + 1): a pass of the task's action list (``-Oz`` first when
  the task has it), or the last one, STOP;
- reward: ``(instructions before - instructions after) / -Oz's instructions`` per pass,
  so an episode's return is ``(initial - final) / oz``; -Oz's own return is
  ``(initial - oz) / oz`` and beating -Oz means a larger return. A compilation that
  fails ends the episode as if the module had ``FAILED_RATIO`` x -Oz's instructions.
- an episode ends at STOP or after the task's ``max_len`` passes; ``info`` then holds
  ``oz_ratio`` (final / -Oz instructions) and the ``sequence`` applied.

The module is compiled step by step by the task (``evaluate_policy``) in a background
thread whose policy calls back into the env (``step`` hands the action over). A
*source* runs the episode: :class:`DirectSource` on a task (plain gymnasium use),
:class:`BudgetedSource` as one sample of a harness ``BudgetedObjective`` (RL agents are
charged one compilation per episode, like every other agent).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from envs.callback_episode import CallbackEpisode
from envs.passes.policy import PassState, obs_dim, observation
from envs.passes.task import FAILED_RATIO

ENV_ID = "tunebench/PassOrdering-v0"
OBS_BOUND = 10.0


class EpisodeSource(Protocol):
    """Where episodes' modules come from and how one is compiled."""

    n_actions: int

    def n_modules(self) -> int: ...

    def oz_instructions(self, index: int) -> float: ...

    def compile(self, index: int, policy: Callable[[PassState], int]) -> float:
        """Final instruction count of module ``index`` under a live policy (NaN: failed)."""
        ...


class DirectSource:
    """Episodes on one split of a ``passes`` task, compiled directly (no budget)."""

    def __init__(self, task: Any, split: str = "train") -> None:
        self.task, self.split = task, split
        self.n_actions = len(task.actions)

    def n_modules(self) -> int:
        return int(self.task.n_items(self.split))

    def oz_instructions(self, index: int) -> float:
        return float(self.task.targets(self.split, np.array([index]))[0])

    def compile(self, index: int, policy: Callable[[PassState], int]) -> float:
        return float(self.task.evaluate_policy(policy, self.split, np.array([index]))[0])


class BudgetedSource:
    """Each episode is ``objective.evaluate_policy(<live policy>, split, [index])``: one
    sample of the trial's budget (``BudgetExhausted`` at the reset that cannot pay)."""

    def __init__(self, objective: Any, n_actions: int, split: str = "train") -> None:
        self.objective, self.split, self.n_actions = objective, split, n_actions
        self._oz: dict[int, float] = {}

    def n_modules(self) -> int:
        return int(self.objective.n_items(self.split))

    def oz_instructions(self, index: int) -> float:
        if index not in self._oz:
            self._oz[index] = float(self.objective.targets(self.split, np.array([index]))[0])
        return self._oz[index]

    def compile(self, index: int, policy: Callable[[PassState], int]) -> float:
        return float(self.objective.evaluate_policy(policy, self.split, np.array([index]))[0])


class PassOrderingEnv(gym.Env[np.ndarray, np.int64]):
    """See the module docstring.

    Args:
        source: episode source; default: :class:`DirectSource` on the train split of
            ``make_passes_task(policy="mlp", **task_options)``.
        modules: module indices of the source to draw episodes from (default: all).
        task_options: options for the default task.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        source: EpisodeSource | None = None,
        modules: Sequence[int] | None = None,
        task_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if source is None:
            from envs.passes.task import make_passes_task

            source = DirectSource(make_passes_task(**(task_options or {})), "train")
        self.source = source
        self.n_actions = int(source.n_actions)
        self.stop_action = self.n_actions
        self.module_pool = list(modules) if modules is not None else list(range(source.n_modules()))
        dim = obs_dim(self.n_actions)
        self.observation_space = gym.spaces.Box(-OBS_BOUND, OBS_BOUND, (dim,), np.float32)
        self.action_space = gym.spaces.Discrete(self.n_actions + 1)
        # pending: the module's state awaiting the next action
        self._episode: CallbackEpisode[PassState] = CallbackEpisode("passes-episode")
        self._module = -1
        self._sequence: list[int] = []

    @property
    def state(self) -> PassState:
        """The module's state awaiting the next action (reset() first)."""
        if self._episode.pending is None:
            raise RuntimeError("no episode running (reset() first)")
        return self._episode.pending

    def observe(self, state: PassState) -> np.ndarray:
        return np.clip(observation(state), -OBS_BOUND, OBS_BOUND)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start compiling a module (``options["module"]`` or one drawn with the env's
        seeded generator); returns its observation before any pass."""
        super().reset(seed=seed)
        self._abandon()
        if options and "module" in options:
            module = int(options["module"])
        else:
            module = int(self.module_pool[int(self.np_random.integers(len(self.module_pool)))])
        kind, payload = self._start(module)
        if kind != "obs":  # horizon 0 or a module that fails to load
            raise RuntimeError(f"module {module}: the episode ended before its first pass")
        return self.observe(payload), {"module": module}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._episode.pending is None:
            raise RuntimeError("step() before reset() or after the episode ended")
        a = int(action)
        if not 0 <= a <= self.n_actions:
            raise ValueError(f"action {a} outside Discrete({self.n_actions + 1})")
        before = self._episode.pending.instructions
        oz = self.source.oz_instructions(self._module)
        if a != self.stop_action:
            self._sequence.append(a)
        kind, payload = self._episode.send(a)
        if kind == "obs":
            reward = (before - payload.instructions) / oz
            return self.observe(payload), float(reward), False, False, {}
        final = float(payload) if np.isfinite(payload) else FAILED_RATIO * oz
        info = {
            "module": self._module,
            "instructions": final,
            "oz_ratio": final / oz,
            "failed": not np.isfinite(payload),
            "sequence": tuple(self._sequence),
        }
        zeros = np.zeros(self.observation_space.shape, np.float32)
        return zeros, float((before - final) / oz), True, False, info

    def close(self) -> None:
        self._abandon()
        super().close()

    # ---- the compilation thread ---------------------------------------------------------
    def _start(self, module: int) -> tuple[str, Any]:
        self._module, self._sequence = module, []
        return self._episode.start(lambda decide: self.source.compile(module, decide))

    def _abandon(self) -> None:
        """End a running episode by answering STOP (its compilation was paid for)."""
        self._episode.abandon(lambda _state: self.stop_action)


def register_envs() -> list[str]:
    """Register ``tunebench/PassOrdering-v0`` with gymnasium (idempotent); its ids."""
    if ENV_ID not in gym.registry:
        gym.register(id=ENV_ID, entry_point="envs.passes.env:PassOrderingEnv")
    return [ENV_ID]


register_envs()
