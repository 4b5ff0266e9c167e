"""Tests of the Dutch F3 reference experiment (experiments/interpretation/dutchf3_patch).

The experiment is a user of azml, not part of it: its helpers are imported by
appending its folder to ``sys.path``, and its steps run as real subprocesses
with the argument lists the pipeline config gives them.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXPERIMENT = (Path(__file__).resolve().parents[2] / "experiments" / "interpretation"
              / "dutchf3_patch")
if str(EXPERIMENT) not in sys.path:
    sys.path.append(str(EXPERIMENT))

from dutchf3 import NUM_CLASSES, synthetic
from dutchf3.config import ConfigError, load_config, merge_overrides

TINY_SURVEY = ["--inlines", "24", "--crosslines", "24", "--depth", "32", "--seed", "3"]
TINY_PATCHES = ["--patch_size", "16", "--stride", "8", "--section_step", "1"]
TINY_TRAIN = ["TRAIN.END_EPOCH", "2", "TRAIN.BATCH_SIZE_PER_GPU", "8",
              "MODEL.BASE_CHANNELS", "8", "MODEL.LEVELS", "2", "TRAIN.MAX_LR", "0.01"]
LAUNCHER_VARS = ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK",
                 "OMPI_COMM_WORLD_LOCAL_SIZE", "RANK", "WORLD_SIZE", "LOCAL_RANK",
                 "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def clean_env() -> dict[str, str]:
    """The current environment without any launcher's rank variables."""
    return {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARS}


def step(script: str, *args: str, env: dict[str, str] | None = None,
         prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """Run one step script from the experiment folder, as AzureML would."""
    cmd = [*prefix, sys.executable, str(EXPERIMENT / script), *args]
    return subprocess.run(cmd, cwd=EXPERIMENT, env=env or clean_env(), capture_output=True,
                          text=True, timeout=120, check=False)


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """Assert a step succeeded, showing its output if not."""
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- generator -------------------------------------------------------------------------

def test_generator_is_deterministic_and_in_f3_layout(tmp_path: Path) -> None:
    size = (16, 24, 32)
    info = synthetic.generate_survey(tmp_path / "a", seed=5, size=size)
    synthetic.generate_survey(tmp_path / "b", seed=5, size=size)
    synthetic.generate_survey(tmp_path / "c", seed=6, size=size)
    files = [synthetic.TRAIN_SEISMIC, synthetic.TRAIN_LABELS, synthetic.TEST_SEISMIC,
             synthetic.TEST_LABELS]
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    assert (tmp_path / "a" / files[0]).read_bytes() != (tmp_path / "c" / files[0]).read_bytes()
    train, labels = (np.load(tmp_path / "a" / rel) for rel in files[:2])
    test, test_labels = (np.load(tmp_path / "a" / rel) for rel in files[2:])
    assert train.dtype == np.float32 and labels.dtype == np.uint8
    assert train.shape == labels.shape == (12, 24, 32)
    assert test.shape == test_labels.shape == (4, 24, 32)
    assert info["test_inlines"] == [12, 16]
    assert set(np.unique(labels)) == set(range(NUM_CLASSES))
    assert set(np.unique(test_labels)) <= set(range(NUM_CLASSES))
    # facies come in depth order: labels never decrease down a trace (normal faults only)
    assert (np.diff(labels.astype(int), axis=2) >= 0).all()


def test_generator_faults_offset_the_layers() -> None:
    size = (8, 64, 128)
    rng = np.random.default_rng(0)
    structure = synthetic.build_structure(rng, size, faults=1)
    depth = synthetic.unfaulted_depth(structure, slice(0, size[0]), size[1], size[2])
    throw = structure.faults[0][3]
    steps = np.diff(depth, axis=2)  # 1 per sample, 1 + throw where a trace crosses the fault
    assert np.isclose(steps.max(), 1 + throw) and throw >= 0.05 * size[2]
    assert set(np.round(np.unique(steps), 6)) == {1.0, round(1 + throw, 6)}
    _, faulted = synthetic.synthesize(seed=1, size=size, faults=2)
    _, unfaulted = synthetic.synthesize(seed=1, size=size, faults=0)
    assert (faulted != unfaulted).mean() > 0.05


def test_generator_rejects_tiny_sizes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="too small"):
        synthetic.generate_survey(tmp_path, size=(2, 8, 8))


# --- config overrides ------------------------------------------------------------------

def test_overrides_take_the_type_of_the_value_they_replace() -> None:
    cfg = load_config(EXPERIMENT / "configs" / "unet.yaml",
                      ["TRAIN.END_EPOCH", "3", "TRAIN.MAX_LR", "1e-2",
                       "TRAIN.AUGMENTATION", "false", "TRAIN.DEPTH", "none", "SEED", "7"])
    assert cfg["TRAIN"]["END_EPOCH"] == 3 and isinstance(cfg["TRAIN"]["END_EPOCH"], int)
    assert cfg["TRAIN"]["MAX_LR"] == pytest.approx(0.01)
    assert cfg["TRAIN"]["AUGMENTATION"] is False
    assert cfg["TRAIN"]["DEPTH"] == "none" and cfg["SEED"] == 7


@pytest.mark.parametrize(("opts", "message"), [
    (["TRAIN.NO_SUCH_KEY", "1"], "unknown config key 'TRAIN.NO_SUCH_KEY'"),
    (["NOPE.END_EPOCH", "1"], "unknown config key"),
    (["TRAIN.END_EPOCH", "three"], "not a valid int"),
    (["TRAIN.AUGMENTATION", "maybe"], "not a valid bool"),
    (["TRAIN", "1"], "is a section"),
    (["TRAIN.END_EPOCH"], "KEY VALUE pairs"),
])
def test_bad_overrides_are_clear_errors(opts: list[str], message: str) -> None:
    base = {"SEED": 1, "TRAIN": {"END_EPOCH": 4, "AUGMENTATION": True}}
    with pytest.raises(ConfigError, match=message):
        merge_overrides(base, opts)
    assert base["TRAIN"]["END_EPOCH"] == 4  # the original is left alone


def test_train_accepts_overrides_before_and_after_the_paths() -> None:
    # by path: another test may have imported a different module named 'train' first
    import importlib.util

    spec = importlib.util.spec_from_file_location("dutchf3_train", EXPERIMENT / "train.py")
    assert spec is not None and spec.loader is not None
    train = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = train  # its dataclasses look their module up there
    spec.loader.exec_module(train)

    args, opts = train.parse_args(["TRAIN.END_EPOCH", "2", "--input_data", "in",
                                   "--output", "out"])
    assert (str(args.input_data), str(args.output), opts) == ("in", "out",
                                                              ["TRAIN.END_EPOCH", "2"])


# --- launcher detection ----------------------------------------------------------------

def test_launch_detection_covers_mpi_torchrun_and_azureml() -> None:
    from dutchf3.distributed import DEFAULT_PORT, detect_launch

    single = detect_launch({})
    assert (single.world_size, single.rank, single.master_addr) == (1, 0, "127.0.0.1")
    mpi = detect_launch({"OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_RANK": "3",
                         "OMPI_COMM_WORLD_LOCAL_RANK": "1", "OMPI_COMM_WORLD_LOCAL_SIZE": "2",
                         "AZ_BATCH_MASTER_NODE": "10.0.0.4:6105"})
    assert (mpi.launcher, mpi.rank, mpi.world_size, mpi.local_rank, mpi.local_world_size) \
        == ("mpi", 3, 4, 1, 2)
    assert (mpi.master_addr, mpi.master_port) == ("10.0.0.4", 6105)
    single_node = detect_launch({"OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "0",
                                 "AZ_BATCHAI_MPI_MASTER_NODE": "node-0"})
    assert (single_node.master_addr, single_node.master_port) == ("node-0", DEFAULT_PORT)
    torchrun = detect_launch({"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1",
                              "MASTER_ADDR": "h", "MASTER_PORT": "1234",
                              "AZ_BATCH_MASTER_NODE": "ignored:1"})
    assert (torchrun.launcher, torchrun.rank, torchrun.master_addr, torchrun.master_port) \
        == ("torchrun", 1, "h", 1234)
    with pytest.raises(ValueError, match="inconsistent"):
        detect_launch({"WORLD_SIZE": "2", "RANK": "2"})


# --- the chain, as real processes ------------------------------------------------------

@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """generate -> prepare -> train (1 rank) -> test on a tiny survey."""
    root = tmp_path_factory.mktemp("dutchf3")
    ok(step("generate_data.py", "--output", str(root / "survey"), *TINY_SURVEY))
    ok(step("prepare_data.py", "--input_data", str(root / "survey"),
            "--output", str(root / "patches"), *TINY_PATCHES))
    ok(step("train.py", "--input_data", str(root / "patches"), "--output", str(root / "model"),
            *TINY_TRAIN))
    ok(step("test.py", "--model", str(root / "model"), "--test_data", str(root / "survey"),
            "--output", str(root / "eval")))
    return root


@pytest.mark.e2e
def test_chain_writes_every_output(chain: Path) -> None:
    for rel in ("survey/train/train_seismic.npy", "survey/test_once/test1_labels.npy",
                "patches/train_patches.npy", "patches/val_patch_labels.npy",
                "patches/stats.json", "model/model.pth", "model/metrics.json",
                "eval/metrics.json", "eval/predictions.npy"):
        assert (chain / rel).is_file(), rel
    stats = json.loads((chain / "patches/stats.json").read_text())
    assert stats["patch_size"] == 16 and stats["depth"] == 32 and stats["std"] > 0
    train_metrics = json.loads((chain / "model/metrics.json").read_text())
    assert train_metrics["world_size"] == 1 and train_metrics["epochs"] == 2
    assert train_metrics["val_mean_iou"] is not None and train_metrics["seconds"] > 0
    from PIL import Image

    pngs = list((chain / "eval").glob("*.png"))
    assert len(pngs) == 1
    with Image.open(pngs[0]) as image:
        assert image.width > 3 * image.height / 2  # three panels side by side


@pytest.mark.e2e
def test_chain_beats_the_majority_class_baseline(chain: Path) -> None:
    metrics = json.loads((chain / "eval/metrics.json").read_text())
    base = metrics["baseline_majority_class"]
    assert set(metrics["class_iou"]) == {"upper_ns", "middle_ns", "lower_ns",
                                         "rijnland_chalk", "scruff", "zechstein"}
    assert metrics["pixel_accuracy"] > base["pixel_accuracy"] + 0.2
    assert metrics["mean_iou"] > base["mean_iou"] + 0.2
    assert 0 < metrics["mean_class_accuracy"] <= 1
    assert np.load(chain / "eval/predictions.npy").shape == (6, 24, 32)


@pytest.mark.e2e
@pytest.mark.mpi
@pytest.mark.skipif(shutil.which("mpirun") is None, reason="mpirun is not on PATH")
def test_two_rank_mpirun_training(chain: Path) -> None:
    env = clean_env()
    env["MASTER_PORT"] = str(free_port())
    out = chain / "model_mpi"
    mpirun = ("mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "2",
              "-x", "MASTER_PORT")
    ok(step("train.py", "--input_data", str(chain / "patches"), "--output", str(out),
            *TINY_TRAIN[2:], "TRAIN.END_EPOCH", "1", env=env, prefix=mpirun))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["launcher"] == "mpi"
    assert metrics["backend"] in ("gloo", "nccl") and metrics["epochs"] == 1
    assert (out / "model.pth").is_file()


# --- bad input -------------------------------------------------------------------------

@pytest.mark.e2e
def test_steps_fail_clearly_on_bad_input(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = step("prepare_data.py", "--input_data", str(missing), "--output", str(tmp_path))
    assert result.returncode == 2 and "--input_data directory not found" in result.stderr
    result = step("train.py", "--input_data", str(tmp_path), "--output", str(tmp_path),
                  "TRAIN.NO_SUCH_KEY", "1")
    assert result.returncode == 2 and "unknown config key 'TRAIN.NO_SUCH_KEY'" in result.stderr
    result = step("test.py", "--model", str(missing), "--test_data", str(tmp_path),
                  "--output", str(tmp_path))
    assert result.returncode == 2 and "model checkpoint" in result.stderr


def test_default_port_is_fixed_per_step_run() -> None:
    from dutchf3.distributed import DEFAULT_PORT, PORT_SPREAD, default_port, rendezvous

    one = {"AZ_BATCHAI_MPI_MASTER_NODE": "127.0.0.1", "AZUREML_RUN_ID": "local_1.train"}
    other = {**one, "AZUREML_RUN_ID": "local_2.train"}
    assert rendezvous(one) == rendezvous(dict(one))  # every rank agrees
    assert rendezvous(one)[1] != rendezvous(other)[1]  # two runs at once do not collide
    assert DEFAULT_PORT <= default_port(one) < DEFAULT_PORT + PORT_SPREAD
    assert rendezvous({**one, "MASTER_PORT": "1234"}) == ("127.0.0.1", 1234)
