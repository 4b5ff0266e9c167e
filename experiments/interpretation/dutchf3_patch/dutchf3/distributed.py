"""Which launcher started us, and the matching torch.distributed set-up.

Rank and world size come from Open MPI (``OMPI_COMM_WORLD_*``, set by
``mpirun`` and by AzureML MPI jobs) or from torchrun (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``); without either it is a
single process. The rendezvous address is ``MASTER_ADDR``/``MASTER_PORT`` if
set, else AzureML's ``AZ_BATCH_MASTER_NODE`` (``host:port``, multi-node jobs)
or ``AZ_BATCHAI_MPI_MASTER_NODE`` (host only, single-node jobs) with
:func:`default_port`, else ``127.0.0.1``.
"""

from __future__ import annotations

import datetime
import os
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist

DEFAULT_PORT = 29500
#: Ports derived from the run id fall in DEFAULT_PORT .. DEFAULT_PORT + PORT_SPREAD - 1.
PORT_SPREAD = 2000
DEFAULT_ADDR = "127.0.0.1"


class RendezvousError(RuntimeError):
    """The process group could not be formed (port taken, master unreachable...)."""


class PlacementError(RuntimeError):
    """More ranks on a node than it has GPUs: two ranks would share one (NCCL refuses)."""


@dataclass(frozen=True)
class Launch:
    """Process placement, as told by the launcher's environment variables.

    Attributes:
        rank: global rank.
        world_size: number of processes.
        local_rank: rank on this node (picks the GPU).
        local_world_size: processes on this node (shares the CPU cores).
        master_addr: rendezvous host.
        master_port: rendezvous port.
        launcher: ``"mpi"``, ``"torchrun"`` or ``"none"``.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    master_addr: str = DEFAULT_ADDR
    master_port: int = DEFAULT_PORT
    launcher: str = "none"

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    """An integer environment variable, with a clear error if malformed."""
    text = env.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError as exc:
        raise ValueError(f"environment variable {name}={text!r} is not an integer") from exc


def default_port(env: Mapping[str, str]) -> int:
    """The rendezvous port when none is given: fixed per step run.

    Every rank of one step run sees the same ``AZUREML_RUN_ID``, and two step
    runs on one machine (two local runs at once) almost surely see different
    ones, so deriving the port from it keeps them from colliding.
    """
    run_id = env.get("AZUREML_RUN_ID", "")
    if not run_id:
        return DEFAULT_PORT
    return DEFAULT_PORT + zlib.crc32(run_id.encode("utf-8")) % PORT_SPREAD


def rendezvous(env: Mapping[str, str]) -> tuple[str, int]:
    """Rendezvous host and port from the environment (see the module doc)."""
    if env.get("MASTER_ADDR"):
        return env["MASTER_ADDR"], _int(env, "MASTER_PORT", default_port(env))
    port = _int(env, "MASTER_PORT", default_port(env))
    multi = env.get("AZ_BATCH_MASTER_NODE", "")
    if multi:
        host, _, port_text = multi.rpartition(":")
        if host and port_text.isdigit():
            return host, int(port_text)
        return multi, port
    single = env.get("AZ_BATCHAI_MPI_MASTER_NODE", "")
    if single:
        return single, port
    return DEFAULT_ADDR, port


def detect_launch(env: Mapping[str, str] | None = None) -> Launch:
    """Read rank, world size and rendezvous from the environment.

    Args:
        env: environment to read; ``None`` means ``os.environ``.

    Raises:
        ValueError: on malformed or inconsistent values.
    """
    env = os.environ if env is None else env
    if "OMPI_COMM_WORLD_SIZE" in env:
        launcher, prefix = "mpi", "OMPI_COMM_WORLD_"
        names = ("RANK", "SIZE", "LOCAL_RANK", "LOCAL_SIZE")
    elif "WORLD_SIZE" in env:
        launcher, prefix = "torchrun", ""
        names = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")
    else:
        addr, port = rendezvous(env)
        return Launch(master_addr=addr, master_port=port)
    world = _int(env, prefix + names[1], 1)
    rank = _int(env, prefix + names[0], 0)
    local_rank = _int(env, prefix + names[2], rank)
    local_world = _int(env, prefix + names[3], world)
    if not 0 <= rank < world or not 0 <= local_rank < max(local_world, 1):
        raise ValueError(f"inconsistent placement: rank {rank} of {world}, "
                         f"local rank {local_rank} of {local_world}")
    addr, port = rendezvous(env)
    return Launch(rank, world, local_rank, max(local_world, 1), addr, port, launcher)


def cpu_budget(launch: Launch) -> int:
    """Threads for this process: the usable cores shared by the node's ranks."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, cores // launch.local_world_size)


def init_distributed(launch: Launch, timeout_s: float = 300.0) -> tuple[torch.device, str]:
    """Pick the device and, for more than one process, join the process group.

    One process per GPU (cuda device = local rank) with nccl; gloo on CPU.

    Returns:
        ``(device, backend)``; backend is ``"none"`` for a single process.

    Raises:
        PlacementError: the node runs more ranks than it has GPUs.
        RendezvousError: if joining the process group fails.
    """
    if torch.cuda.is_available():
        device = torch.device("cuda", gpu_for(launch, torch.cuda.device_count()))
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    if not launch.distributed:
        return device, "none"
    address = f"tcp://{launch.master_addr}:{launch.master_port}"
    try:
        dist.init_process_group(backend=backend, init_method=address, rank=launch.rank,
                                world_size=launch.world_size,
                                timeout=datetime.timedelta(seconds=timeout_s))
    except RuntimeError as exc:  # DistNetworkError / DistStoreError derive from it
        raise RendezvousError(
            f"rank {launch.rank} could not join the process group at {address} "
            f"({backend}): {exc}. If the port is taken, set MASTER_PORT to a free one.") from exc
    return device, backend


def gpu_for(launch: Launch, gpus: int) -> int:
    """The GPU of this rank: its local rank, refused when the node has too few GPUs."""
    if launch.local_world_size > gpus:
        raise PlacementError(
            f"{launch.local_world_size} ranks run on this node but it has {gpus} GPU(s); each "
            "rank needs its own GPU. Lower processes_per_node (use node_count for more ranks) "
            "or choose a VM size with more GPUs")
    return launch.local_rank


def shutdown() -> None:
    """Leave the process group if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum a tensor over all ranks in place (no-op for a single process).

    The tensor may live on the CPU; with nccl it travels through the current GPU.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return tensor
    if dist.get_backend() == "nccl" and tensor.device.type != "cuda":
        buffer = tensor.cuda()
        dist.all_reduce(buffer, op=dist.ReduceOp.SUM)
        tensor.copy_(buffer.cpu())
    else:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor
