"""``opentuner``: OpenTuner 0.8.8's default ensemble (AUC bandit over DE, Nelder-Mead,
GA, PSO, ...), driven through its ``TuningRunManager`` ask/tell API.

OpenTuner keeps its bookkeeping in SQLAlchemy; under SQLAlchemy 2.x its duplicate
filter silently loses evaluations (jansel/opentuner#167), so tunebench pins
SQLAlchemy < 2 (setup.cfg) and ``tests/test_opentuner.py`` checks that every
evaluation reaches OpenTuner's database and that its best equals the harness's.
"""

from __future__ import annotations

import logging
import os
import random
from typing import Any

import numpy as np

os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")

import opentuner  # noqa: E402
import opentuner.tuningrunmain  # noqa: E402
from opentuner.api import TuningRunManager  # noqa: E402
from opentuner.measurement.interface import DefaultMeasurementInterface  # noqa: E402
from opentuner.resultsdb.models import Result  # noqa: E402
from opentuner.search import manipulator as otm  # noqa: E402

from harness.agent import AskTellAgent, TrialContext  # noqa: E402
from harness.params import (  # noqa: E402
    CategoricalParam,
    Config,
    FloatParam,
    IntParam,
    ParamSpace,
    ScalarView,
)

# OpenTuner's logging set-up writes ``opentuner.log`` into the working directory;
# tunebench keeps its own records, so that set-up is skipped.
opentuner.tuningrunmain.init_logging = lambda: None
# Its "duplicate configuration request" warnings are expected during search.
logging.getLogger("opentuner").setLevel(logging.ERROR)

# get_next_desired_result() may return None many times in a row (all proposals were
# duplicates or the space is exhausted): give up after this many in a row.
MAX_EMPTY_ASKS = 200


def opentuner_manipulator(space: ParamSpace) -> otm.ConfigurationManipulator:
    """An OpenTuner search space with the same parameters and bounds (a scalar space:
    see :class:`~harness.params.ScalarView`)."""
    m = otm.ConfigurationManipulator()
    for p in space:
        if isinstance(p, IntParam):
            m.add_parameter(otm.IntegerParameter(p.name, p.low, p.high))
        elif isinstance(p, FloatParam):
            cls = otm.LogFloatParameter if p.log else otm.FloatParameter
            m.add_parameter(cls(p.name, p.low, p.high))
        elif isinstance(p, CategoricalParam):
            m.add_parameter(otm.EnumParameter(p.name, list(p.choices)))
    return m


class _Interface(DefaultMeasurementInterface):  # type: ignore[misc]
    def __init__(self, seeds: list[Config], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._seeds = seeds

    def seed_configurations(self) -> list[Config]:
        return list(self._seeds)


class OpenTunerAgent(AskTellAgent):
    name = "opentuner"
    description = "OpenTuner ensemble (AUC bandit over DE, Nelder-Mead, GA, PSO), default first"

    def __init__(self, technique: str | None = None) -> None:
        super().__init__()
        self.technique = technique
        self._api: TuningRunManager | None = None
        self._pending: Any = None
        self.results_recorded = 0  # evaluations that reached OpenTuner's database
        self._view: ScalarView | None = None

    def setup(self, ctx: TrialContext) -> None:
        # OpenTuner draws from the global ``random`` and ``numpy.random`` states and
        # takes no seed of its own, so they are seeded here (trials run in their own
        # processes, so this touches no other trial).
        random.seed(ctx.seed)
        np.random.seed(ctx.seed % 2**32)
        args = opentuner.default_argparser().parse_args([])
        args.database = "sqlite://"  # in memory: nothing written to disk
        args.label = f"tunebench-seed{ctx.seed}"
        if self.technique:
            args.technique = [self.technique]
        self._view = view = ScalarView(ctx.param_space)
        interface = _Interface(
            seeds=[view.from_space(ctx.param_space.default())],
            args=args,
            manipulator=opentuner_manipulator(view.space),
            project_name="tunebench",
            program_name="task",
            program_version="0",
        )
        self._api = TuningRunManager(interface, args)
        self.results_recorded = 0

    def ask(self) -> Config:
        assert self._api is not None
        for _ in range(MAX_EMPTY_ASKS):
            dr = self._api.get_next_desired_result()
            if dr is not None:
                self._pending = dr
                assert self._view is not None
                return self._view.to_space(dr.configuration.data)
        raise StopIteration("OpenTuner proposed nothing new")

    def tell(self, config: Config, loss: float) -> None:
        assert self._api is not None and self._pending is not None
        self._api.report_result(self._pending, Result(time=float(loss)))
        self._pending = None

    def run(self, ctx: TrialContext) -> Config | None:
        try:
            return super().run(ctx)
        except StopIteration:
            inc = ctx.objective.log.incumbent
            return inc

    def best(self) -> tuple[Config | None, float]:
        """OpenTuner's own best configuration and its loss (for checks)."""
        assert self._api is not None
        res = self._api.get_best_result()
        if res is None or self._view is None:
            return None, float("inf")
        return self._view.to_space(res.configuration.data), float(res.time)

    def count_results(self) -> int:
        """Results stored in OpenTuner's database for this tuning run."""
        assert self._api is not None
        session = self._api.session
        return session.query(Result).filter_by(tuning_run=self._api.tuning_run).count()

    def finish(self) -> None:
        if self._api is not None:
            # OpenTuner folds reported results into its best only at the start of its
            # next generation; fold the last ones in so best() is up to date.
            self._api.search_driver.process_new_results()
            self.results_recorded = self.count_results()

    def versions(self) -> dict[str, str]:
        import sqlalchemy

        return {"opentuner": "0.8.8", "sqlalchemy": sqlalchemy.__version__}
