"""A portfolio of pass sequences learned on training modules: the few sequences that
together serve most modules best (Purini and Jain, "Finding good optimization sequences
covering program space", TACO 2013, choose such a covering set greedily).

The per-module agent (``portfolio`` option) tries each portfolio sequence on a test
module before it searches; a portfolio learned from the training packages is prior
knowledge, so its compilations are not charged to the test modules' budget.
bench/passes_portfolio.py learns one: per-module searches on training modules give
the candidate sequences, every candidate is compiled on every training module, and
:func:`greedy_portfolio` picks from that matrix. No library offers this selection
(a greedy max-coverage over a loss matrix); it is a few lines of numpy.
"""

from __future__ import annotations

import numpy as np


def best_of(ratios: np.ndarray, chosen: list[int], floor: float = 1.0) -> np.ndarray:
    """Per module, the lowest ratio among the ``chosen`` rows and ``floor`` (the
    reference, e.g. -Oz = 1.0, which a module can always fall back to), float64 [n_mod].

    Args:
        ratios: float64 [n_seq, n_mod], instructions / -Oz's per (sequence, module).
    """
    out = np.full(ratios.shape[1], float(floor))
    if chosen:
        out = np.minimum(out, ratios[chosen].min(axis=0))
    return out


def greedy_portfolio(ratios: np.ndarray, k: int, floor: float = 1.0) -> list[int]:
    """Row indices of up to ``k`` sequences chosen greedily to minimise the geometric
    mean over modules of the best ratio (:func:`best_of`); each pick is the one that
    lowers it most, so the order is also the order of value (try the first first).
    Stops early when no remaining row lowers it.

    Args:
        ratios: float64 [n_seq, n_mod], instructions / -Oz's (finite, > 0).
        k: the most sequences to choose (>= 1).
    """
    if k < 1:
        raise ValueError("k must be >= 1")
    logs = np.log(np.asarray(ratios, dtype=np.float64))
    current = np.full(logs.shape[1], float(np.log(floor)))
    chosen: list[int] = []
    for _ in range(min(k, logs.shape[0])):
        # Mean log ratio if each row were added: rows x modules.
        gains = current.mean() - np.minimum(logs, current).mean(axis=1)
        gains[chosen] = -np.inf
        best = int(np.argmax(gains))
        if not gains[best] > 0:
            break
        chosen.append(best)
        current = np.minimum(current, logs[best])
    return chosen
