"""Where the shipped measured datasets live, and name -> path resolution."""

from __future__ import annotations

from pathlib import Path

from harness.dataset import Dataset, subsample
from harness.errors import UserError

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_DATASET = "bhive_znver3"


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

    try:
        data = load_block_dataset(dataset_path(dataset))
    except (ValueError, FileNotFoundError) as exc:
        raise UserError(str(exc)) from None
    return data if max_items is None else subsample(data, int(max_items))
