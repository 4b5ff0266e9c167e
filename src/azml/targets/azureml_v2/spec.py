"""A plain, explicit description of an AzureML v2 pipeline job (no SDK import).

:mod:`.translate` fills a :class:`PipelineSpec` from the plan; :mod:`.build` turns it
into an ``azure.ai.ml`` PipelineJob, and :func:`spec_view` describes it for ``azml plan
--target azureml-v2`` without importing the SDK (``import azure.ai.ml`` alone costs
more than the 1.5 s the plan command may take).

The rules checked by :func:`validate_spec` are the SDK's (azure-ai-ml 1.35.2):

* node names: ``azure/ai/ml/_utils/utils.py::is_valid_node_name`` (a lower-case ASCII
  Python identifier, ``^[a-z_][a-z0-9_]*``); anonymous components are all named
  ``azureml_anonymous`` (recorded by the stand-in), so no other rule applies;
* input and output names: ``constants/_component.py::IOConstants.VALID_KEY_PATTERN``,
  no two equal ignoring case (``entities/_component/component.py::_validate_io_names``),
  and none of the ``dict`` method names the SDK warns about
  (``constants/_job/pipeline.py::COMPONENT_IO_KEYWORDS``);
* pipeline input values: the literal types a pipeline input carries
  (``integer``, ``number``, ``string``, ``boolean``; ``IOConstants.PRIMITIVE_TYPE_2_STR``).

Ordering without data: AzureML v2 has no control edge between command nodes (no
``StepSequence``/``run_after``; Azure/azure-sdk-for-python#34196, Azure/azure-cli#26739;
Microsoft's migration guide maps StepSequence to "data dependency via dummy
inputs/outputs"). A node that must run after ``pred`` gets an input
``azml_after_<pred>`` bound to ``pred``'s output ``azml_done`` in ``direct`` mode: the
URI is passed as a string, nothing is mounted, so an empty (never written) output does
not fail the step the way a mounted one does (``DataAccessError(NotFound)``,
Azure/azure-sdk-for-python#25020). The port names come from the plan
(:mod:`azml.plan.contract`), which the local v2 contract reads too; a :class:`Node`
carries them as :attr:`Node.after` and :attr:`Node.order_output`.

A registered model (``register_model``) is the documented v2 way: the node's output
gets ``type: custom_model`` and ``name`` (Microsoft Learn, "Manage inputs and outputs
of component and pipeline", *Register output as a named asset*: a name and optional
version on a node output registers it when the node completes).

A registered dataset is a ``uri_folder`` input whose path is the data asset,
``azureml:NAME:VERSION`` (:class:`DatasetInput`; Microsoft Learn, "Upgrade data
management to SDK v2": a v1 FileDataset maps to ``uri_folder``).

A ParallelRunStep is a ``parallel`` node (:class:`~.parallel.ParallelNode`) beside the
command nodes: :attr:`PipelineSpec.nodes` holds both, :func:`validate_spec` adds
:func:`~.parallel.parallel_problems` for it, and :func:`spec_view` shows its settings
(:func:`~.parallel.parallel_view`) with the same input and output views.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azml.plan import azureml_asset_uri

if TYPE_CHECKING:  # pragma: no cover -- parallel imports this module
    from azml.targets.azureml_v2.parallel import ParallelNode, RegisteredModelInput

NODE_NAME = re.compile(r"[a-z_][a-z0-9_]*")
IO_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
IO_KEYWORDS = frozenset({"clear", "copy", "fromkeys", "get", "items", "keys", "pop", "popitem",
                         "setdefault", "update", "values"})
INPUT_MODES = ("ro_mount", "download", "direct")
OUTPUT_MODES = ("rw_mount", "upload")
PARAMETER_TYPES: dict[type, str] = {bool: "boolean", int: "integer", float: "number", str: "string"}
DATA_TYPES = ("uri_folder", "custom_model")
SERVERLESS = "serverless"
JOB_TIERS = ("spot", "basic", "standard", "premium")  # JobTierNames.EntityNames
_BINDING = re.compile(r"\$\{\{\s*(inputs|outputs)\.([A-Za-z0-9_.]+)\s*\}\}")


@dataclass(frozen=True)
class DatastoreInput:
    """A folder on a registered datastore: ``azureml://datastores/<datastore>/paths/<path>``."""

    datastore: str
    path: str
    mode: str = "ro_mount"

    @property
    def uri(self) -> str:
        return f"azureml://datastores/{self.datastore}/paths/{self.path.lstrip('/')}"


@dataclass(frozen=True)
class NodeOutputInput:
    """Another node's output: ``${{parent.jobs.<node>.outputs.<output>}}`` (of its type)."""

    node: str
    output: str
    mode: str = "ro_mount"
    type: str = "uri_folder"


@dataclass(frozen=True)
class ParameterInput:
    """A pipeline input (parameter): ``${{parent.inputs.<parameter>}}``."""

    parameter: str


@dataclass(frozen=True)
class AssetInput:
    """A registered asset the workspace holds, at ``version`` (its latest when None)."""

    name: str
    version: int | str | None = None
    mode: str = "ro_mount"

    @property
    def uri(self) -> str:
        return azureml_asset_uri(self.name, self.version)


@dataclass(frozen=True)
class DatasetInput(AssetInput):
    """A registered dataset (data asset): ``azureml:NAME:VERSION``, ``azureml:NAME@latest``
    without a version (the plan's :attr:`~azml.plan.InputBinding.asset_uri`)."""


NodeInput = DatastoreInput | NodeOutputInput | ParameterInput | DatasetInput


@dataclass(frozen=True)
class NodeOutput:
    """A folder output; with ``datastore`` and ``path`` it is written there.

    ``type`` is ``uri_folder``, or ``custom_model`` with ``asset_name`` to register
    the folder as a model when the node completes.
    """

    datastore: str | None = None
    path: str | None = None
    mode: str = "rw_mount"
    type: str = "uri_folder"
    asset_name: str | None = None

    @property
    def uri(self) -> str | None:
        if self.datastore is None or self.path is None:
            return None
        return f"azureml://datastores/{self.datastore}/paths/{self.path.lstrip('/')}"


@dataclass(frozen=True)
class EnvironmentSpec:
    """A Docker image and the conda file (with the pip lines verbatim) built on it."""

    image: str
    conda_file: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ComputeSpec:
    """Serverless (``cluster`` None, ``instance_type`` required) or a named cluster."""

    instance_count: int = 1
    instance_type: str | None = None
    cluster: str | None = None
    job_tier: str | None = None


@dataclass(frozen=True)
class Node:
    """One command node: one step."""

    name: str
    display_name: str
    command: str
    code: Path
    environment: EnvironmentSpec
    compute: ComputeSpec
    inputs: Mapping[str, NodeInput] = field(default_factory=dict)
    outputs: Mapping[str, NodeOutput] = field(default_factory=dict)
    process_count_per_instance: int | None = None
    environment_variables: Mapping[str, str] = field(default_factory=dict)
    is_deterministic: bool = True
    after: Mapping[str, str] = field(default_factory=dict)
    order_output: str | None = None

    def order_ports(self) -> tuple[list[str], list[str]]:
        """The (inputs, outputs) that carry this node's ordering edges."""
        return list(self.after), [self.order_output] if self.order_output else []


@dataclass(frozen=True)
class PipelineSpec:
    """The pipeline job: nodes in order, typed inputs with defaults, run metadata."""

    nodes: tuple[Node | ParallelNode, ...]
    experiment_name: str
    display_name: str | None = None
    parameters: Mapping[str, bool | int | float | str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None


@dataclass(frozen=True)
class SpecProblem:
    """A feature of the spec that AzureML v2 refuses: where, which key, what to do."""

    node: str
    key: str
    message: str

    def render(self) -> str:
        where = f"{self.node}: {self.key}" if self.node else self.key
        return f"{where}: {self.message}"


def conda_file(pip_lines: list[str], python_version: str, name: str = "azml-step") -> dict[str, Any]:
    """A conda file that installs ``pip_lines`` verbatim (options, markers) with pip.

    conda writes a ``pip:`` section to a requirements file and runs ``pip install -r``
    on it, so ``--extra-index-url`` lines and environment markers keep their meaning;
    ``-r``/``-c`` includes must already be inlined (the files are not in the image).
    """
    return {"name": name, "channels": ["conda-forge"],
            "dependencies": [f"python={python_version}", "pip", {"pip": list(pip_lines)}]}


def parameter_type(value: Any) -> str | None:
    """The v2 input type of a parameter default, or None when v2 cannot carry it."""
    return PARAMETER_TYPES.get(type(value))


def command_bindings(command: str) -> set[tuple[str, str]]:
    """The ``(inputs|outputs, name)`` pairs a command refers to."""
    return {(m.group(1), m.group(2)) for m in _BINDING.finditer(command)}


def validate_spec(spec: PipelineSpec) -> list[SpecProblem]:
    """Every feature of ``spec`` that AzureML v2 (or its SDK) would refuse, each once."""
    problems: list[SpecProblem] = []
    problems += _check_names("", "inputs", list(spec.parameters))
    for name, value in spec.parameters.items():
        if parameter_type(value) is None:
            problems.append(SpecProblem("", f"parameters.{name}", (
                f"a {type(value).__name__} cannot be a v2 pipeline input; use a number, a string "
                "or true/false (a list or object can be passed as a JSON string)")))
    names = [n.name for n in spec.nodes]
    for node in spec.nodes:
        problems += [p for p in _check_node(node, names, spec) if p not in problems]
    return problems


def _check_names(node: str, key: str, names: list[str]) -> list[SpecProblem]:
    problems: list[SpecProblem] = []
    seen: dict[str, str] = {}
    for name in names:
        if not IO_NAME.fullmatch(name):
            problems.append(SpecProblem(node, f"{key}.{name}", "v2 names may use only letters, digits "
                                        "and underscores, not starting with a digit; rename it"))
        elif name in IO_KEYWORDS or keyword.iskeyword(name):
            problems.append(SpecProblem(node, f"{key}.{name}", "is a reserved word in v2 pipelines "
                                        "(a Python keyword or dict method); rename it"))
        if name.lower() in seen:
            problems.append(SpecProblem(node, f"{key}.{name}", f"equals {seen[name.lower()]!r} ignoring "
                                        "case, which v2 refuses; rename one of them"))
        seen.setdefault(name.lower(), name)
    return problems


def _check_node(node: Node | ParallelNode, names: list[str], spec: PipelineSpec) -> list[SpecProblem]:
    """The rules every node follows, then a command's or a parallel node's own."""
    at = node.name
    problems = []
    if not NODE_NAME.fullmatch(node.name):
        problems.append(SpecProblem(at, "name", "a v2 node name must be lower-case letters, digits and "
                                    "underscores, starting with a letter"))
    ports = node.order_ports()
    problems += _check_names(at, "inputs", [*node.inputs, *ports[0]])
    problems += _check_names(at, "outputs", [*node.outputs, *ports[1]])
    for name, source in node.inputs.items():
        problems += _check_input(at, name, source, names, spec)
    for name, out in node.outputs.items():
        if out.type not in DATA_TYPES or (out.asset_name is not None) != (out.type == "custom_model"):
            problems.append(SpecProblem(at, f"outputs.{name}.type", f"must be one of {DATA_TYPES}, "
                                        "custom_model exactly when it is registered"))
        if out.mode not in OUTPUT_MODES:
            problems.append(SpecProblem(at, f"outputs.{name}.mode", f"must be one of {OUTPUT_MODES}"))
        if (out.datastore is None) != (out.path is None):
            problems.append(SpecProblem(at, f"outputs.{name}", "give both datastore and path, or neither"))
    if isinstance(node, Node):
        for kind, name in sorted(command_bindings(node.command)):
            if name not in (node.inputs if kind == "inputs" else node.outputs):
                problems.append(SpecProblem(at, "command", f"refers to ${{{{{kind}.{name}}}}}, "
                                            f"which the node does not declare"))
    else:
        from azml.targets.azureml_v2.parallel import parallel_problems

        problems += parallel_problems(node, node.partitioned)
    problems += _check_compute(node)
    for port, pred in node.after.items():
        if pred not in names or names.index(pred) >= names.index(node.name):
            problems.append(SpecProblem(at, "after", f"{pred!r} is not an earlier node"))
        elif spec.nodes[names.index(pred)].order_output is None:
            problems.append(SpecProblem(at, f"inputs.{port}", f"node {pred!r} has no order output"))
    return problems


def _check_input(at: str, name: str, source: NodeInput | RegisteredModelInput, names: list[str],
                 spec: PipelineSpec) -> list[SpecProblem]:
    key = f"inputs.{name}"
    if isinstance(source, ParameterInput):
        if source.parameter not in spec.parameters:
            return [SpecProblem(at, key, f"pipeline input {source.parameter!r} is not defined")]
        return []
    if source.mode not in INPUT_MODES:
        return [SpecProblem(at, f"{key}.mode", f"must be one of {INPUT_MODES}")]
    if isinstance(source, NodeOutputInput):
        if source.node not in names or names.index(source.node) >= names.index(at):
            return [SpecProblem(at, key, f"node {source.node!r} is not an earlier node")]
        producer = spec.nodes[names.index(source.node)]
        if source.output not in producer.outputs:
            return [SpecProblem(at, key, f"node {source.node!r} has no output {source.output!r}")]
        if producer.outputs[source.output].type != source.type:
            return [SpecProblem(at, f"{key}.type", f"expected {producer.outputs[source.output].type}, "
                                f"the type of {source.node}.{source.output}")]
    return []


def _check_compute(node: Node | ParallelNode) -> list[SpecProblem]:
    c, at = node.compute, node.name
    problems = []
    if c.instance_count < 1:
        problems.append(SpecProblem(at, "compute.instance_count", "must be at least 1"))
    if isinstance(node, Node):
        per_instance, key = node.process_count_per_instance, "process_count_per_instance"
    else:
        per_instance, key = node.max_concurrency_per_instance, "max_concurrency_per_instance"
    if per_instance is not None and per_instance < 1:
        problems.append(SpecProblem(at, key, "must be at least 1"))
    if c.cluster is None and not c.instance_type:
        problems.append(SpecProblem(at, "compute.vm_size", "serverless compute needs a VM size "
                                    "(instance_type); set compute.vm_size or name a cluster"))
    if c.cluster is not None and c.job_tier is not None:
        problems.append(SpecProblem(at, "compute.priority", "a job tier applies to serverless compute "
                                    "only; set the priority on the cluster itself"))
    if c.job_tier is not None and c.job_tier not in JOB_TIERS:
        problems.append(SpecProblem(at, "compute.priority", f"job tier must be one of {JOB_TIERS}"))
    return problems


def spec_view(spec: PipelineSpec) -> dict[str, Any]:
    """The canonical, JSON-ready view of ``spec``; :func:`.build.job_view` gives the same
    view of an SDK job, so a built or YAML-loaded job can be compared with its spec."""
    return {
        "experiment_name": spec.experiment_name, "display_name": spec.display_name,
        "tags": dict(spec.tags), "continue_on_step_failure": False,
        "inputs": {k: {"type": parameter_type(v), "value": v} for k, v in spec.parameters.items()},
        "nodes": {node.name: _node_view(node, spec) for node in spec.nodes},
    }


def _node_view(node: Node | ParallelNode, spec: PipelineSpec) -> dict[str, Any]:
    if not isinstance(node, Node):
        from azml.targets.azureml_v2.parallel import parallel_view

        return {**parallel_view(node), **ports_view(node, spec)}
    c = node.compute
    return {
        "display_name": node.display_name, "command": node.command, "code": str(Path(node.code).resolve()),
        "image": node.environment.image, "conda_file": node.environment.conda_file,
        **ports_view(node, spec),
        "distribution": ({"type": "mpi", "process_count_per_instance": node.process_count_per_instance}
                         if node.process_count_per_instance is not None else None),
        "compute": c.cluster or SERVERLESS, "instance_type": c.instance_type if c.cluster is None else None,
        "instance_count": c.instance_count, "job_tier": c.job_tier,
        "environment_variables": dict(node.environment_variables),
        "is_deterministic": node.is_deterministic,
    }


def ports_view(node: Node | ParallelNode, spec: PipelineSpec) -> dict[str, Any]:
    """A node's ``inputs`` and ``outputs`` as the views show them (order ports included)."""
    inputs: dict[str, Any] = {k: _input_view(v) for k, v in node.inputs.items()}
    producers = {n.name: n for n in spec.nodes}
    for port, pred in node.after.items():
        inputs[port] = {"bind": f"{pred}.{producers[pred].order_output}", "mode": "direct",
                        "type": "uri_folder"}
    outputs: dict[str, Any] = {k: _output_view(v) for k, v in node.outputs.items()}
    if node.order_output:
        outputs[node.order_output] = _output_view(NodeOutput())
    return {"inputs": inputs, "outputs": outputs}


def _output_view(out: NodeOutput) -> dict[str, Any]:
    return {"uri": out.uri, "mode": out.mode, "type": out.type, "asset_name": out.asset_name}


def _input_view(source: NodeInput | RegisteredModelInput) -> dict[str, Any]:
    if isinstance(source, ParameterInput):
        return {"bind": f"parameters.{source.parameter}"}
    if isinstance(source, NodeOutputInput):
        return {"bind": f"{source.node}.{source.output}", "mode": source.mode, "type": source.type}
    kind = "uri_folder" if isinstance(source, (DatastoreInput, DatasetInput)) else "custom_model"
    return {"uri": source.uri, "mode": source.mode, "type": kind}
