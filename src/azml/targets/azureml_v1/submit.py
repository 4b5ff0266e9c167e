"""``submit_plan``: a plan to AzureML SDK v1, the counterpart of ``targets.local.run_plan``.

Order of work, so that nothing costs money or changes the workspace before
everything that can be checked offline has been:

1. the experiment name is checked (the SDK's own rule);
2. the workspace is connected (credentials);
3. datastores are looked up, and registered from the ``BLOB_*`` settings when
   missing; a named cluster is reused or created;
4. the SDK steps are built from the plan (:mod:`builder`), and what the SDK
   said while building (its deprecation banners) is said once, in azml's words;
5. the pipeline is submitted; the run and step ids are printed;
6. with ``wait``, the run is followed to a final state and anything but success
   raises :class:`RunFailedError` naming the failing steps and their log tails.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, TextIO

from azml.errors import RunFailedError
from azml.plan import Plan
from azml.settings import Settings
from azml.targets.azureml_v1.builder import (
    SdkPipeline,
    build_sdk_steps,
    dataset_refs,
    datastore_names,
)
from azml.targets.azureml_v1.runs import AzureRun, submit_pipeline
from azml.targets.experiment import check_experiment_name

SUCCESS = ("Completed", "Finished")


def prepare(plan: Plan, settings: Settings, workspace: Any, out: TextIO | None = None) -> SdkPipeline:
    """Workspace resources (datastores, a named cluster) and the SDK steps of ``plan``."""
    from azml.targets.azureml_v1.resources import ensure_cluster, ensure_datastores, get_datasets

    out = out or sys.stdout
    datastores = ensure_datastores(workspace, datastore_names(plan), settings, out)
    datasets = get_datasets(workspace, dataset_refs(plan), settings, out)
    for spec, nodes in _clusters(plan).values():
        ensure_cluster(workspace, spec, nodes, out)
    pipeline = build_sdk_steps(plan, settings, datastores, datasets)
    for note in pipeline.notes:
        print(f"note: {note}", file=out)
    return pipeline


def submit_plan(
    plan: Plan,
    settings: Settings,
    *,
    experiment: str,
    workspace: Any = None,
    ws_config: str | None = None,
    auth: str | None = None,
    tags: Mapping[str, str] | None = None,
    parameters: Mapping[str, Any] | None = None,
    wait: bool = False,
    prepared: SdkPipeline | None = None,
    out: TextIO | None = None,
) -> AzureRun:
    """Submit ``plan`` to ``experiment``; with ``wait``, RunFailedError unless it succeeds."""
    check_experiment_name(experiment)
    out = out or sys.stdout
    if workspace is None:
        from azml.targets.azureml_v1.workspace import connect

        workspace = connect(settings, ws_config, auth)
    pipeline = prepared if prepared is not None else prepare(plan, settings, workspace, out)
    names = tuple(s.name for s in plan.steps.values())
    run = submit_pipeline(workspace, pipeline.step_objects(), experiment, tags=tags,
                          parameters=parameters, out=out, step_names=names)
    if wait:
        status = run.wait()
        if status not in SUCCESS:
            raise RunFailedError(run.run_id, status, run.failed_steps(), details=run.failure_details())
    return run


def _clusters(plan: Plan) -> dict[str, tuple[Any, int]]:
    """Each named cluster the plan uses, with the widest node count asked of it."""
    from azml.config.model import ComputeSpec

    wanted: dict[str, tuple[Any, int]] = {}
    for step in plan.steps.values():
        request = step.compute
        if request.cluster_name:
            spec = ComputeSpec(request.vm_size, request.min_nodes, request.max_nodes,
                               request.priority, request.cluster_name)
            _, nodes = wanted.get(request.cluster_name, (spec, 0))
            wanted[request.cluster_name] = (spec, max(nodes, request.node_count))
    return wanted
