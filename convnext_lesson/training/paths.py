"""Where the package's own files lie: the one module that knows.

The committed records (``reference/``) and the tiny sample dataset (``data_files/``) ship inside the package, so a
pip install (Colab) finds them too; the project folder (and its ``data/``) exists only in a source checkout.
"""
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
PROJECT_ROOT = PACKAGE.parent
PROJECT_DATA = PROJECT_ROOT / "data" if (PROJECT_ROOT / "pyproject.toml").is_file() else None
PACKAGE_DATA = PACKAGE / "data_files"

REFERENCE = PACKAGE / "reference"
REFERENCE_RUNS = REFERENCE / "runs"  # the ladder's records, step by step and seed by seed
FOLLOWUPS = REFERENCE / "followups"  # the follow-up experiments' records, one folder each
RECIPE_SEARCH = REFERENCE / "recipe_search"
REFERENCE_THROUGHPUT = REFERENCE / "throughput.json"
