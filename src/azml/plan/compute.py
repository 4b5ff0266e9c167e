"""Compute a step asks for, and what the common AzureML VM sizes hold.

The table lists vCPUs and GPUs per VM for the sizes AzureML users pick most
(Azure's "Sizes for virtual machines" pages, GPU-accelerated and general
purpose). It is used to refuse an MPI layout that would put two ranks on one GPU
(NCCL fails with "Duplicate GPU detected") or more ranks than vCPUs on a CPU
size, before anything is submitted. A size not in the table is allowed with a
warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class VmSize:
    """vCPUs and whole GPUs of one VM size (``gpus`` 0 for CPU sizes)."""

    name: str
    vcpus: int
    gpus: int


def _sizes(*rows: tuple[str, int, int]) -> dict[str, VmSize]:
    return {name.lower(): VmSize(name, vcpus, gpus) for name, vcpus, gpus in rows}


VM_SIZES: dict[str, VmSize] = _sizes(
    # NCasT4_v3: NVIDIA T4
    ("Standard_NC4as_T4_v3", 4, 1), ("Standard_NC8as_T4_v3", 8, 1),
    ("Standard_NC16as_T4_v3", 16, 1), ("Standard_NC64as_T4_v3", 64, 4),
    # NC A100 v4
    ("Standard_NC24ads_A100_v4", 24, 1), ("Standard_NC48ads_A100_v4", 48, 2),
    ("Standard_NC96ads_A100_v4", 96, 4),
    # NC H100 v5
    ("Standard_NC40ads_H100_v5", 40, 1), ("Standard_NC80adis_H100_v5", 80, 2),
    # ND A100 v4 / ND H100 v5 / ND H200 v5
    ("Standard_ND96asr_v4", 96, 8), ("Standard_ND96amsr_A100_v4", 96, 8),
    ("Standard_ND96isr_H100_v5", 96, 8), ("Standard_ND96isr_H200_v5", 96, 8),
    # NVadsA10_v5 whole-GPU sizes
    ("Standard_NV36ads_A10_v5", 36, 1), ("Standard_NV72ads_A10_v5", 72, 2),
    # NCv3 (V100) and older series still found in configs
    ("Standard_NC6s_v3", 6, 1), ("Standard_NC12s_v3", 12, 2), ("Standard_NC24s_v3", 24, 4),
    ("Standard_NC24rs_v3", 24, 4), ("Standard_ND40rs_v2", 40, 8),
    ("Standard_NC6", 6, 1), ("Standard_NC12", 12, 2), ("Standard_NC24", 24, 4),
    ("Standard_NC6s_v2", 6, 1), ("Standard_NC12s_v2", 12, 2), ("Standard_NC24s_v2", 24, 4),
    ("Standard_ND6s", 6, 1), ("Standard_ND12s", 12, 2), ("Standard_ND24s", 24, 4),
    # CPU sizes
    ("Standard_D2_v2", 2, 0), ("Standard_D3_v2", 4, 0), ("Standard_D4_v2", 8, 0),
    ("Standard_D5_v2", 16, 0), ("Standard_D11_v2", 2, 0), ("Standard_D12_v2", 4, 0),
    ("Standard_D13_v2", 8, 0), ("Standard_D14_v2", 16, 0), ("Standard_DS3_v2", 4, 0),
    ("Standard_DS4_v2", 8, 0), ("Standard_DS11_v2", 2, 0), ("Standard_DS12_v2", 4, 0),
    ("Standard_D2s_v3", 2, 0), ("Standard_D4s_v3", 4, 0), ("Standard_D8s_v3", 8, 0),
    ("Standard_D16s_v3", 16, 0), ("Standard_D32s_v3", 32, 0), ("Standard_D2ds_v4", 2, 0),
    ("Standard_D4ds_v4", 4, 0), ("Standard_D8ds_v4", 8, 0), ("Standard_D2as_v4", 2, 0),
    ("Standard_D4as_v4", 4, 0), ("Standard_E4s_v3", 4, 0), ("Standard_E8s_v3", 8, 0),
    ("Standard_E16s_v3", 16, 0), ("Standard_E32s_v3", 32, 0), ("Standard_F4s_v2", 4, 0),
    ("Standard_F8s_v2", 8, 0), ("Standard_F16s_v2", 16, 0), ("Standard_F32s_v2", 32, 0),
    ("Standard_F64s_v2", 64, 0), ("Standard_F72s_v2", 72, 0),
)


def vm_size(name: str | None) -> VmSize | None:
    """What the table knows of ``name`` (case-insensitive), or None."""
    return VM_SIZES.get(name.lower()) if name else None


@dataclass(frozen=True)
class ComputeRequest:
    """Where and how wide a step runs.

    Attributes:
        vm_size: the VM size (``None`` only when neither config nor settings name one).
        priority: ``dedicated`` or ``lowpriority``.
        cluster_name: a persistent cluster; ``None`` asks for run-based
            (v1) / serverless (v2) compute.
        min_nodes, max_nodes: cluster scaling, when azml creates the cluster.
        node_count, processes_per_node: the job's layout.
        gpus_per_node, vcpus: from :data:`VM_SIZES`; ``None`` for an unknown size.
    """

    vm_size: str | None
    priority: str
    cluster_name: str | None
    min_nodes: int | None
    max_nodes: int | None
    node_count: int
    processes_per_node: int
    gpus_per_node: int | None
    vcpus: int | None

    @property
    def process_count(self) -> int:
        return self.node_count * self.processes_per_node

    @property
    def uses_gpu(self) -> bool:
        """True unless the size is known to have no GPU."""
        return self.gpus_per_node is None or self.gpus_per_node > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "vm_size": self.vm_size, "priority": self.priority, "cluster_name": self.cluster_name,
            "min_nodes": self.min_nodes, "max_nodes": self.max_nodes,
            "node_count": self.node_count, "processes_per_node": self.processes_per_node,
            "gpus_per_node": self.gpus_per_node, "vcpus": self.vcpus,
        }


def layout_problem(request: ComputeRequest) -> str:
    """Why ``processes_per_node`` does not fit the VM size, or empty."""
    ppn, gpus, vcpus = request.processes_per_node, request.gpus_per_node, request.vcpus
    if gpus is None or vcpus is None:
        return ""
    if gpus > 0 and ppn > gpus:
        return (f"expected at most {gpus} process(es) per node: {request.vm_size} has {gpus} "
                f"GPU(s) and each rank needs a GPU of its own, got {ppn}; add nodes with "
                "node_count or choose a larger compute.vm_size")
    if gpus == 0 and ppn > vcpus:
        return (f"expected at most {vcpus} process(es) per node: {request.vm_size} has {vcpus} "
                f"vCPUs, got {ppn}")
    return ""
