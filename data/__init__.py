"""The embedded default dataset (one GeoPackage), its sources and the script that builds it."""

from __future__ import annotations

from pathlib import Path

#: Folder of this package: the dataset and its build script live here.
DATA_DIR = Path(__file__).resolve().parent

#: The embedded default store (read-only; ``ecozone layers init`` makes a writable copy).
DEFAULT_STORE = DATA_DIR / "ecozone.gpkg"


def default_store_path() -> Path:
    """Path of the embedded default GeoPackage."""
    return DEFAULT_STORE
