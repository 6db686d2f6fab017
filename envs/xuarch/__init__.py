"""Family ``xuarch``: cross-microarchitecture prediction (PerfVec's question).

The source CPU's labels are free (paid as simulator samples), the target CPU's are
budgeted. Targets are either a second measured dataset (the blocks measured on both
CPUs) or a synthetic microarchitecture: blocksim under a seeded perturbation of the
CPU's default table (:mod:`envs.xuarch.synthetic`), which shows and tests the mechanism
until two CPUs' measurements exist.

Builds on blocksim (its simulator and table space) and the ground-truth loaders.
"""
