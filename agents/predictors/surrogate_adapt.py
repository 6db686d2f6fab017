"""``surrogate-adapt``: a neural surrogate of the simulator, fine-tuned on measured
labels (surrogate adaptation, after Renda et al., "Programming with neural surrogates
of programs", Onward! 2021).

1. Simulate every train and validation block (up to ``sim_blocks``) under the task's
   default configuration: blocksim's default table, or stock llvm-mca (one charged
   sample per block; no labels). On a cross-microarchitecture task, ``pretrain =
   "source"`` takes the source CPU's measurements instead (free labels of another CPU,
   paid as samples: transfer learning from the source CPU to the target).
2. Pretrain :class:`~agents.predictors.network.BlockEncoder` (the same network as
   ``ithemal``) to the simulator's log cycles, 5% of the samples held out.
3. Fine-tune every weight on the labelled blocks (|log ratio| loss, smaller learning
   rate), early stopping on the held-out labels; the pretrained network itself is a
   candidate (epoch 0), so with few labels the fine-tune can only help on the holdout.

Where it should beat ``ithemal``: with few labels, the simulator has already taught the
network what each opcode costs and how dependency chains add up; fine-tuning only
learns where the hardware departs from the model. Where it may not: once labels cover
the data, the pretrained start matters less, and a simulator bias the network learned
well can take many labels to undo.
"""

from __future__ import annotations

import numpy as np
import torch

from agents.predictors.common import (
    PredictorAgent,
    all_items,
    label_items,
    read_inputs,
    simulate,
)
from agents.predictors.featurize import Tokenizer, Vocab
from agents.predictors.fit import fit_log_cycles, holdout_mape, holdout_shift, log_targets
from agents.predictors.ithemal import check_sizes
from agents.predictors.network import BlockEncoder, NeuralPredictor
from agents.predictors.simulators import task_cpu
from agents.predictors.uarchs import source_config
from agents.torchutil import torch_session
from harness.agent import TrialContext
from harness.errors import UserError


class SurrogateAdaptAgent(PredictorAgent):
    """Options:
    cpu: blocksim CPU whose decoder names the tokens.
        Empty: the task's (``ctx.task_facts['cpu']``), else znver3.
    sim_blocks: at most this many blocks simulated for pretraining (charged samples).
    hidden, embed: network sizes (as ``ithemal``).
    pretrain_epochs, pretrain_lr: pretraining on simulator samples.
    epochs, min_steps, batch, lr: fine-tuning on labels.
    max_seconds: wall-time cap on each of the two fits.
    """

    name = "surrogate-adapt"
    description = "LSTM surrogate pretrained on simulator samples, fine-tuned on the labels"

    def __init__(
        self,
        cpu: str = "",
        sim_blocks: int = 100_000,
        hidden: int = 96,
        embed: int = 64,
        pretrain_epochs: int = 25,
        pretrain_lr: float = 3e-3,
        epochs: int = 40,
        min_steps: int = 300,
        batch: int = 64,
        lr: float = 1e-3,
        max_seconds: float = 600.0,
        pretrain: str = "simulator",
    ) -> None:
        super().__init__()
        check_sizes(
            sim_blocks=sim_blocks, hidden=hidden, embed=embed, batch=batch,
            pretrain_epochs=pretrain_epochs, epochs=epochs,
        )  # fmt: skip
        if pretrain not in ("simulator", "source"):
            raise ValueError("pretrain must be 'simulator' or 'source'")
        self.pretrain = pretrain
        if min(lr, pretrain_lr, max_seconds) <= 0:
            raise ValueError("learning rates and max_seconds must be > 0")
        self.cpu, self.sim_blocks = cpu, int(sim_blocks)
        self.hidden, self.embed = int(hidden), int(embed)
        self.pretrain_epochs, self.pretrain_lr = int(pretrain_epochs), float(pretrain_lr)
        self.epochs, self.min_steps, self.batch = int(epochs), int(min_steps), int(batch)
        self.lr, self.max_seconds = float(lr), float(max_seconds)

    def versions(self) -> dict[str, str]:
        return {"torch": torch.__version__}

    def run(self, ctx: TrialContext) -> NeuralPredictor | None:
        with torch_session(ctx) as device:
            return self._run(ctx, device, task_cpu(self.cpu, ctx.task_facts))

    def _run(self, ctx: TrialContext, device: torch.device, cpu: str) -> NeuralPredictor | None:
        obj = ctx.objective
        pool = all_items(obj)
        tokenizer = Tokenizer(cpu)
        tokens = tokenizer(read_inputs(obj, pool))
        vocab = Vocab(tokens)
        decoded = np.array([t is not None for t in tokens], bool)
        enc = vocab.encode(tokens)
        model = BlockEncoder(vocab.n_keys, vocab.n_mnemonics, self.hidden, self.embed).to(device)

        # 1-2. Simulator samples of the default configuration, and pretraining.
        n_sim = min(self.sim_blocks, len(pool), obj.samples_left)
        sim_rows = np.sort(ctx.rng.choice(len(pool), size=n_sim, replace=False))
        sim = np.full(len(pool), np.nan)
        config = ctx.param_space.default()
        if self.pretrain == "source":
            src = source_config(ctx.param_space)
            if src is None:
                raise UserError("surrogate-adapt: pretrain = source needs a task with source data")
            config = src
        if n_sim:
            sim[sim_rows] = simulate(obj, config, pool.take(sim_rows))
        s_log, s_ok = log_targets(sim)
        s_ok &= decoded
        rows = np.flatnonzero(s_ok)
        held = ctx.rng.random(len(rows)) < 0.05
        if len(rows):
            with torch.no_grad():
                model.head[2].bias.fill_(float(np.median(s_log[rows])))
            pre = fit_log_cycles(
                model, enc, s_log, rows[~held], rows[held], ctx.rng, device,
                epochs=self.pretrain_epochs, min_steps=0, batch=max(self.batch, 128),
                lr=self.pretrain_lr, patience=5, max_seconds=self.max_seconds,
            )  # fmt: skip
            self.set_diagnostic("sim_samples", float(n_sim))
            self.set_diagnostic("surrogate_mape_vs_sim", pre.best_holdout_mape)
            self.set_diagnostic("pretrain_s", pre.wall_s)
            predictor = NeuralPredictor(tokenizer, vocab, model)
            obj.propose_predictor(predictor)

        # 3. Fine-tune on the labels.
        lab = label_items(ctx, pool)
        y_log, ok = log_targets(np.full(len(pool), np.nan))
        y_log[lab.rows], ok[lab.rows] = log_targets(lab.targets)
        ok &= decoded
        fit_rows = lab.rows[ok[lab.rows] & ~lab.holdout]
        hold_rows = lab.rows[ok[lab.rows] & lab.holdout]
        if not len(fit_rows):
            return NeuralPredictor(tokenizer, vocab, model) if len(rows) else None
        zero_shot = holdout_mape(model, enc, y_log, hold_rows, device)
        self.set_diagnostic("holdout_mape_pretrained", zero_shot)
        if not len(rows):  # nothing pretrained: start at the labels' typical size
            with torch.no_grad():
                model.head[2].bias.fill_(float(np.median(y_log[fit_rows])))
        fit = fit_log_cycles(
            model, enc, y_log, fit_rows, hold_rows, ctx.rng, device,
            epochs=self.epochs, min_steps=self.min_steps, batch=self.batch, lr=self.lr,
            max_seconds=self.max_seconds, initial_holdout=zero_shot,
        )  # fmt: skip
        self.set_diagnostic("labels_fit", float(len(fit_rows)))
        self.set_diagnostic("holdout_mape", fit.best_holdout_mape)
        self.set_diagnostic("finetune_s", fit.wall_s)
        shift = holdout_shift(model, enc, y_log, hold_rows, device)
        self.set_diagnostic("mape_shift", shift)
        predictor = NeuralPredictor(tokenizer, vocab, model, bias=shift)
        obj.propose_predictor(predictor)
        return predictor
