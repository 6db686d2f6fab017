"""``ithemal``: an Ithemal-style LSTM trained from scratch on the labelled blocks only.

Ithemal (Mendis et al., ICML 2019) learns throughput from ~10^5..10^6 measured blocks;
here it gets the trial's label budget (10^2..10^4) and nothing else: no simulator
samples. Architecture: :class:`agents.predictors.network.BlockEncoder` (one LSTM level
over instructions, key + mnemonic embeddings and explicit dependency features);
loss |log ratio| (option ``loss = "mape"``: |predicted / measured - 1|, the metric itself),
Adam, early stopping on a held-out 15% of the labels
(:func:`agents.predictors.common.label_items`).
"""

from __future__ import annotations

import numpy as np
import torch

from agents.predictors.common import (
    PredictorAgent,
    all_items,
    check_loss,
    label_items,
    read_inputs,
    simulate,
)
from agents.predictors.featurize import Tokenizer, Vocab
from agents.predictors.fit import fit_log_cycles, holdout_shift, log_targets
from agents.predictors.network import BlockEncoder, NeuralPredictor
from agents.predictors.simulators import BlockSimPredictor, task_blocksim_options, task_cpu
from agents.predictors.uarchs import table_space
from agents.torchutil import torch_session
from harness.agent import TrialContext


def check_sizes(**sizes: float) -> None:
    """ValueError naming the first option below 1."""
    for name, v in sizes.items():
        if v < 1:
            raise ValueError(f"{name} must be >= 1")


class IthemalAgent(PredictorAgent):
    """Options:
    cpu: blocksim CPU whose decoder names the tokens.
        Empty: the task's (``ctx.task_facts['cpu']``), else znver3.
    hidden, embed: LSTM width and embedding size.
    epochs, min_steps, batch, lr: training (epochs raised to reach min_steps).
    max_seconds: wall-time cap on training.
    anchor: predict the log ratio to the task's simulator (``ithemal-residual``).
    loss: ``"log-abs"`` or ``"mape"`` (:data:`agents.predictors.common.LOSSES`).
    """

    name = "ithemal"
    description = "Ithemal-style LSTM over instructions, trained from scratch on the labels"

    def __init__(
        self,
        cpu: str = "",
        hidden: int = 96,
        embed: int = 64,
        epochs: int = 60,
        min_steps: int = 600,
        batch: int = 64,
        lr: float = 3e-3,
        max_seconds: float = 600.0,
        anchor: bool = False,
        loss: str = "log-abs",
    ) -> None:
        super().__init__()
        check_sizes(hidden=hidden, embed=embed, epochs=epochs, batch=batch)
        check_loss(loss)
        self.loss = loss
        if lr <= 0 or max_seconds <= 0:
            raise ValueError("lr and max_seconds must be > 0")
        self.cpu, self.hidden, self.embed = cpu, int(hidden), int(embed)
        self.epochs, self.min_steps, self.batch = int(epochs), int(min_steps), int(batch)
        self.lr, self.max_seconds = float(lr), float(max_seconds)
        self.anchor = bool(anchor)

    def versions(self) -> dict[str, str]:
        return {"torch": torch.__version__}

    def run(self, ctx: TrialContext) -> NeuralPredictor | None:
        cpu = task_cpu(self.cpu, ctx.task_facts)
        with torch_session(ctx) as device:
            obj = ctx.objective
            pool = all_items(obj)
            tokenizer = Tokenizer(cpu)
            tokens = tokenizer(read_inputs(obj, pool))
            vocab = Vocab(tokens)
            lab = label_items(ctx, pool)
            y_log, ok = log_targets(lab.targets)
            ok &= np.array([tokens[r] is not None for r in lab.rows], bool)
            anchor = None
            if self.anchor and table_space(ctx.param_space) is not None:
                anchor = BlockSimPredictor(cpu, **task_blocksim_options(ctx.task_facts))
                n_sim = min(len(lab.rows), obj.samples_left)
                s_log, s_ok = log_targets(np.full(len(lab.rows), np.nan))
                s_log[:n_sim], s_ok[:n_sim] = log_targets(
                    simulate(obj, ctx.param_space.default(), lab.items.take(np.arange(n_sim)))
                )
                y_log, ok = y_log - s_log, ok & s_ok
            self.set_diagnostic("anchored", float(anchor is not None))
            if not ok.any():
                return None  # no labels: the harness scores the default
            enc = vocab.encode([tokens[r] for r in lab.rows])
            model = BlockEncoder(vocab.n_keys, vocab.n_mnemonics, self.hidden, self.embed).to(
                device
            )
            with torch.no_grad():  # start at the labels' typical size, not at 1 cycle
                model.head[2].bias.fill_(float(np.median(y_log[ok])))
            fit = fit_log_cycles(
                model, enc, y_log,
                np.flatnonzero(ok & ~lab.holdout), np.flatnonzero(ok & lab.holdout),
                ctx.rng, device, epochs=self.epochs, min_steps=self.min_steps,
                batch=self.batch, lr=self.lr, max_seconds=self.max_seconds, loss=self.loss,
            )  # fmt: skip
            self.set_diagnostic("labels_fit", float((ok & ~lab.holdout).sum()))
            self.set_diagnostic("holdout_mape", fit.best_holdout_mape)
            self.set_diagnostic("train_s", fit.wall_s)
            self.set_diagnostic("epochs", fit.epochs)
            hold = np.flatnonzero(ok & lab.holdout)
            shift = holdout_shift(model, enc, y_log, hold, device)
            self.set_diagnostic("mape_shift", shift)
            predictor = NeuralPredictor(tokenizer, vocab, model, bias=shift, anchor=anchor)
            obj.propose_predictor(predictor)
            return predictor
