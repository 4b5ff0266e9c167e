"""Step 3: train a UNet on the prepared F3 patches, on one or many processes.

Usage::

    python train.py --input_data PATCHES --output DIR [--cfg configs/unet.yaml] [KEY VALUE ...]
    mpirun -np 2 python train.py --input_data PATCHES --output DIR TRAIN.END_EPOCH 3

``KEY VALUE`` pairs override ``configs/unet.yaml`` (``TRAIN.END_EPOCH 3``...);
they may come before or after the flags, as AzureML appends ``--input_data``
and ``--output`` after the step's own arguments in the original config form.

With a world size above 1 (Open MPI's ``OMPI_COMM_WORLD_*`` or torchrun's
``RANK``/``WORLD_SIZE``) it trains with DistributedDataParallel: gloo on CPU,
nccl with one process per GPU. Only rank 0 writes ``model.pth`` (state_dict,
resolved config, normalisation stats) and ``metrics.json`` to ``--output``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import logging
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from dutchf3.common import InputError, require_dir, run_main, setup_logging
from dutchf3.config import ConfigError, load_config
from dutchf3.data import PATCH_FILES, PatchSet, load_patches, load_stats
from dutchf3.distributed import (
    Launch,
    PlacementError,
    RendezvousError,
    all_reduce_sum,
    cpu_budget,
    detect_launch,
    init_distributed,
    shutdown,
)
from dutchf3.metrics import confusion, scores
from dutchf3.model import build_model, make_inputs, model_spec
from dutchf3.tracking import run_context

LOG = logging.getLogger("train")
DEFAULT_CFG = Path(__file__).resolve().parent / "configs" / "unet.yaml"
MODEL_FILE = "model.pth"
METRICS_FILE = "metrics.json"


@dataclass
class Context:
    """What the training helpers share.

    Attributes:
        cfg: the resolved config.
        launch: process placement.
        device: torch device of this rank.
        spec: resolved model settings (see :func:`dutchf3.model.model_spec`).
        total_depth: depth samples of a whole section (for the depth channel).
        amp: whether mixed precision is on (GPU only).
    """

    cfg: dict[str, Any]
    launch: Launch
    device: torch.device
    spec: dict[str, Any]
    total_depth: int
    amp: bool
    history: list[dict[str, Any]] = field(default_factory=list)
    run: Any = None


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, list[str]]:
    """Split the arguments into flags and ``KEY VALUE`` overrides."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input_data", required=True, type=Path,
                        help="prepared patches (the prepare step's output)")
    parser.add_argument("--output", required=True, type=Path, help="folder for model and metrics")
    parser.add_argument("--cfg", type=Path, default=DEFAULT_CFG, help="YAML config")
    args, opts = parser.parse_known_args(argv)
    return args, opts


def make_loader(patches: PatchSet, ctx: Context) -> tuple[DataLoader, DistributedSampler]:
    """Shuffled training loader; each rank sees its own shard."""
    data = TensorDataset(torch.from_numpy(patches.seismic), torch.from_numpy(patches.labels),
                         torch.from_numpy(patches.depth))
    sampler = DistributedSampler(data, num_replicas=ctx.launch.world_size,
                                 rank=ctx.launch.rank, shuffle=True, seed=ctx.cfg["SEED"])
    loader = DataLoader(data, batch_size=ctx.cfg["TRAIN"]["BATCH_SIZE_PER_GPU"],
                        sampler=sampler, num_workers=ctx.cfg["WORKERS"],
                        pin_memory=ctx.device.type == "cuda")
    return loader, sampler


def make_optimizer(model: nn.Module, cfg: dict[str, Any],
                   total_steps: int) -> tuple[torch.optim.Optimizer, Any]:
    """Optimizer and a per-step schedule: linear warm-up, then cosine decay."""
    train = cfg["TRAIN"]
    name = str(train["OPTIMIZER"]).lower()
    if name == "adam":
        opt: torch.optim.Optimizer = torch.optim.AdamW(
            model.parameters(), lr=train["MAX_LR"], weight_decay=train["WEIGHT_DECAY"])
    elif name == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=train["MAX_LR"],
                              momentum=train["MOMENTUM"], weight_decay=train["WEIGHT_DECAY"])
    else:
        raise ConfigError(f"TRAIN.OPTIMIZER must be 'adam' or 'sgd', got {name!r}")
    warmup = max(1, total_steps // 20)
    floor = train["MIN_LR"] / train["MAX_LR"] if train["MAX_LR"] > 0 else 1.0

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


def flip_batch(seismic: torch.Tensor, labels: torch.Tensor,
               gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror a random half of the patches along the horizontal axis."""
    mask = torch.rand(seismic.shape[0], generator=gen) < 0.5
    seismic, labels = seismic.clone(), labels.clone()
    seismic[mask] = seismic[mask].flip(1)
    labels[mask] = labels[mask].flip(1)
    return seismic, labels


def train_epoch(model: nn.Module, loader: DataLoader, opt: torch.optim.Optimizer,
                sched: Any, scaler: torch.amp.GradScaler, ctx: Context,
                gen: torch.Generator) -> float:
    """One pass over this rank's shard; returns the mean loss over all ranks."""
    model.train()
    totals = torch.zeros(2, dtype=torch.float64)
    autocast = (torch.autocast("cuda", dtype=torch.float16) if ctx.amp
                else contextlib.nullcontext())
    for step, (seismic, labels, depth) in enumerate(loader):
        if ctx.cfg["TRAIN"]["AUGMENTATION"]:
            seismic, labels = flip_batch(seismic, labels, gen)
        x = make_inputs(seismic, depth, ctx.total_depth, ctx.spec["depth_mode"])
        x, y = x.to(ctx.device, non_blocking=True), labels.to(ctx.device, non_blocking=True)
        with autocast:
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        sched.step()
        totals += torch.tensor([loss.item() * len(y), len(y)], dtype=torch.float64)
        if ctx.launch.is_main and ctx.cfg["PRINT_FREQ"] > 0 \
                and (step + 1) % ctx.cfg["PRINT_FREQ"] == 0:
            LOG.info("  step %d/%d loss %.4f lr %.2e", step + 1, len(loader), loss.item(),
                     sched.get_last_lr()[0])
    all_reduce_sum(totals)
    return float(totals[0] / max(totals[1].item(), 1.0))


@torch.no_grad()
def evaluate(net: nn.Module, patches: PatchSet, ctx: Context) -> dict:
    """Validation scores; each rank scores a strided shard, confusions are summed."""
    net.eval()
    n = ctx.spec["num_classes"]
    matrix = torch.zeros(n, n, dtype=torch.int64)
    index = torch.arange(ctx.launch.rank, len(patches), ctx.launch.world_size)
    batch = ctx.cfg["VALIDATION"]["BATCH_SIZE_PER_GPU"]
    for chunk in index.split(batch):
        seismic = torch.from_numpy(patches.seismic[chunk.numpy()])
        depth = torch.from_numpy(patches.depth[chunk.numpy()])
        x = make_inputs(seismic, depth, ctx.total_depth, ctx.spec["depth_mode"])
        pred = net(x.to(ctx.device)).argmax(1).cpu()
        matrix += confusion(torch.from_numpy(patches.labels[chunk.numpy()]), pred, n)
    all_reduce_sum(matrix)
    return scores(matrix.numpy())


def build_context(cfg: dict[str, Any], launch: Launch, device: torch.device,
                  stats: dict) -> Context:
    """Resolve the model spec and settings that depend on the data and device."""
    try:
        spec = model_spec(cfg)
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"bad model settings: {exc}") from exc
    if spec["num_classes"] != int(stats.get("num_classes", spec["num_classes"])):
        raise InputError(f"DATASET.NUM_CLASSES={spec['num_classes']} but the data has "
                         f"{stats['num_classes']} classes")
    amp = bool(cfg["TRAIN"]["AMP"]) and device.type == "cuda"
    return Context(cfg, launch, device, spec, int(stats["depth"]), amp)


def fit(ctx: Context, train_set: PatchSet, val_set: PatchSet | None) -> dict[str, Any]:
    """Train for the configured epochs; returns the best state and its scores."""
    torch.manual_seed(ctx.cfg["SEED"])
    net = build_model(ctx.spec).to(ctx.device)
    model: nn.Module = net
    if ctx.launch.distributed:
        ids = [ctx.device.index] if ctx.device.type == "cuda" else None
        model = DistributedDataParallel(net, device_ids=ids)
    loader, sampler = make_loader(train_set, ctx)
    first, last = ctx.cfg["TRAIN"]["BEGIN_EPOCH"], ctx.cfg["TRAIN"]["END_EPOCH"]
    if last <= first:
        raise ConfigError(f"TRAIN.END_EPOCH ({last}) must exceed TRAIN.BEGIN_EPOCH ({first})")
    opt, sched = make_optimizer(model, ctx.cfg, (last - first) * len(loader))
    scaler = torch.amp.GradScaler("cuda", enabled=ctx.amp)
    gen = torch.Generator().manual_seed(ctx.cfg["SEED"] + 1000 * ctx.launch.rank)
    best: dict[str, Any] = {"score": -1.0}
    for epoch in range(first, last):
        start = time.perf_counter()
        sampler.set_epoch(epoch)
        loss = train_epoch(model, loader, opt, sched, scaler, ctx, gen)
        val = evaluate(net, val_set, ctx) if val_set is not None and len(val_set) else None
        row = {"epoch": epoch + 1, "train_loss": loss,
               "seconds": round(time.perf_counter() - start, 3)}
        if val is not None:
            row.update({f"val_{k}": val[k] for k in
                        ("pixel_accuracy", "mean_class_accuracy", "mean_iou")})
        ctx.history.append(row)
        if ctx.launch.is_main and ctx.run is not None:
            ctx.run.log("train_loss", loss)
            if val is not None:
                ctx.run.log("val_mean_iou", val["mean_iou"])
        LOG.info("epoch %d/%d: loss %.4f val pixel acc %s mean IoU %s (%.1f s)", epoch + 1,
                 last, loss, _fmt(row.get("val_pixel_accuracy")),
                 _fmt(row.get("val_mean_iou")), row["seconds"])
        score = val["mean_iou"] if val is not None else float(epoch)
        if ctx.launch.is_main and score >= best["score"]:
            best = {"score": score, "epoch": epoch + 1, "val": val,
                    "state_dict": copy.deepcopy(net.state_dict())}
    return best


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def save_outputs(out_dir: Path, ctx: Context, best: dict[str, Any], stats: dict,
                 extra: dict[str, Any]) -> None:
    """Rank 0: write ``model.pth`` and ``metrics.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in best["state_dict"].items()}
    torch.save({"state_dict": state, "config": ctx.cfg, "model": ctx.spec,
                "stats": {k: stats[k] for k in ("mean", "std", "depth", "patch_size")},
                "epoch": best["epoch"]}, out_dir / MODEL_FILE)
    val = best["val"] or {}
    metrics = {
        "train_loss": ctx.history[-1]["train_loss"],
        "train_loss_history": [row["train_loss"] for row in ctx.history],
        "val_pixel_accuracy": val.get("pixel_accuracy"),
        "val_mean_class_accuracy": val.get("mean_class_accuracy"),
        "val_mean_iou": val.get("mean_iou"), "val_class_iou": val.get("class_iou"),
        "best_epoch": best["epoch"], "epochs": len(ctx.history),
        "world_size": ctx.launch.world_size, **extra, "history": ctx.history,
    }
    (out_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    LOG.info("wrote %s and %s to %s", MODEL_FILE, METRICS_FILE, out_dir)


def run(args: argparse.Namespace, cfg: dict[str, Any], launch: Launch) -> int:
    """Load data, join the process group, train and (rank 0) save."""
    start = time.perf_counter()
    require_dir(args.input_data, "--input_data")
    stats = load_stats(args.input_data)
    train_set = load_patches(args.input_data, "train")
    has_val = (args.input_data / PATCH_FILES["seismic"].format(split="val")).exists()
    val_set = load_patches(args.input_data, "val") if has_val else None
    device, backend = init_distributed(launch)
    try:
        ctx = build_context(cfg, launch, device, stats)
        ctx.run = run_context() if launch.is_main else None
        LOG.info("rank %d/%d via %s on %s (%s), %d threads; %d train / %d val patches",
                 launch.rank, launch.world_size, launch.launcher, device, backend,
                 torch.get_num_threads(), len(train_set), len(val_set) if val_set else 0)
        best = fit(ctx, train_set, val_set)
        if launch.is_main:
            extra = {"seconds": round(time.perf_counter() - start, 3), "launcher":
                     launch.launcher, "backend": backend, "device": str(device),
                     "threads_per_rank": torch.get_num_threads(),
                     "global_batch_size": cfg["TRAIN"]["BATCH_SIZE_PER_GPU"] * launch.world_size,
                     "train_patches": len(train_set),
                     "val_patches": len(val_set) if val_set else 0}
            save_outputs(args.output, ctx, best, stats, extra)
            if best.get("val") is not None:
                ctx.run.log("mIoU", best["val"]["mean_iou"])
    finally:
        shutdown()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    try:
        launch = detect_launch()
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    setup_logging(logging.INFO if launch.is_main else logging.WARNING)
    args, opts = parse_args(argv)
    try:
        cfg = load_config(args.cfg, opts)
    except ConfigError as exc:
        raise InputError(str(exc)) from exc
    torch.set_num_threads(cpu_budget(launch))
    LOG.info("config %s with overrides %s", args.cfg, opts or "none")
    try:
        return run(args, cfg, launch)
    except (ConfigError, PlacementError, RendezvousError) as exc:
        raise InputError(str(exc)) from exc


if __name__ == "__main__":
    sys.exit(run_main("train", main))
