"""A planned ParallelRunStep as the SDK's ParallelRunConfig and ParallelRunStep, built offline.

:func:`build_sdk_steps` (builder.py) calls these for every planned step with
``is_parallel``. What the SDK accepts, read from ``azureml/pipeline/core/
_parallel_run_step_base.py`` and ``_parallel_run_config_base.py`` (azureml-pipeline-
steps/-core 1.62):

* ``inputs`` must be datasets: a ``FileDataset``/``TabularDataset`` consumed with
  ``as_named_input`` (a ``DatasetConsumptionConfig``), an upstream ``PipelineData``
  turned into one with ``as_dataset()``, or an ``OutputFileDatasetConfig``. A
  ``DataReference`` or a bare ``PipelineData`` is refused ("Step input must be of any
  type ..."); they are accepted only as ``side_inputs`` (and only bare: a bound
  ``as_input()`` port is refused there too). So a datastore folder becomes
  ``Dataset.File.from_files((datastore, path), validate=False)``, which needs no
  service call to build; the step mounts file inputs itself (``as_mount()``).
* ``output`` is required for ``append_row``; ``arguments`` must start with an option
  and may not reuse the driver's argument names (``--output`` among them).
* ``mini_batch_size``, ``run_invocation_timeout``, ``run_max_try``,
  ``process_count_per_node``, ``node_count`` and ``logging_level`` may be
  ``PipelineParameter``; ``error_threshold`` and ``allowed_failed_count`` may not
  (the SDK checks ``isinstance(..., int)``).
* there is no ``models`` argument any more (it existed, deprecated, only in
  azureml-contrib-pipeline-steps, to record which model versions a run used): a
  model from a step output is a side input, a registered model cannot be passed.
* the step builds its own RunConfiguration (node count, environment, docker): the
  compute target must be a named AmlCompute cluster, not run-based compute.
* the environment needs azureml-core and azureml-dataset-runtime[fuse] (plus
  pandas for tabular input), or a package depending on them such as
  azureml-defaults, which the plan adds to every v1 environment; else the SDK warns.
* building a dataset starts the SDK's telemetry: azureml-dataprep and azureml.data
  ship telemetry settings that are on by default (``azureml/dataprep/api/_telemetry.json``,
  ``azureml/telemetry/telemetry.json``) and send to dc.services.visualstudio.com from
  a background thread. :func:`silence_sdk_telemetry` turns that off first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from azml.config.model import ParallelSettings
from azml.errors import AzmlError
from azml.targets.azureml_v1._sdk import quiet_stdout, require_sdk

#: Settings the SDK accepts as PipelineParameter.
PARAMETERIZABLE = frozenset({"mini_batch_size", "run_invocation_timeout", "run_max_try",
                             "process_count_per_node", "node_count", "logging_level"})


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


def build_parallel_run_config(*, source_directory: str, entry_script: str, environment: Any,
                              compute_target: str, settings: ParallelSettings, node_count: int = 1,
                              process_count_per_node: int | None = None,
                              environment_variables: Mapping[str, str] | None = None,
                              parameters: Mapping[str, Any] | None = None) -> Any:
    """A ParallelRunConfig with every setting of ``settings``; ``parameters`` maps setting
    names to PipelineParameters (only those the SDK accepts as one)."""
    require_sdk()
    from azureml.pipeline.steps import ParallelRunConfig

    values: dict[str, Any] = {
        "mini_batch_size": str(settings.mini_batch_size), "error_threshold": settings.error_threshold,
        "output_action": settings.output_action,
        "append_row_file_name": settings.append_row_file_name,
        "run_invocation_timeout": settings.run_invocation_timeout,
        "run_max_try": settings.run_max_try, "logging_level": settings.logging_level,
        "node_count": node_count, "process_count_per_node": process_count_per_node}
    for name, parameter in (parameters or {}).items():
        if name not in PARAMETERIZABLE:
            raise AzmlError(f"ParallelRunStep setting '{name}' cannot be a pipeline parameter; "
                            f"AzureML accepts one for {', '.join(sorted(PARAMETERIZABLE))}")
        values[name] = parameter
    try:
        return ParallelRunConfig(environment=environment, entry_script=entry_script,
                                 source_directory=source_directory, compute_target=compute_target,
                                 environment_variables=dict(environment_variables or {}) or None,
                                 **values)
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
    except Exception as exc:
        raise AzmlError(f"step '{name}': the AzureML SDK refused the ParallelRunStep: {exc}") from None
