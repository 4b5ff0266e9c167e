"""Experiment tracking for local runs: an MLflow store under ``$AZML_HOME/tracking/``.

* :mod:`.server` -- the local MLflow tracking server (one per AZML_HOME, kept alive);
* :mod:`.store` -- :class:`~azml.tracking.store.Tracking`, what the local runner calls
  (parent run per pipeline run, child run per step, model registration);
* :mod:`.reads` -- fast read-only queries of the SQLite file (status, metrics, models);
* :mod:`.views` -- metric tables, run comparison and loss-curve plots.

Importing this package imports neither MLflow nor matplotlib: only the server
process imports MLflow, and only plotting imports matplotlib.
"""
