"""Helpers shared by the Dutch F3 patch-segmentation step scripts.

Everything in this package is local to the experiment folder (the steps'
``source_directory``); it depends only on the packages listed in
``azureml_requirements.txt``. The data modules (:mod:`dutchf3.synthetic`,
:mod:`dutchf3.data`) use NumPy only, so the data steps start without torch.
"""

from __future__ import annotations

#: Facies names of the F3 benchmark, in depth order (label value = index).
CLASS_NAMES: tuple[str, ...] = (
    "upper_ns",
    "middle_ns",
    "lower_ns",
    "rijnland_chalk",
    "scruff",
    "zechstein",
)
NUM_CLASSES: int = len(CLASS_NAMES)
