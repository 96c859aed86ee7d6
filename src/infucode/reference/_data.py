"""Read bundled data files once (package resources), so the engine never touches the disk per call."""
from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml


def data_path(name: str) -> Path:
    return Path(str(resources.files("infucode.reference.data").joinpath(name)))


def read_yaml(name_or_path: str | Path) -> Any:
    path = Path(name_or_path)
    if not path.is_absolute() and not path.exists():
        path = data_path(str(name_or_path))
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)
