"""A tiny task family used by the tests, and the README's example of one.

A family is one package: its task(s) in task.py, and this registry. The harness finds it
through ``TUNEBENCH_PLUGINS=tests.toyfamily`` (the test suite sets it in conftest.py);
a family shipped with tunebench adds its registry line to ``envs/__init__.py`` instead.

- ``toy``: a calibration task with targets (quadratic, loss 0 at a known centre).
- ``toy-seq``: a direct-optimization task whose configuration holds a sequence and a
  permutation under a constraint (no targets: the cost is the objective).
"""

TASKS = {
    "toy": "tests.toyfamily.task:make_toy_task",
    "toy-seq": "tests.toyfamily.task:make_toy_seq_task",
}
AGENTS = {
    "toy-crash": "tests.toyfamily.task:CrashingAgent",
    "toy-big": "tests.toyfamily.task:BigRecordAgent",
    "toy-torch-predictor": "tests.toyfamily.task:TorchPredictorAgent",
    "adv-counters": "tests.toyfamily.adversaries:CounterOverwrite",
    "adv-private": "tests.toyfamily.adversaries:PrivateAttributes",
    "adv-heap": "tests.toyfamily.adversaries:HeapScan",
    "adv-test": "tests.toyfamily.adversaries:TestSplit",
}
