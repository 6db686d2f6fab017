"""``greedy``: build a pass sequence one pass at a time, keeping the best (CompilerGym's
greedy search).

Each round tries appending every action (in a seeded random order; ``candidates`` of
them when set) to the current sequence, evaluated on the trial's ``eval_items``, and
keeps the best extension if it lowers the training loss; it stops when no extension
helps, the sequence is ``max_len`` long, or the budget cannot pay for another
evaluation (the best seen so far is kept). Works on any task whose space has one
sequence parameter (any other parameter stays at its default).
"""

from __future__ import annotations

from harness.agent import Agent, TrialContext
from harness.budget import BudgetExhausted
from harness.params import Config, SequenceParam
from harness.task import Task


def the_sequence(space) -> SequenceParam | None:  # noqa: ANN001 - a ParamSpace
    """The space's only sequence parameter (None if it has none or several)."""
    seqs = [p for p in space if isinstance(p, SequenceParam)]
    return seqs[0] if len(seqs) == 1 else None


def with_sequence(space, seq: tuple) -> Config:  # noqa: ANN001 - a ParamSpace
    """The default configuration with its sequence parameter set to ``seq``."""
    p = the_sequence(space)
    assert p is not None
    return {**space.default(), p.name: tuple(seq)}


class GreedySearch(Agent):
    """Options: ``start`` (``empty`` or ``default``: the sequence round 1 extends),
    ``candidates`` (actions tried per round; 0 = all), ``min_gain`` (relative loss
    improvement a round must make to be kept)."""

    name = "greedy"
    description = "greedy sequence building: append the best pass while it helps"

    def __init__(self, start: str = "empty", candidates: int = 0, min_gain: float = 0.0) -> None:
        super().__init__()
        if start not in ("empty", "default"):
            raise ValueError("start must be 'empty' or 'default'")
        if candidates < 0 or min_gain < 0:
            raise ValueError("candidates and min_gain must be >= 0")
        self.start, self.candidates, self.min_gain = start, int(candidates), float(min_gain)

    @classmethod
    def supports(cls, task: Task) -> tuple[bool, str]:
        if the_sequence(task.param_space) is None:
            return False, "needs a space with one sequence parameter"
        return True, ""

    def run(self, ctx: TrialContext) -> Config:
        p = the_sequence(ctx.param_space)
        assert p is not None
        items, cost = ctx.eval_items, len(ctx.eval_items)
        seq: tuple = () if self.start == "empty" else tuple(p.default)
        seq = seq[: p.max_len]
        rounds = 0
        try:
            best = ctx.objective.loss(with_sequence(ctx.param_space, seq), "train", items)
            ctx.objective.propose(with_sequence(ctx.param_space, seq), best)
            while len(seq) < p.max_len:
                order = ctx.rng.permutation(len(p.choices))
                if self.candidates:
                    order = order[: self.candidates]
                round_best: tuple[float, tuple] | None = None
                for k in order:
                    if ctx.objective.samples_left < cost:
                        break
                    cand = (*seq, p.choices[int(k)])
                    loss = ctx.objective.loss(with_sequence(ctx.param_space, cand), "train", items)
                    if round_best is None or loss < round_best[0]:
                        round_best = (loss, cand)
                if round_best is None or round_best[0] >= best * (1.0 - self.min_gain):
                    if round_best is not None and round_best[0] < best:
                        best, seq = round_best  # a partial round still found a gain
                        ctx.objective.propose(with_sequence(ctx.param_space, seq), best)
                    break
                best, seq = round_best
                rounds += 1
                ctx.objective.propose(with_sequence(ctx.param_space, seq), best)
        except BudgetExhausted:
            pass
        self.set_diagnostic("greedy_rounds", rounds)
        self.set_diagnostic("sequence_length", len(seq))
        return with_sequence(ctx.param_space, seq)
