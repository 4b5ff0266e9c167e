"""``submit_plan``: a plan to AzureML SDK v2, the counterpart of v1's ``submit_plan``.

Steps 1-3 and the building of step 4 are :func:`checked_job`, which publish and schedule
of a config (:mod:`azml.api`) use too: they send the same job as submit would, and stop
on the same problems before anything is created.

Order of work, so that nothing is sent before everything that can be checked is:

1. the experiment name (the rule both SDKs share) and every v2 rule
   (:func:`~.translate.v2_problems`), offline;
2. the workspace client (:mod:`.workspace`; nothing is sent yet);
3. what only the service knows: each datastore the job reads or writes exists, each
   data asset (dataset input) and registered model (a ParallelRunStep's ``model``)
   exists, and each serverless VM size is offered in the workspace's region (``GET
   .../locations/<region>/vmSizes``, ``MLClient.compute.list_sizes``), low-priority
   capable where the step asks for spot. An asset without a version is pinned to the
   version its ``latest`` label names now, as azure-ai-ml itself does on submit
   (``_resolve_label_to_asset``): passing ``azureml:NAME@latest`` to the SDK from Python
   would look up an asset named ``azureml:NAME`` (azure-ai-ml 1.35.2,
   ``_operation_orchestrator.get_asset_arm_id`` keeps the prefix for labels), which
   does not exist;
4. the PipelineJob is built (:mod:`.build`) and submitted (:mod:`.jobs`): the job name,
   the studio link and each step's child job are printed;
5. with ``wait``, the job is followed to a final state; anything but ``Completed``
   raises :class:`RunFailedError` (exit code 1) naming the failed steps.
"""

from __future__ import annotations

import dataclasses
import difflib
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from azml.errors import AzureServiceError, ConfigError, ConfigProblem
from azml.plan import Plan
from azml.settings import Settings
from azml.targets.azureml_v2._sdk import error_text, require_sdk
from azml.targets.azureml_v2.jobs import POLL_SECONDS, V2Run, submit_job
from azml.targets.azureml_v2.parallel import RegisteredModelInput
from azml.targets.azureml_v2.spec import DatasetInput, DatastoreInput, PipelineSpec
from azml.targets.azureml_v2.translate import check_plan, plan_to_spec
from azml.targets.azureml_v2.workspace import Workspace, connect
from azml.targets.experiment import check_experiment_name

#: The compute type serverless jobs run on (VirtualMachineSize.supportedComputeTypes).
SERVERLESS_COMPUTE_TYPE = "AmlCompute"


def submit_plan(
    plan: Plan,
    settings: Settings,
    *,
    experiment: str,
    workspace: Workspace | None = None,
    ws_config: str | None = None,
    auth: str | None = None,
    tags: Mapping[str, str] | None = None,
    display_name: str | None = None,
    wait: bool = False,
    out: TextIO | None = None,
    poll: float = POLL_SECONDS,
) -> V2Run:
    """Submit ``plan`` to ``experiment`` as a v2 pipeline job; with ``wait``, RunFailedError unless it completes."""
    workspace, job = checked_job(plan, settings, experiment=experiment, purpose="Submitting to AzureML (SDK v2)",
                                 workspace=workspace, ws_config=ws_config, auth=auth, tags=tags,
                                 display_name=display_name)
    run = submit_job(workspace, job, experiment, out=out or sys.stdout, poll=poll)
    if wait:
        run.raise_unless_completed(run.wait())
    return run


def checked_spec(plan: Plan, *, experiment: str, tags: Mapping[str, str] | None = None,
                 display_name: str | None = None) -> PipelineSpec:
    """The v2 spec of ``plan`` after every check that needs no service (ConfigError otherwise)."""
    check_experiment_name(experiment)
    spec = plan_to_spec(plan, experiment=experiment, display_name=display_name, tags=tags)
    check_plan(plan, spec)
    return spec


def checked_job(
    plan: Plan,
    settings: Settings,
    *,
    experiment: str,
    purpose: str,
    workspace: Workspace | None = None,
    ws_config: str | None = None,
    auth: str | None = None,
    tags: Mapping[str, str] | None = None,
    display_name: str | None = None,
) -> tuple[Workspace, Any]:
    """The workspace and the PipelineJob of ``plan``, checked offline and then against the
    workspace (:func:`check_with_service`, assets pinned), before anything is created.

    submit, publish and schedule all build their job here, so each sends the same job and
    stops (ConfigError) on the same missing datastores, assets and VM sizes.
    """
    spec = checked_spec(plan, experiment=experiment, tags=tags, display_name=display_name)
    require_sdk(purpose)
    workspace = workspace if workspace is not None else connect(settings, ws_config, auth)
    spec = check_with_service(workspace, plan, spec)
    from azml.targets.azureml_v2.build import build_pipeline_job

    return workspace, build_pipeline_job(spec)


def check_with_service(workspace: Workspace, plan: Plan, spec: PipelineSpec) -> PipelineSpec:
    """``spec`` with every asset version pinned; ConfigError for datastores, data assets and
    models the workspace lacks and VM sizes its region does not offer."""
    problems = _datastore_problems(workspace, plan, spec)
    spec, missing = pin_assets(workspace, plan, spec)
    problems += missing
    serverless = [n for n in spec.nodes if n.compute.cluster is None and n.compute.instance_type]
    if serverless:
        problems += vm_size_problems(plan, spec, _offered_sizes(workspace))
    if problems:
        raise ConfigError(problems)
    return spec


def pin_assets(workspace: Workspace, plan: Plan, spec: PipelineSpec) -> tuple[PipelineSpec, list[ConfigProblem]]:
    """``spec`` with each data asset and registered model at the version the workspace holds
    (the ``latest`` one when none is given), and a problem for each one it lacks."""
    step_of = {s.node_name: sid for sid, s in plan.steps.items()}
    problems: list[ConfigProblem] = []
    nodes = []
    for node in spec.nodes:
        inputs: dict[str, Any] = dict(node.inputs)  # a command node's or a parallel node's
        for name, source in node.inputs.items():
            if not isinstance(source, (DatasetInput, RegisteredModelInput)):
                continue
            sid = step_of[node.name]
            where = f"{sid}.model" if isinstance(source, RegisteredModelInput) else f"{sid}.inputs.{name}"
            version = _asset_version(workspace, source)
            if version is None:
                kind = "model" if isinstance(source, RegisteredModelInput) else "data asset"
                which = f"version {source.version}" if source.version is not None else "any version"
                problems.append(ConfigProblem(str(plan.config_path), where, (
                    f"{kind} '{source.name}' ({which}) is not registered in workspace "
                    f"'{workspace.config.workspace_name}'; register it (az ml "
                    f"{'model' if kind == 'model' else 'data'} create) or name one that is")))
            else:
                inputs[name] = dataclasses.replace(source, version=version)
        nodes.append(dataclasses.replace(node, inputs=inputs))
    return dataclasses.replace(spec, nodes=tuple(nodes)), problems


def _asset_version(workspace: Workspace, source: DatasetInput | RegisteredModelInput) -> str | None:
    """The version of ``source`` the workspace holds (its latest without one); None if none."""
    operations = workspace.client.models if isinstance(source, RegisteredModelInput) else workspace.client.data
    try:
        if source.version is None:
            found = operations.get(source.name, label="latest")
        else:
            found = operations.get(source.name, version=str(source.version))
    except Exception as exc:  # noqa: BLE001 -- the SDK raises many unrelated types
        if _is_not_found(exc):
            return None
        raise AzureServiceError(f"looking up '{source.name}'", error_text(exc)) from None
    return str(found.version)


def _is_not_found(exc: BaseException | None) -> bool:
    """A 404 anywhere in the chain of causes and contexts.

    For a label, azure-ai-ml 1.35.2 turns the 404 into a ValidationException (``raise ...
    from``, ``_get_latest_version_from_container``), which ``log_and_raise_error`` then
    replaces with an MlException raised while handling it: the 404 is the cause of the
    context, not a cause of the exception the caller sees.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if getattr(exc, "status_code", None) == 404 or "NotFound" in type(exc).__name__:
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def vm_size_problems(plan: Plan, spec: PipelineSpec, offered: Mapping[str, Any]) -> list[ConfigProblem]:
    """Serverless VM sizes missing from ``offered`` (lower-case name -> VmSize), or not spot-capable."""
    step_of = {s.node_name: sid for sid, s in plan.steps.items()}
    names = sorted(getattr(v, "name", k) for k, v in offered.items())
    problems = []
    for node in spec.nodes:
        size = node.compute.instance_type
        if node.compute.cluster is not None or not size:
            continue
        path = f"{step_of[node.name]}.compute.vm_size"
        found = offered.get(size.lower())
        if found is None:
            close = difflib.get_close_matches(size, names, n=3, cutoff=0.6)
            hint = f" (close: {', '.join(close)})" if close else ""
            problems.append(ConfigProblem(str(plan.config_path), path, (
                f"serverless compute in the workspace's region does not offer VM size {size!r}"
                f"{hint}; choose one of the {len(names)} sizes 'az ml compute list-sizes' lists, "
                "or name a cluster with compute.cluster_name")))
        elif node.compute.job_tier == "spot" and _low_priority_capable(found) is False:
            problems.append(ConfigProblem(str(plan.config_path), f"{step_of[node.name]}.compute.priority", (
                f"VM size {size!r} cannot run as spot (low priority) in the workspace's region; "
                "use priority 'dedicated' or another size")))
    return problems


def _offered_sizes(workspace: Workspace) -> dict[str, Any]:
    try:
        sizes = workspace.client.compute.list_sizes(compute_type=SERVERLESS_COMPUTE_TYPE)
    except Exception as exc:  # noqa: BLE001 -- the SDK raises many unrelated types
        raise AzureServiceError("listing the VM sizes of the workspace's region", error_text(exc)) from None
    return {str(size.name).lower(): size for size in sizes}


def _low_priority_capable(size: Any) -> bool | None:
    """Whether ``size`` runs as spot; None when the service did not say.

    azure-ai-ml 1.35's ``VmSize._from_rest_object`` copies the REST model's ``as_dict()``
    (camelCase keys) over its own snake_case attributes, so ``low_priority_capable``
    stays None and the answer is under ``lowPriorityCapable``.
    """
    value = vars(size).get("lowPriorityCapable", getattr(size, "low_priority_capable", None))
    return None if value is None else bool(value)


def _datastore_problems(workspace: Workspace, plan: Plan, spec: PipelineSpec) -> list[ConfigProblem]:
    wanted: dict[str, str] = {}
    step_of = {s.node_name: sid for sid, s in plan.steps.items()}
    for node in spec.nodes:
        for name, source in node.inputs.items():
            if isinstance(source, DatastoreInput):
                wanted.setdefault(source.datastore, f"{step_of[node.name]}.inputs.{name}")
        for name, output in node.outputs.items():
            if output.datastore:
                wanted.setdefault(output.datastore, f"{step_of[node.name]}.outputs.{name}")
    problems = []
    for store, path in wanted.items():
        if not _datastore_exists(workspace, store):
            problems.append(ConfigProblem(str(plan.config_path), path, (
                f"datastore '{store}' is not registered in workspace '{workspace.config.workspace_name}'; "
                f"register it ('az ml datastore create', or one 'azml submit --target azure', which "
                "registers it from the BLOB_* settings)")))
    return problems


def _datastore_exists(workspace: Workspace, name: str) -> bool:
    try:
        workspace.client.datastores.get(name)
    except Exception as exc:  # noqa: BLE001 -- the SDK raises many unrelated types
        if _is_not_found(exc):
            return False
        raise AzureServiceError(f"looking up datastore '{name}'", error_text(exc)) from None
    return True
