"""Typed, validated form of ``pipeline_config.json``.

These dataclasses are what :func:`azml.config.load_config` returns once a file has
passed the schema and the semantic checks; nothing downstream reads raw JSON.
Paths are already resolved against the directory the command runs in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from azml.errors import ConfigProblem

StepType = Literal["PythonScriptStep", "MpiStep", "ParallelRunStep"]
InputMode = Literal["mount", "download"]
ParamValue = str | int | float | bool

#: Name of the input created from the original ``input_datareference_*`` keys,
#: or from the previous step's ``output``.
ORIGINAL_INPUT = "input_data"
#: Argument flags the original format appends. The original project's code passed
#: ``--input`` (its README said ``--input_data``); argparse scripts that declare
#: ``--input_data`` still match it as an unambiguous prefix.
INPUT_FLAG = "--input"
OUTPUT_FLAG = "--output"
#: The input a ParallelRunStep's ``model`` is bound to: the entry script receives it
#: through its arguments (``${{inputs.model}}``), never as a mini-batch.
MODEL_INPUT = "model"


@dataclass(frozen=True)
class ComputeSpec:
    """Compute wanted by a step; ``None`` fields fall back to the settings."""

    vm_size: str | None = None
    min_nodes: int | None = None
    max_nodes: int | None = None
    priority: str | None = None  # "dedicated" or "lowpriority"
    cluster_name: str | None = None

    def merged_over(self, base: ComputeSpec) -> ComputeSpec:
        """This spec with its unset fields taken from ``base``."""
        return ComputeSpec(
            vm_size=self.vm_size if self.vm_size is not None else base.vm_size,
            min_nodes=self.min_nodes if self.min_nodes is not None else base.min_nodes,
            max_nodes=self.max_nodes if self.max_nodes is not None else base.max_nodes,
            priority=self.priority if self.priority is not None else base.priority,
            cluster_name=(
                self.cluster_name if self.cluster_name is not None else base.cluster_name
            ),
        )


@dataclass(frozen=True)
class DatastoreInput:
    """An input read from a datastore (an AzureML ``DataReference``).

    Attributes:
        datastore: the registered datastore's name.
        path: the path on the datastore.
        mode: ``mount`` or ``download``.
        reference_name: the data reference name AzureML shows and uses in
            ``AZUREML_DATAREFERENCE_<reference_name>``.
    """

    datastore: str
    path: str
    mode: InputMode = "mount"
    reference_name: str = ""


@dataclass(frozen=True)
class StepOutputInput:
    """An input bound to another step's output."""

    step_id: str
    output: str


@dataclass(frozen=True)
class DatasetInput:
    """An input read from a registered file dataset (v1) / uri_folder data asset (v2).

    The input's name in the step is what AzureML v1 gives ``as_named_input``: each
    step names its own inputs, so two steps may both call theirs ``raw_data``.

    Attributes:
        dataset: the registered name.
        version: the version; None is the latest when the step runs.
        mode: ``mount`` or ``download``.
    """

    dataset: str
    version: int | None = None
    mode: InputMode = "mount"


InputSpec = DatastoreInput | StepOutputInput | DatasetInput


@dataclass(frozen=True)
class ModelRegistration:
    """``register_model``: register ``output`` (or ``inside`` it) as model ``name``."""

    name: str
    output: str
    inside: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelRef:
    """A ParallelRunStep's model: a registered model, or a previous step's output."""

    name: str | None = None
    version: int | None = None
    step_id: str | None = None
    output: str | None = None


#: ParallelRunConfig defaults: the original project's (error_threshold 10,
#: summary_only, run_invocation_timeout 60) where it set one, else the SDK's.
PARALLEL_DEFAULTS: dict[str, object] = {
    "mini_batch_size": 10,
    "error_threshold": 10,
    "output_action": "summary_only",
    "append_row_file_name": "parallel_run_step.txt",
    "run_invocation_timeout": 60,
    "run_max_try": 3,
    "logging_level": "INFO",
}


@dataclass(frozen=True)
class ParallelSettings:
    """What a ParallelRunStep adds: its ParallelRunConfig settings and model."""

    mini_batch_size: str = "10"
    error_threshold: int = 10
    output_action: str = "summary_only"
    append_row_file_name: str = "parallel_run_step.txt"
    run_invocation_timeout: int = 60
    run_max_try: int = 3
    logging_level: str = "INFO"
    model: ModelRef | None = None


@dataclass(frozen=True)
class StepConfig:
    """One validated step.

    ``inputs`` and ``outputs`` include those implied by the original keys
    (``input_datareference_*``, the previous step's ``output``, ``output``);
    ``original_input`` / ``original_output`` say which of them the original
    format appends as ``--input`` / ``--output``; ``output_path`` is the original
    key of that name, and ``datastore`` the blob datastore the original form
    reads and writes (``input_dataset_name``).
    """

    id: str
    type: StepType
    name: str
    script: str
    source_directory: Path
    arguments: tuple[str, ...] = ()
    requirements: Path | None = None
    base_image: str | None = None
    node_count: int = 1
    processes_per_node: int = 1
    inputs: Mapping[str, InputSpec] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    environment_variables: Mapping[str, str] = field(default_factory=dict)
    allow_reuse: bool = True
    compute: ComputeSpec = field(default_factory=ComputeSpec)
    original_input: str | None = None
    original_output: str | None = None
    output_path: str | None = None
    datastore: str | None = None
    register_model: ModelRegistration | None = None
    parallel: ParallelSettings | None = None

    @property
    def script_path(self) -> Path:
        return self.source_directory / self.script


@dataclass(frozen=True)
class PipelineConfig:
    """A whole validated ``pipeline_config.json``.

    Attributes:
        path: the config file, resolved.
        base_dir: the directory relative paths were resolved against.
        steps: the steps, in file order, keyed by step id.
        parameters: declared pipeline parameters and their defaults.
        original_form: True when no step uses the extended keys (``inputs``,
            ``outputs``, ``depends_on``): the original project's StepSequence then
            ran the steps in file order, and azml keeps that order.
        warnings: problems worth knowing that do not stop the pipeline.
    """

    path: Path
    base_dir: Path
    steps: Mapping[str, StepConfig]
    parameters: Mapping[str, ParamValue] = field(default_factory=dict)
    original_form: bool = False
    warnings: tuple[ConfigProblem, ...] = ()
