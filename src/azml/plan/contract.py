"""The names a step is given its data under, computed once for every target.

An input or output has one name in the config (``${{inputs.NAME}}``), which is
also its name in an AzureML v2 command job, and one *binding name* in AzureML
v1: the data reference or PipelineData port the step sees as
``$AZUREML_DATAREFERENCE_<binding name>``. The local target, the v1 builder and
the v2 builder all take these names from here.

v1 binding names follow what the SDK does with the objects the original project
built: a data reference is seen under its ``data_reference_name``; an input bound
from an explicit ``inputs`` entry is the upstream PipelineData bound with
``as_input(input_name=NAME)``, so it is seen under the input's own name; the
original form passed the previous step's PipelineData itself, so that input is
seen under the PipelineData's name (the previous step's ``output``).

AzureML v2 has no control edge between command nodes, so an order-only edge
(``depends_on``, or the file order of an original-form config) is carried by data:
the earlier node gets an output :data:`ORDER_OUTPUT` it may leave empty, the later
one an input ``azml_after_<node>`` bound to it (see
:mod:`azml.targets.azureml_v2.spec` for the sources). Those port names, and the
v2 node name of each step (:func:`node_name`), are given here once, for the v2
builder and the local v2 contract alike.

A registered dataset input is ``Dataset.get_by_name(ws, dataset, version)
.as_named_input(NAME).as_mount()`` (or ``as_download()``) on v1: the SDK documents
(``AbstractDataset.as_named_input``, azureml-core 1.61) that NAME itself is the
variable holding the mounted or downloaded path, and run history lists the
step's dataset variables in ``AZUREML_DATASET_ENVIRONMENT_VARS`` as
``NAME:mode`` pairs, which ``Run.input_datasets`` reads (``azureml.core.run.
InputDatasets``); its argument is ``DatasetConsumptionConfig:NAME``
(``azureml.data.constants._DATASET_ARGUMENT_TEMPLATE``). On v2 it is a
``uri_folder`` input whose path is the data asset, ``azureml:NAME:VERSION``
(``azureml:NAME@latest`` without a version), seen as ``AZURE_ML_INPUT_<input>``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from azml.config.model import InputMode
from azml.plan.environment import Flavor

InputKind = Literal["datastore", "step_output", "registered_model", "dataset"]
#: The output a v2 node with order-only successors gets (it may stay empty).
ORDER_OUTPUT = "azml_done"
#: Prefix of the input a v2 node gets per order-only predecessor.
ORDER_INPUT_PREFIX = "azml_after_"
#: Prefixes of the variables holding a v2 command job's input and output paths.
V2_INPUT_PREFIX = "AZURE_ML_INPUT_"
V2_OUTPUT_PREFIX = "AZURE_ML_OUTPUT_"
_NOT_NODE_CHARACTER = re.compile(r"[^a-z0-9_]")
EdgeKind = Literal["data", "order"]
T = TypeVar("T")


def azureml_asset_uri(name: str, version: int | str | None) -> str:
    """A registered asset (data asset, model) as AzureML v2 names it: ``azureml:NAME:VERSION``,
    or ``azureml:NAME@latest`` without a version."""
    return f"azureml:{name}@latest" if version is None else f"azureml:{name}:{version}"


@dataclass(frozen=True)
class InputBinding:
    """One input of a step.

    Attributes:
        name: the step's name for it (``${{inputs.NAME}}``; the v2 input name).
        kind: ``datastore`` (a path on a blob datastore), ``step_output``,
            ``registered_model`` (a ParallelRunStep's model from the model registry) or
            ``dataset`` (a registered dataset / data asset).
        binding_name: the v1 data reference / port name (``AZUREML_DATAREFERENCE_<it>``);
            for a dataset, the ``as_named_input`` name (the input's own name).
        mode: ``mount`` or ``download``.
        datastore, path: where a datastore input lives.
        step_id, output: which step output a ``step_output`` input reads.
        model_name, model_version: the registered model (version None: the latest).
        dataset, version: the registered dataset and its version (None: the latest).
    """

    name: str
    kind: InputKind
    binding_name: str
    mode: InputMode = "mount"
    datastore: str | None = None
    path: str | None = None
    step_id: str | None = None
    output: str | None = None
    model_name: str | None = None
    model_version: int | None = None
    dataset: str | None = None
    version: int | None = None

    @property
    def asset_uri(self) -> str:
        """A dataset input as AzureML v2 names the data asset: ``azureml:NAME:VERSION``."""
        return azureml_asset_uri(str(self.dataset), self.version)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "binding_name": self.binding_name,
                                "mode": self.mode}
        if self.kind == "datastore":
            data.update(datastore=self.datastore, path=self.path)
        elif self.kind == "registered_model":
            data.update(model=self.model_name, version=self.model_version)
        elif self.kind == "dataset":
            data.update(dataset=self.dataset, version=self.version, asset=self.asset_uri)
        else:
            data.update(step=self.step_id, output=self.output)
        return data


@dataclass(frozen=True)
class OutputBinding:
    """One output of a step.

    Attributes:
        name: the step's name for it (``${{outputs.NAME}}``; the v2 output name).
        data_name: the v1 PipelineData name, unique in the pipeline.
        datastore: where AzureML writes it; None is the workspace's default datastore.
        path: the original ``output_path``: the path the output is written under
            (v1 ``output_path_on_compute``; v2 the output's path on the datastore).
    """

    name: str
    data_name: str
    datastore: str | None = None
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"data_name": self.data_name, "datastore": self.datastore, "path": self.path}


@dataclass(frozen=True)
class Edge:
    """``downstream`` runs after ``upstream``: because it reads its data, or by order only."""

    upstream: str
    downstream: str
    kind: EdgeKind

    def to_dict(self) -> dict[str, str]:
        return {"from": self.upstream, "to": self.downstream, "kind": self.kind}


@dataclass(frozen=True)
class Variable:
    """An environment variable the target sets for a step, and where its value comes from.

    ``source`` is ``run_id``, ``input``, ``output``, ``parameter`` or ``literal``;
    ``ref`` names the input, output or parameter, or is the literal value itself.
    """

    name: str
    source: Literal["run_id", "input", "output", "parameter", "literal"]
    ref: str = ""


#: v1: the step's dataset inputs as ``NAME:mode`` pairs, read by ``Run.input_datasets``.
DATASET_VARIABLES = "AZUREML_DATASET_ENVIRONMENT_VARS"


def input_variable(binding: InputBinding, flavor: Flavor) -> str:
    """The variable holding an input's path on ``flavor``."""
    if flavor == "azureml_v1":
        if binding.kind == "dataset":
            return binding.binding_name
        return f"AZUREML_DATAREFERENCE_{binding.binding_name}"
    return V2_INPUT_PREFIX + binding.name


def dataset_list_variable(bindings: Iterable[InputBinding], flavor: Flavor) -> Variable | None:
    """v1's ``AZUREML_DATASET_ENVIRONMENT_VARS`` for the step's dataset inputs (None if none)."""
    pairs = [f"{b.binding_name}:{b.mode}" for b in bindings if b.kind == "dataset"]
    if flavor != "azureml_v1" or not pairs:
        return None
    return Variable(DATASET_VARIABLES, "literal", ",".join(pairs))


def output_variable(binding: OutputBinding, flavor: Flavor) -> str:
    """The variable holding an output's path on ``flavor``."""
    if flavor == "azureml_v1":
        return f"AZUREML_DATAREFERENCE_{binding.data_name}"
    return V2_OUTPUT_PREFIX + binding.name


def parameter_variable(name: str, flavor: Flavor) -> str | None:
    """The variable holding a pipeline parameter's value on ``flavor``, if it sets one.

    v1 sets ``AML_PARAMETER_<name>``. v2 sets ``AZURE_ML_INPUT_<name>`` for data
    inputs (the job's data bindings carry ``environmentVariableName``); that a
    literal input gets one too is documented nowhere (azure-ai-ml 1.35's own
    ``INPUT_BINDING_PREFIX`` is marked "no reference found"), so the local v2
    contract does not set one: a script must read the value from its argv.
    """
    if flavor == "azureml_v1":
        return f"AML_PARAMETER_{name}"
    return None


def node_name(step_id: str) -> str:
    """The v2 node name of step ``step_id``: ``[a-z_][a-z0-9_]*``, the step id where it is one.

    azure-ai-ml refuses other node names (``_utils/utils.py::is_valid_node_name``:
    a lower-case ASCII Python identifier). Other characters become ``_`` and a leading
    digit gets ``step_`` before it; two step ids that map to one name are a
    ``validate --target azureml-v2`` error.
    """
    name = _NOT_NODE_CHARACTER.sub("_", step_id.lower())
    return name if name[:1] == "_" or name[:1].isalpha() else f"step_{name}"


def order_input(predecessor_id: str) -> str:
    """The v2 input that makes a node wait for ``predecessor_id`` without reading its data."""
    return ORDER_INPUT_PREFIX + node_name(predecessor_id)


def substitute_tokens(
    arguments: tuple[Any, ...],
    *,
    inputs: Callable[[str], T],
    outputs: Callable[[str], T],
    parameters: Callable[[str], T],
) -> list[str | T]:
    """The argument list with every placeholder token replaced by what the target gives.

    Literals stay strings; ``inputs``/``outputs``/``parameters`` are called with
    the token's name and may return a path, an SDK object or a placeholder text.
    """
    from azml.config.arguments import InputArg, LiteralArg, OutputArg

    result: list[str | T] = []
    for arg in arguments:
        if isinstance(arg, LiteralArg):
            result.append(arg.value)
        elif isinstance(arg, InputArg):
            result.append(inputs(arg.name))
        elif isinstance(arg, OutputArg):
            result.append(outputs(arg.name))
        else:
            result.append(parameters(arg.name))
    return result
