"""``seq-hillclimb``: local search over pass sequences by random edits.

From a start sequence (the space's default, i.e. -Oz, or ``start``), each step makes
one random edit (insert, replace, delete or swap passes; ``edits`` of them at once is
tried when single edits stall) and keeps it if the training loss does not get worse
(ties are accepted, so the search drifts across plateaus of equal instruction count).
Inserted passes are drawn from ``prefer`` (when given) with probability
``prefer_prob``, else uniformly from all actions. Works on any task whose space has one
sequence parameter (others stay at their defaults); the per-module agent runs it on each module.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.passes.greedy import the_sequence, with_sequence
from harness.agent import Agent, TrialContext
from harness.budget import BudgetExhausted
from harness.params import Config
from harness.task import Task


def mutate(
    seq: tuple[Any, ...],
    draw: Any,
    max_len: int,
    rng: np.random.Generator,
) -> tuple[Any, ...]:
    """One random edit of ``seq``: insert ``draw()`` somewhere, replace a pass by
    ``draw()``, delete or swap passes; never longer than ``max_len``."""
    out = list(seq)
    moves = ["insert", "replace", "delete", "swap"] if out else ["insert"]
    if len(out) >= max_len:
        moves.remove("insert")
    if len(out) < 2 and "swap" in moves:
        moves.remove("swap")
    move = moves[int(rng.integers(len(moves)))]
    if move == "insert":
        out.insert(int(rng.integers(len(out) + 1)), draw())
    elif move == "replace":
        out[int(rng.integers(len(out)))] = draw()
    elif move == "delete":
        del out[int(rng.integers(len(out)))]
    else:
        i, j = rng.choice(len(out), size=2, replace=False)
        out[i], out[j] = out[j], out[i]
    return tuple(out)


class SequenceHillClimb(Agent):
    """Options: ``start`` (a sequence; default: the space's default), ``prefer`` (passes
    inserts favour, e.g. those a generalization run found useful), ``prefer_prob``
    (0.5), ``stall`` (steps without improvement before trying double edits, 20),
    ``patience`` (stop after this many evaluations without improvement; 0: never, so
    the budget is spent)."""

    name = "seq-hillclimb"
    description = "hill climbing over pass sequences by random edits, from -Oz"

    def __init__(
        self,
        start: list[str] | None = None,
        prefer: list[str] | None = None,
        prefer_prob: float = 0.5,
        stall: int = 20,
        patience: int = 0,
    ) -> None:
        super().__init__()
        if not 0.0 <= prefer_prob <= 1.0 or stall < 1 or patience < 0:
            raise ValueError("prefer_prob in [0, 1], stall >= 1, patience >= 0")
        self.patience = int(patience)
        self.start = tuple(start) if start is not None else None
        self.prefer = tuple(prefer or ())
        self.prefer_prob, self.stall = float(prefer_prob), int(stall)

    @classmethod
    def supports(cls, task: Task) -> tuple[bool, str]:
        if the_sequence(task.param_space) is None:
            return False, "needs a space with one sequence parameter"
        return True, ""

    def run(self, ctx: TrialContext) -> Config:
        p = the_sequence(ctx.param_space)
        assert p is not None
        prefer = tuple(a for a in self.prefer if a in p.choices)
        rng = ctx.rng

        def draw() -> Any:
            if prefer and rng.random() < self.prefer_prob:
                return prefer[int(rng.integers(len(prefer)))]
            return p.choices[int(rng.integers(len(p.choices)))]

        items, cost = ctx.eval_items, len(ctx.eval_items)
        seq = p.validate(self.start if self.start is not None else p.default)
        since, accepted, seen, idle = 0, 0, set(), 0
        try:
            best = ctx.objective.loss(with_sequence(ctx.param_space, seq), "train", items)
            ctx.objective.propose(with_sequence(ctx.param_space, seq), best)
            seen.add(seq)
            while ctx.objective.samples_left >= cost:
                cand = mutate(seq, draw, p.max_len, rng)
                if since >= self.stall:
                    cand = mutate(cand, draw, p.max_len, rng)
                if cand in seen:  # a revisit would be charged for nothing new
                    since += 1
                    if since > 50 * self.stall:
                        break
                    continue
                seen.add(cand)
                loss = ctx.objective.loss(with_sequence(ctx.param_space, cand), "train", items)
                idle = 0 if loss < best else idle + 1
                if self.patience and idle >= self.patience:
                    break
                if loss <= best:
                    since = 0 if loss < best else since + 1
                    if loss < best:
                        ctx.objective.propose(with_sequence(ctx.param_space, cand), loss)
                    best, seq = loss, cand
                    accepted += 1
                else:
                    since += 1
        except BudgetExhausted:
            pass
        self.set_diagnostic("accepted_edits", accepted)
        self.set_diagnostic("sequence_length", len(seq))
        return with_sequence(ctx.param_space, seq)
