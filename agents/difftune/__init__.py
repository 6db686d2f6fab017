"""DiffTune (Renda et al., MICRO 2020): learn simulator parameters by gradient descent
through a learned differentiable surrogate, on the harness's sample budget.

Modules: :mod:`.layout` (parameter space -> per-token tensors), :mod:`.sampling`
(parameter tables to simulate), :mod:`.surrogate` (the torch model), :mod:`.train`
(surrogate training, then parameter training), :mod:`.agent` (``DiffTuneAgent``).
"""
