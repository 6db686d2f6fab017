"""Losses and metrics comparing predictions with measured ground truth."""

from __future__ import annotations

import numpy as np

# A prediction the simulator could not make (NaN) counts as this relative error, so
# that a parameter setting cannot lower its loss by making blocks fail.
FAILED_PREDICTION_ERROR = 1.0


def relative_errors(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """|pred - target| / target per item, float64 [n]; failed (NaN) predictions -> 1.0."""
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    err = np.abs(pred - target) / np.abs(target)
    return np.where(np.isfinite(err), err, FAILED_PREDICTION_ERROR)


def mape(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean absolute percentage error as a fraction (0.25 = 25%)."""
    if len(target) == 0:
        raise ValueError("MAPE of an empty set")
    return float(relative_errors(pred, target).mean())


def kendall_tau(pred: np.ndarray, target: np.ndarray) -> float:
    """Kendall's tau-b between predictions and targets, over items with a prediction."""
    from scipy.stats import kendalltau  # slow to import; only scoring needs it

    pred = np.asarray(pred, dtype=np.float64)
    ok = np.isfinite(pred)
    if ok.sum() < 2:
        return float("nan")
    return float(kendalltau(pred[ok], np.asarray(target)[ok]).statistic)


def timing_metrics(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """The metrics reported for timing tasks: mape, median relative error, tau, failures."""
    err = relative_errors(pred, target)
    return {
        "mape": float(err.mean()),
        "kendall_tau": kendall_tau(pred, target),
        "median_rel_error": float(np.median(err)),
        "failed_fraction": float(np.mean(~np.isfinite(np.asarray(pred, dtype=np.float64)))),
    }
