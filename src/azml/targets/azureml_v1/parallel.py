"""Draft: a ParallelRunStep (azureml-pipeline-steps) from plain arguments, built offline.

To be wired by the plan's ParallelRunStep steps (see docs/parallel.md). What the
SDK accepts, read from ``azureml/pipeline/core/_parallel_run_step_base.py`` and
``_parallel_run_config_base.py`` (azureml-pipeline-steps/-core 1.62):

* ``inputs`` must be datasets: a ``FileDataset``/``TabularDataset`` consumed with
  ``as_named_input`` (a ``DatasetConsumptionConfig``), an upstream ``PipelineData``
  turned into one with ``as_dataset()``, or an ``OutputFileDatasetConfig``. A
  ``DataReference`` or a bare ``PipelineData`` is refused ("Step input must be of any
  type ..."); they are accepted only as ``side_inputs``. So a datastore folder
  becomes ``Dataset.File.from_files((datastore, path), validate=False)``, which
  needs no service call to build.
* ``output`` is required for ``append_row``; ``arguments`` must start with an option
  and may not reuse the driver's argument names (``--output`` among them).
* ``mini_batch_size``, ``run_invocation_timeout``, ``run_max_try``,
  ``process_count_per_node``, ``node_count`` and ``logging_level`` may be
  ``PipelineParameter``; ``error_threshold`` and ``allowed_failed_count`` may not
  (the SDK checks ``isinstance(..., int)``).
* there is no ``models`` argument any more (it existed, deprecated, only in
  azureml-contrib-pipeline-steps, to record which model versions a run used).
* the step builds its own RunConfiguration (node count, environment, docker): the
  compute target must be a named AmlCompute cluster, not run-based compute.
* the environment should hold azureml-core and azureml-dataset-runtime[fuse] (plus
  pandas for tabular input), or the SDK warns that the job will fail.
* building a dataset starts the SDK's telemetry: azureml-dataprep and azureml.data
  ship telemetry settings that are on by default (``azureml/dataprep/api/_telemetry.json``,
  ``azureml/telemetry/telemetry.json``) and send to dc.services.visualstudio.com from
  a background thread. :func:`silence_sdk_telemetry` turns that off first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from azml.errors import AzmlError
from azml.targets.azureml_v1._sdk import quiet_stdout, require_sdk

#: What ParallelRunStep's driver imports on the compute (the SDK warns without them).
DRIVER_PACKAGES = {"file": ("azureml-core", "azureml-dataset-runtime[fuse]"),
                   "tabular": ("azureml-core", "azureml-dataset-runtime[fuse,pandas]")}
#: Settings the SDK accepts as PipelineParameter.
PARAMETERIZABLE = frozenset({"mini_batch_size", "run_invocation_timeout", "run_max_try",
                             "process_count_per_node", "node_count", "logging_level"})


@dataclass(frozen=True)
class ParallelSettings:
    """A ParallelRunStep's settings; defaults are the original project's.

    The original passed ``error_threshold=10``, ``output_action="summary_only"``,
    ``run_invocation_timeout=60`` and ``allow_reuse=False``; the rest are the SDK's
    defaults (``mini_batch_size`` ``None`` lets the SDK pick 10 files or 1 MB).
    """

    mini_batch_size: str | int | None = None
    error_threshold: int = 10
    output_action: str = "summary_only"
    append_row_file_name: str | None = None
    process_count_per_node: int | None = None
    node_count: int = 1
    run_invocation_timeout: int = 60
    run_max_try: int = 3
    logging_level: str = "INFO"
    allowed_failed_count: int | None = None
    allowed_failed_percent: float | None = None


def silence_sdk_telemetry() -> None:
    """Stop the dataset SDKs' telemetry: no new handlers, and none left on existing loggers."""
    import logging

    import azureml.data._loggerfactory as data_logs
    import azureml.dataprep.api._loggerfactory as dataprep_logs
    from azureml.telemetry.logging_handler import AppInsightsLoggingHandler

    data_logs.telemetry_enabled = False
    dataprep_logs.telemetry_enabled = False
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            for handler in [h for h in logger.handlers if isinstance(h, AppInsightsLoggingHandler)]:
                logger.removeHandler(handler)


def datastore_file_input(datastore: Any, path: str, name: str) -> Any:
    """A datastore folder as a named FileDataset input (no service call, no telemetry)."""
    require_sdk()
    silence_sdk_telemetry()
    from azureml.core import Dataset

    return Dataset.File.from_files(path=(datastore, path), validate=False).as_named_input(name)


def datastore_tabular_input(datastore: Any, path: str, name: str) -> Any:
    """Delimited files in a datastore folder as a named TabularDataset input (``direct`` mode).

    ``validate=False`` and ``infer_column_types=False`` keep the SDK from reading the
    data to build it; run() then receives every column as text, as pandas would read
    the CSV without a schema.
    """
    require_sdk()
    silence_sdk_telemetry()
    from azureml.core import Dataset

    dataset = Dataset.Tabular.from_delimited_files(path=(datastore, path), validate=False,
                                                   infer_column_types=False)
    return dataset.as_named_input(name)


def step_output_input(pipeline_data: Any, name: str) -> Any:
    """An upstream step's PipelineData as the named FileDataset input ParallelRunStep needs."""
    return pipeline_data.as_dataset().as_named_input(name)


def add_driver_packages(environment: Any, input_kind: str = "file") -> Any:
    """Add azureml-core and azureml-dataset-runtime to ``environment`` unless present."""
    dependencies = environment.python.conda_dependencies
    present = {p.split("[")[0].split("=")[0].split("<")[0].split(">")[0].strip().lower()
               for p in dependencies.pip_packages}
    for package in DRIVER_PACKAGES[input_kind]:
        if package.split("[")[0] not in present:
            dependencies.add_pip_package(package)
    return environment


def build_parallel_run_config(*, source_directory: str, entry_script: str, environment: Any,
                              compute_target: str, settings: ParallelSettings,
                              parameters: Mapping[str, Any] | None = None) -> Any:
    """A ParallelRunConfig; ``parameters`` maps setting names to PipelineParameters."""
    require_sdk()
    from azureml.pipeline.steps import ParallelRunConfig

    values: dict[str, Any] = {
        name: getattr(settings, name) for name in (
            "mini_batch_size", "error_threshold", "output_action", "append_row_file_name",
            "process_count_per_node", "node_count", "run_invocation_timeout", "run_max_try",
            "logging_level", "allowed_failed_count", "allowed_failed_percent")}
    if isinstance(values["mini_batch_size"], int):
        values["mini_batch_size"] = str(values["mini_batch_size"])
    for name, parameter in (parameters or {}).items():
        if name not in PARAMETERIZABLE:
            raise AzmlError(f"ParallelRunStep setting '{name}' cannot be a pipeline parameter; "
                            f"AzureML accepts one for {', '.join(sorted(PARAMETERIZABLE))}")
        values[name] = parameter
    try:
        return ParallelRunConfig(environment=environment, entry_script=entry_script,
                                 source_directory=source_directory,
                                 compute_target=compute_target, **values)
    except ValueError as exc:
        raise AzmlError(f"ParallelRunStep settings refused by the AzureML SDK: {exc}") from None


def build_parallel_run_step(*, name: str, config: Any, inputs: Sequence[Any], output: Any | None,
                            arguments: Sequence[Any] = (), side_inputs: Sequence[Any] = (),
                            allow_reuse: bool = False) -> Any:
    """A ParallelRunStep; inputs must already be dataset inputs (see the module docstring)."""
    require_sdk()
    from azureml.data.data_reference import DataReference
    from azureml.pipeline.core import PipelineData
    from azureml.pipeline.steps import ParallelRunStep

    for item in inputs:
        if isinstance(item, (DataReference, PipelineData)):
            raise AzmlError(
                f"step '{name}': ParallelRunStep partitions datasets only, not a "
                f"{type(item).__name__}; use datastore_file_input() or step_output_input()")
    try:
        with quiet_stdout():
            return ParallelRunStep(name=name, parallel_run_config=config, inputs=list(inputs),
                                   output=output, side_inputs=list(side_inputs) or None,
                                   arguments=list(arguments) or None, allow_reuse=allow_reuse)
    except Exception as exc:  # noqa: BLE001 - the SDK raises bare Exception, ValueError, AssertionError
        raise AzmlError(f"step '{name}': the AzureML SDK refused the ParallelRunStep: {exc}") from None
