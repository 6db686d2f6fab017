"""How every torch agent uses the trial's device and threads (one way for all).

``torch_session(ctx)`` sets torch's intra-op threads to ``ctx.threads`` (trials run in
parallel, one core each by default) and seeds torch with ``ctx.seed``, restoring the
thread count afterwards; ``torch_device(ctx)`` is the device models go to:
``ctx.device`` (``cuda`` falls back to the CPU when torch sees no GPU).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from harness.agent import TrialContext


def torch_device(ctx: TrialContext) -> torch.device:
    """``ctx.device`` as a torch device (``cpu`` when CUDA is asked for but absent)."""
    if ctx.device == "cuda" and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


@contextlib.contextmanager
def torch_session(ctx: TrialContext, seed: bool = True) -> Iterator[torch.device]:
    """Run torch on ``ctx.threads`` threads (seeded with ``ctx.seed`` when ``seed``);
    yields the trial's device; restores the thread count afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(ctx.threads)))
    if seed:
        torch.manual_seed(ctx.seed)
    try:
        yield torch_device(ctx)
    finally:
        torch.set_num_threads(before)


def zygote_warm_up() -> None:
    """Run torch once in the agents' zygote (harness/zygote.py) so that the agents it
    forks skip torch's first-use initialization: measured 1.7 s of CPU in a fresh
    process, 0.03 s in one forked after a warm-up (a small LSTM + Adam step). One
    thread: no OpenMP worker threads exist when the zygote forks."""
    torch.set_num_threads(1)
    model = torch.nn.LSTM(8, 8, batch_first=True)
    head = torch.nn.Linear(8, 1)
    opt = torch.optim.Adam([*model.parameters(), *head.parameters()])
    out, _ = model(torch.randn(4, 3, 8))
    loss = torch.nn.functional.mse_loss(head(out[:, -1]), torch.zeros(4, 1))
    loss.backward()
    opt.step()
