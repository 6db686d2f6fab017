"""Gymnasium environments over any task's parameter space: the RL agents' view of a Task.

The environment never touches the simulator directly: every loss it needs goes through
a :class:`~harness.budget.BudgetedObjective`, so each simulated sample of every reset
and step is charged to the trial's budget (in a trial, the agent's ``ctx.objective``;
standalone, one the env builds from ``budget_samples``).

MDP (one env = one task, one fixed minibatch of train items, one budget)
-----------------------------------------------------------------------
- Minibatch: a fixed set of k train items (in a trial: the trial's ``eval_items`` or a
  seeded subset of them; standalone: a seeded subset of the train split). Fixed, so the
  loss is a deterministic function of the configuration, rewards within and across
  episodes compare like with like, and the env's best loss is the black-box agents'
  training loss.
- State: ``u`` in [0, 1]^d, the unit-cube encoding of the configuration
  (:meth:`ParamSpace.encode`); the configuration simulated is ``decode(u)``. ``u`` stays
  continuous between steps so that small edits of an integer or categorical parameter
  accumulate until they cross into the next value (categoricals are edited through their
  unit-cube slots like any other parameter).
- Observation, float32 [d + g + 3] (g = number of parameter groups if > 1, else 0):
  ``u`` (d values in [0, 1]); a one-hot of the group the next action edits (g values);
  ``tanh(l_t)`` with ``l_t = log((L_t + eps) / (L_ref + eps))`` the current minibatch loss
  relative to the default configuration's (``eps = 1e-3 L_ref``: a loss of exactly 0
  stays finite); ``tanh(10 (l_t - l_{t-1}))``, the last step's relative change; ``t / H``.
- Action, float32 [m] in [-1, 1]: an edit of the current group's m parameters
  (m = d when ``group_size`` is None, the whole vector at once):
  ``u[group] <- clip(u[group] + step_size * a, 0, 1)``. Groups are contiguous chunks of
  ``group_size`` parameters in ParamSpace order; step t of an episode edits group
  ``(g0 + t) mod g`` (the last group may be shorter: surplus action entries are
  unused) with g0 drawn at reset from the env's seeded ``np_random`` (so every
  group is reached even when H < g, and ``reset(seed=s)`` is reproducible).
- Reward: ``r_t = l_{t-1} - l_t``, the decrease of the log minibatch loss; it telescopes,
  so an episode's return is ``log(L_start / L_end)`` (scale-free; a configuration whose
  loss explodes costs a bounded, logarithmic penalty). A non-finite loss counts as
  ``10 L_ref``; so does a configuration that breaks the space's constraint (it is
  neither simulated nor charged).
- Episode: starts at the default configuration (with probability ``random_start_prob``
  at a uniformly random point; with ``start="best"`` at the best configuration simulated
  so far; with ``reset(options={"start": u})`` at ``u``) and lasts H steps:
  ``terminated`` after step H (t / H is in the state, so step H is a terminal state, not
  a time limit: no bootstrapping past it). ``truncated`` when the budget cannot pay for
  another step (fewer than k samples left, even if the next step might hit the cache):
  :attr:`exhausted` then stays True, and a later step simulates nothing (reward 0,
  truncated again), so a learner stops at the last step it could pay for.

Costs: one step = one evaluation = k samples. The reference loss ``L_ref`` (default
configuration) is evaluated once, at the first reset. With ``cache=True`` (default) the
env asks the objective with ``reuse=True``: a configuration whose minibatch costs the
objective has already returned (e.g. a reset to the default or an edit that does not
change any decoded value) costs nothing; with ``cache=False`` every step is charged
(only ``L_ref`` is reused). Every new best minibatch loss is passed to
``objective.propose`` (the harness's incumbent and anytime curve).

When the budget is spent the env says so once (a ``UserWarning``) and every later
``info`` has ``budget_exhausted = True``; the project's RL agents stop there.

This module names no task. It registers ``tunebench/TaskParams-v0`` (any registered
task by name: ``gym.make("envs.param_env:tunebench/TaskParams-v0", task="toy")``);
task families register their own ids over :func:`make_task_env`
(``envs.mca.env:tunebench/MCAParams-v0``, ``envs.blocksim.env:tunebench/BlockSimParams-v0``).

The expert that behavioral cloning imitates, and the mapping from a policy to a
configuration, belong to the agents (agents/rl/), not to the environment.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from harness.budget import BudgetedObjective, BudgetExhausted
from harness.params import Config, FloatParam, ParamSpace
from harness.task import Task

TASK_ENV_ID = "tunebench/TaskParams-v0"

_FAILED_LOSS_FACTOR = 10.0  # a non-finite loss counts as this many times L_ref
_DELTA_GAIN = 10.0  # a 10% loss change reads as tanh(1) in the observation


class ParamTuningEnv(gym.Env[np.ndarray, np.ndarray]):
    """Edit a task's configuration step by step; reward = decrease of log minibatch loss.

    See the module docstring for the MDP. Args:
        objective: the budgeted objective every simulation goes through.
        items: int64 [k] train items of the minibatch (None: the whole train split).
        horizon: H, steps per episode.
        step_size: largest change of one unit-cube coordinate per step.
        group_size: parameters edited per step (None: all d at once).
        random_start_prob: probability that an episode starts at a uniformly random
            point instead of the default configuration (costs one evaluation).
        start: ``default``: episodes start at the default configuration; ``best``: at
            the best one simulated so far (an incumbent-centred local search).
        cache: remember the loss of every simulated configuration (see module docstring).
        propose: pass each new best loss to ``objective.propose``.
        split: ``train`` (or ``val``) split of the minibatch items.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        objective: BudgetedObjective,
        items: np.ndarray | None = None,
        horizon: int = 8,
        step_size: float = 0.1,
        group_size: int | None = None,
        random_start_prob: float = 0.0,
        start: str = "default",
        cache: bool = True,
        propose: bool = True,
        split: str = "train",
    ) -> None:
        super().__init__()
        if horizon < 1:
            raise ValueError("horizon must be >= 1")
        if not 0.0 < step_size <= 1.0:
            raise ValueError("step_size must be in (0, 1]")
        if not 0.0 <= random_start_prob <= 1.0:
            raise ValueError("random_start_prob must be in [0, 1]")
        if start not in ("default", "best"):
            raise ValueError("start must be 'default' or 'best'")
        self.objective = objective
        self.space: ParamSpace = objective.param_space
        self.split = split
        n = objective.n_items(split)
        self.items = (
            np.arange(n, dtype=np.int64)
            if items is None
            else np.asarray(items, dtype=np.int64).reshape(-1)
        )
        if len(self.items) == 0:
            raise ValueError("the minibatch is empty")
        self.horizon = int(horizon)
        self.step_size = float(step_size)
        self.random_start_prob = float(random_start_prob)
        self.start = start
        self.cache_enabled = bool(cache)
        self.propose_best = bool(propose)

        d = self.space.dim
        size = d if group_size is None else max(1, min(int(group_size), d))
        self.groups: list[np.ndarray] = [
            np.arange(s, min(s + size, d), dtype=np.int64) for s in range(0, d, size)
        ]
        self.group_size = size
        n_groups = len(self.groups)
        self._n_onehot = n_groups if n_groups > 1 else 0
        obs_dim = d + self._n_onehot + 3
        low = np.zeros(obs_dim, dtype=np.float32)
        low[d + self._n_onehot : d + self._n_onehot + 2] = -1.0
        self.observation_space = spaces.Box(low, np.ones(obs_dim, dtype=np.float32))
        self.action_space = spaces.Box(-1.0, 1.0, shape=(size,), dtype=np.float32)

        self.default_u = self.space.encode(self.space.default())
        self._ref_loss: float | None = None
        self._ref_key = ""
        self._warned_exhausted = False
        self.exhausted = False
        self.episodes = 0
        self.best_config: Config | None = None
        self.best_u: np.ndarray | None = None
        self.best_loss = math.inf
        # Episode state.
        self._u = self.default_u.copy()
        self._t = 0
        self._group0 = 0
        self._l = 0.0
        self._dl = 0.0

    # ---- costs -------------------------------------------------------------------
    @property
    def step_cost(self) -> int:
        """Samples one simulated step costs (the minibatch size k)."""
        return len(self.items)

    def can_pay_step(self) -> bool:
        """True while the budget can pay for one more simulated step."""
        return not self.exhausted and self.objective.samples_left >= self.step_cost

    # ---- gymnasium API -----------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; ``options={"start": u}`` (float [d] in [0, 1]) sets the start."""
        super().reset(seed=seed)
        start = None if options is None else options.get("start")
        if start is not None:
            u = np.clip(np.asarray(start, dtype=np.float64).reshape(-1), 0.0, 1.0)
            if u.shape != self.default_u.shape:
                raise ValueError(f"start must have shape {self.default_u.shape}, got {u.shape}")
        elif self.random_start_prob > 0 and self.np_random.random() < self.random_start_prob:
            u = self.np_random.random(len(self.default_u))
        elif self.start == "best" and self.best_u is not None:
            u = self.best_u.copy()
        else:
            u = self.default_u.copy()
        self._u = u
        self._t = 0
        # The episode's first group: seeded, so reset(seed=s) is reproducible.
        self._group0 = int(self.np_random.integers(len(self.groups))) if self._n_onehot else 0
        self.episodes += 1
        self._dl = 0.0
        loss = self._evaluate(u) if self._ensure_ref() else None
        # Unpaid (budget spent): the state reads as "at the reference loss".
        self._l = 0.0 if loss is None else self._log_rel(loss)
        if not self.can_pay_step():
            self.exhausted = True
        return self._obs(), self._info(loss)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply one edit; returns (obs, reward, terminated, truncated, info)."""
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(-1), -1.0, 1.0)
        if a.shape != self.action_space.shape:
            raise ValueError(f"action must have shape {self.action_space.shape}, got {a.shape}")
        u = self._u.copy()
        idx = self._group_indices()
        # The last group may be shorter than group_size: the surplus entries are unused.
        u[idx] = np.clip(u[idx] + self.step_size * a[: len(idx)], 0.0, 1.0)
        loss = None if self.exhausted or self._ref_loss is None else self._evaluate(u)
        if loss is None:  # the budget cannot pay: nothing simulated, nothing changes
            self.exhausted = True
            return self._obs(), 0.0, False, True, self._info(None)
        l_new = self._log_rel(loss)
        reward = self._l - l_new
        self._dl = l_new - self._l
        self._l = l_new
        self._u = u
        self._t += 1
        terminated = self._t >= self.horizon
        truncated = not terminated and not self.can_pay_step()
        if not self.can_pay_step():
            self.exhausted = True
        return self._obs(), float(reward), terminated, truncated, self._info(loss)

    def edited_indices(self) -> np.ndarray:
        """int64 [<= m]: the unit-cube coordinates the next action edits."""
        return self._group_indices()

    def unit_state(self) -> np.ndarray:
        """float64 [d]: a copy of the current unit-cube state ``u``."""
        return self._u.copy()

    @property
    def config(self) -> Config:
        """The current configuration, ``decode(u)``."""
        return self.decode(self._u)

    def decode(self, u: np.ndarray) -> Config:
        """``space.decode(u)`` with float values clamped to their bounds: a log-scaled
        FloatParam decodes u = 1 to a hair above ``high`` (exp/log rounding), which
        ``validate`` then rejects."""
        config = self.space.decode(u)
        for p in self.space:
            if isinstance(p, FloatParam):
                config[p.name] = min(max(config[p.name], p.low), p.high)
        return config

    # ---- internals ---------------------------------------------------------------
    def _group_indices(self) -> np.ndarray:
        return self.groups[(self._group0 + self._t) % len(self.groups)]

    def _ensure_ref(self) -> bool:
        """Evaluate the default configuration once (the loss reference); False if unpaid."""
        if self._ref_loss is None:
            loss = self._evaluate(self.default_u)
            if loss is None:
                return False
            self._ref_loss = loss
        return True

    def _evaluate(self, u: np.ndarray) -> float | None:
        """Minibatch loss of ``decode(u)``, charged unless already seen (see ``cache``);
        None if unaffordable."""
        config = self.decode(u)
        if self._ref_loss is not None and self.space.violation(config) is not None:
            # Breaks the space's constraint (e.g. a tile that does not fit): not
            # simulated, not charged, scored as a failure.
            return _FAILED_LOSS_FACTOR * max(self._ref_loss, 1e-12)
        # The objective gives back, free, costs it has already returned for the same
        # configuration (reuse=True): with cache=False only the reference's.
        reuse = (
            self.cache_enabled
            or self._ref_loss is None
            or (self.space.key(config) == self._ref_key)
        )
        cost = self.objective.sample_cost(config, self.split, self.items, reuse=reuse)
        if cost > 0 and (self.exhausted or self.objective.samples_left < cost):
            self.exhausted = True
            return None
        try:
            loss = float(self.objective.loss(config, self.split, self.items, reuse=reuse))
        except BudgetExhausted:  # someone else spent the budget meanwhile
            self.exhausted = True
            return None
        if self._ref_loss is None:
            self._ref_key = self.space.key(config)
        if not math.isfinite(loss):
            ref = self._ref_loss if self._ref_loss is not None else 1.0
            loss = _FAILED_LOSS_FACTOR * max(ref, 1e-12)
        if loss < self.best_loss:
            self.best_loss, self.best_config, self.best_u = loss, config, u.copy()
            if self.propose_best:
                self.objective.propose(config, loss)
        return loss

    def _log_rel(self, loss: float) -> float:
        ref = self._ref_loss if self._ref_loss is not None else loss
        eps = max(1e-3 * ref, 1e-12)
        return math.log((loss + eps) / (ref + eps))

    def _obs(self) -> np.ndarray:
        d = len(self.default_u)
        out = np.zeros(self.observation_space.shape, dtype=np.float32)
        out[:d] = self._u
        if self._n_onehot:
            out[d + (self._group0 + self._t) % len(self.groups)] = 1.0
        k = d + self._n_onehot
        out[k] = math.tanh(self._l)
        out[k + 1] = math.tanh(_DELTA_GAIN * self._dl)
        out[k + 2] = min(self._t / self.horizon, 1.0)
        return out

    def _info(self, loss: float | None) -> dict[str, Any]:
        if self.exhausted and not self._warned_exhausted:
            self._warned_exhausted = True
            warnings.warn(
                f"budget spent ({self.objective.samples_used} of "
                f"{self.objective.budget_samples} samples): further steps simulate nothing",
                UserWarning,
                stacklevel=3,
            )
        return {
            "loss": float("nan") if loss is None else loss,
            "samples_used": self.objective.samples_used,
            "exhausted": self.exhausted,
            "budget_exhausted": self.exhausted,
        }


def minibatch_items(n_items: int, size: int | None, seed: int) -> np.ndarray:
    """A sorted seeded subset of ``range(n_items)``, int64 [min(size, n)] (None: all)."""
    if size is None or size >= n_items:
        return np.arange(n_items, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_items, size=int(size), replace=False)).astype(np.int64)


def make_task_env(
    task: str | Task,
    task_options: Mapping[str, Any] | None = None,
    budget_samples: int = 100_000,
    minibatch: int | None = 32,
    minibatch_seed: int = 0,
    **env_kwargs: Any,
) -> ParamTuningEnv:
    """A standalone env: the task (a registered name, built with ``task_options``, or a
    Task), its own BudgetedObjective of ``budget_samples``, and a seeded minibatch of
    ``minibatch`` train items (None: all). ``env_kwargs`` go to :class:`ParamTuningEnv`."""
    if isinstance(task, str):
        from harness.trial import build_task  # per-process cache of loaded tasks

        task = build_task(task, dict(task_options or {}))
    objective = BudgetedObjective(task, budget_samples)
    items = minibatch_items(task.n_items("train"), minibatch, minibatch_seed)
    return ParamTuningEnv(objective, items=items, **env_kwargs)


def register_envs() -> list[str]:
    """Register ``tunebench/TaskParams-v0`` (any registered task by name, e.g. the tests'
    ``toy``) with gymnasium (idempotent); returns its id. Task families register their
    own ids over :func:`make_task_env` (e.g. envs/mca/env.py)."""
    if TASK_ENV_ID not in gym.registry:
        gym.register(id=TASK_ENV_ID, entry_point="envs.param_env:make_task_env")
    return [TASK_ENV_ID]


register_envs()
