"""pyx12 made fit for the audit: each implementation-guide map loaded once per process, and its logging
silenced (validation errors are reported through InputError instead).
"""
from __future__ import annotations

import functools
import logging
import threading
from typing import Any

__all__ = ["quiet_pyx12", "reuse_pyx12_maps"]

_MAPS_LOCK = threading.Lock()


def reuse_pyx12_maps() -> None:
    """Load each implementation-guide map once per process instead of once per file.

    pyx12 parses its XML map (0.6 s CPU for the 837 maps) every time a file is opened, which made a one-claim
    837 cost more than a thousand JSON claims. Since pyx12 2.x a map holds no walking state (loop and segment
    counts moved to the walker's ``nodeCounter``), so one loaded map can serve every file and thread.
    The parameters are always pyx12's defaults here, so the map file and path are the whole key.
    """
    import pyx12.map_if

    with _MAPS_LOCK:
        load = pyx12.map_if.load_map_file
        if getattr(load, "infucode_cached", False):
            return

        @functools.lru_cache(maxsize=16)
        def loaded(map_file: str, map_path: str | None, param: Any) -> Any:
            return load(map_file, param.param, map_path)

        def load_map_file(map_file: str, param: Any, map_path: str | None = None) -> Any:
            return loaded(map_file, map_path, _DefaultParams(param))

        load_map_file.infucode_cached = True  # type: ignore[attr-defined]
        pyx12.map_if.load_map_file = load_map_file


class _DefaultParams:
    """Cache key for pyx12 params: equal when the settings are equal (pyx12 builds a new params object per file)."""

    def __init__(self, param: Any):
        self.param = param
        self.key = repr(sorted(getattr(param, "params", {}).items()))

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _DefaultParams) and other.key == self.key


def quiet_pyx12() -> None:
    """pyx12 logs every validation error; they are reported through InputError instead."""
    logger = logging.getLogger("pyx12")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    logger.propagate = False
