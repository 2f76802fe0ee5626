"""Importing files into a layer: framework-neutral, used by the CLI and the admin web page.

`run_import(store, path, ImportOptions(...))` reads the file (pyogrio, pandas, openpyxl; archives
unpacked safely), takes its CRS from the file or the declaration, refuses implausible coordinates,
maps its columns to the layer's fields, checks every row and writes all of it in one transaction —
or nothing, returning an `ImportReport` that lists every problem by row/feature and field.
"""

from .archive import MB, Limits
from .matching import MODES
from .report import ImportProblem, ImportRefused, ImportReport

_PIPELINE = ("ImportOptions", "NoProgress", "Progress", "run_import")


def __getattr__(name: str):
    # The pipeline (pyogrio, pandas: ~0.3 s) loads when an import runs, not with every CLI command.
    if name in _PIPELINE:
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["Limits", "MB", "MODES", "ImportOptions", "ImportProblem", "ImportRefused", "ImportReport", "NoProgress",
           "Progress", "run_import"]
