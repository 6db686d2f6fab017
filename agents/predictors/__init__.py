"""Predictor-track agents (issue 19): each returns a predictor over hex basic blocks,
scored by the harness on the test split, with labelled samples metered beside
simulator samples.

- ``mca-stock``, ``blocksim-stock``: the simulators as they ship (0 labels, 0 samples);
- ``difftune-predictor``: DiffTune's tuned blocksim table;
- ``ithemal``: an LSTM trained from scratch on the labels;
- ``surrogate-adapt``: the same LSTM pretrained on simulator samples, fine-tuned on labels;
- ``perfvec``: block x microarchitecture representations from simulated
  microarchitectures, the target's fitted from the labels;
- ``boosted-residual``: gradient-boosted trees correcting the task's simulator, with
  its response to whole-table changes as features;
- ``opcode-regression``: per-opcode additive costs (the floor).

Shared pieces: :mod:`~agents.predictors.common` (label selection, task fit),
:mod:`~agents.predictors.featurize` (tokens), :mod:`~agents.predictors.network` and
:mod:`~agents.predictors.fit` (the LSTM), :mod:`~agents.predictors.simulators`
(simulator-backed predictors), :mod:`~agents.predictors.uarchs` (sampled
microarchitectures).
"""
