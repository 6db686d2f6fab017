"""Where the shipped measured datasets live, and name -> path resolution."""

from __future__ import annotations

import csv
import gzip
from functools import cache
from pathlib import Path

from harness.dataset import Dataset, Split, split_by_groups, subsample
from harness.errors import UserError

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_DATASET = "bhive_znver3"

# Which BHive applications each shipped block was taken from (BHive's block lists, MIT;
# openblas-* kernels count as one application): the by-source split's groups.
APPLICATIONS_FILE = DATA_DIR / "bhive_applications.csv.gz"

# Held-out applications of the by-source split. Test: SQLite (integer, branchy,
# pointer-chasing database code) and Embree (SIMD floating-point ray tracing), the two
# kinds of code a tuned model most often meets, neither seen in training; validation:
# OpenSSL (integer crypto). Training keeps TensorFlow, FFmpeg, OpenBLAS and both Eigen
# benchmarks (one library: splitting it would leak its code into test).
TEST_APPLICATIONS = ("sqlite", "embree")
VAL_APPLICATIONS = ("openssl",)
SPLITS = ("hash", "by-source")


def cpu_mismatch_note(data: Dataset, model_cpu: str) -> str | None:
    """A one-line note when ``data`` was measured on another microarchitecture than the
    simulator's CPU model ``model_cpu`` (None when they agree or the dataset says none)."""
    measured = data.meta.get("uarch")
    if measured and measured != model_cpu:
        return (
            f"CPU mismatch: {data.name} was measured on {measured}, the simulator models "
            f"{model_cpu}"
        )
    return None


def dataset_path(dataset: str) -> Path:
    """A shipped dataset's name (``bhive_znver3``) or a file path -> existing path."""
    for path in (Path(dataset), DATA_DIR / f"{dataset}.csv.gz", DATA_DIR / f"{dataset}.csv"):
        if path.is_file():
            return path
    raise UserError(f"dataset not found: {dataset} (a path, or a name in {DATA_DIR})")


def load_measured(dataset: str, max_items: int | None = None) -> Dataset:
    """Load a measured block dataset by name or path, optionally cut to ``max_items``
    blocks (a stable hash-chosen subset); a bad or missing file is a UserError."""
    from envs.groundtruth.blockdata import load_block_dataset

    path = dataset_path(dataset)
    try:
        data = load_block_dataset(path)
    except (ValueError, FileNotFoundError) as exc:
        raise UserError(str(exc)) from None
    except csv.Error as exc:
        raise UserError(f"{path}: not a CSV of measured blocks ({exc})") from None
    return data if max_items is None else subsample(data, int(max_items))


@cache
def block_applications() -> dict[str, tuple[str, ...]]:
    """hex -> the BHive applications the block was taken from (shipped file)."""
    out: dict[str, tuple[str, ...]] = {}
    with gzip.open(APPLICATIONS_FILE, "rt", newline="") as fh:
        for row in csv.DictReader(fh):
            out[row["hex"]] = tuple(a for a in row["applications"].split(";") if a)
    return out


def make_split(data: Dataset, split: str = "hash") -> Split:
    """The train/val/test split of a block dataset.

    ``hash``: by block, 80/10/10 by hashing (seed 0), so blocks of one application sit in
    every part. ``by-source``: whole applications held out (:data:`TEST_APPLICATIONS`,
    :data:`VAL_APPLICATIONS`); needs every block in the shipped applications file.
    """
    if split == "hash":
        return data.split(seed=0)
    if split != "by-source":
        raise UserError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    apps = block_applications()
    missing = [h for h in data.inputs if h not in apps]
    if missing:
        raise UserError(
            f"split by-source: {len(missing)} block(s) of {data.name} are not in "
            f'{APPLICATIONS_FILE.name} (e.g. {missing[0][:32]}); use split = "hash"'
        )
    rule = (
        f"by source: test = {' + '.join(TEST_APPLICATIONS)}, val = "
        f"{' + '.join(VAL_APPLICATIONS)} (whole applications, never seen in training)"
    )
    return split_by_groups(
        [apps[h] for h in data.inputs], TEST_APPLICATIONS, VAL_APPLICATIONS, rule
    )
