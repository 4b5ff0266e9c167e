"""The local ParallelRunStep driver, run as the local target runs it: a real process.

Every test writes a small entry script and input folder, runs
``python src/azml/runtime/parallel/driver.py ...`` and checks its exit code, the
rows it wrote and its logs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from azml.runtime import path_of

DRIVER = path_of("parallel/driver.py")


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    output: Path
    logs: Path

    def rows(self, name: str = "parallel_run_step.txt") -> list[str]:
        return (self.output / name).read_text().splitlines()

    def log_text(self, *parts: str) -> str:
        return "".join(p.read_text() for p in sorted(self.logs.joinpath(*parts[:-1]).glob(parts[-1])))


@pytest.fixture
def job(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write an entry script and inputs, run the driver, return what it did."""

    def run(script: str, files: dict[str, str] | None = None, *options: str,
            user: tuple[str, ...] = (), count: int = 0) -> Result:
        source = tmp_path / "src"
        source.mkdir(exist_ok=True)
        (source / "score.py").write_text(textwrap.dedent(script))
        data = tmp_path / "data"
        data.mkdir(exist_ok=True)
        for index in range(count):
            (data / f"f{index:03d}.txt").write_text(f"{index}\n")
        for name, text in (files or {}).items():
            (data / name).parent.mkdir(parents=True, exist_ok=True)
            (data / name).write_text(text)
        output, logs = tmp_path / "out", tmp_path / "logs"
        argv = [sys.executable, str(DRIVER), "--entry", "score.py", "--source", str(source),
                "--input", f"images={data}", "--output", str(output), "--logs", str(logs),
                "--process-count-per-node", "2", *options]
        if "--output-action" not in options:
            argv += ["--output-action", "append_row"]
        proc = subprocess.run([*argv, "--", *user], cwd=tmp_path, capture_output=True, text=True,
                              timeout=120, check=False)
        return Result(proc.returncode, proc.stdout, proc.stderr, output, logs)

    return run


DOUBLE = """
    import os
    def init():
        pass
    def run(mini_batch):
        return [f"{os.path.basename(p)} {2 * int(open(p).read())}" for p in mini_batch]
"""


def test_append_row_writes_every_row_in_input_order(job) -> None:  # type: ignore[no-untyped-def]
    result = job(DOUBLE, {"sub/z.txt": "50\n"}, "--mini-batch-size", "4", count=25)
    assert result.code == 0, result.stderr
    expected = [f"f{i:03d}.txt {2 * i}" for i in range(25)] + ["z.txt 100"]
    assert result.rows() == expected
    assert sorted(p.name for p in result.output.iterdir()) == ["parallel_run_step.txt"]
    assert "26 items in 7 mini batches, 26 succeeded, 0 failed" in result.stdout
    assert "items/s" in result.stdout


def test_rows_are_str_of_each_element_and_the_file_name_is_lowercased(job) -> None:  # type: ignore[no-untyped-def]
    script = """
        def init():
            pass
        def run(mini_batch):
            return [(len(mini_batch), "a b"), {"k": 1}, 2.5][:len(mini_batch)]
    """
    result = job(script, None, "--mini-batch-size", "3", "--append-row-file-name", "Preds.TXT",
                 "--process-count-per-node", "1", count=3)
    assert result.code == 0, result.stderr
    assert result.rows("preds.txt") == ["(3, 'a b')", "{'k': 1}", "2.5"]


CONTRACT = """
    import argparse, json, os, sys
    def init():
        global seen
        parser = argparse.ArgumentParser()
        parser.add_argument("--factor", type=int, required=True)
        args, _ = parser.parse_known_args()
        seen = {"factor": args.factor, "argv": sys.argv[1:], "cwd": os.getcwd(),
                "out": os.environ.get("AZUREML_BI_OUTPUT_PATH"), "path0": sys.path[0]}
    def run(mini_batch):
        return [json.dumps(seen)] * len(mini_batch)
"""


def test_step_arguments_reach_init_with_azureml_argv_env_and_paths(job, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import json

    result = job(CONTRACT, None, "--mini-batch-size", "1", user=("--factor", "3"), count=1)
    assert result.code == 0, result.stderr
    seen = json.loads(result.rows()[0])
    assert seen["factor"] == 3
    argv = seen["argv"]
    assert argv[argv.index("--factor") + 1] == "3"
    assert argv[argv.index("--output") + 1] == str(result.output)
    assert argv[argv.index("--scoring_module_name") + 1] == "score.py"
    assert argv[-2:] == ["--input_fds_0", "images"]
    assert seen["out"] == str(result.output)
    assert seen["path0"] == str(tmp_path / "src")
    assert Path(seen["cwd"]) not in (tmp_path, tmp_path / "src")


def test_step_arguments_are_expanded_from_the_environment_as_on_azureml(
        job, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import json

    monkeypatch.setenv("AZML_TEST_MODEL_DIR", "/models/unet")
    monkeypatch.delenv("AZML_TEST_UNSET", raising=False)
    result = job(CONTRACT, None, "--mini-batch-size", "1", count=1, user=(
        "--factor", "3", "--model", "$AZML_TEST_MODEL_DIR/v1", "--tag", "${AZML_TEST_UNSET}"))
    assert result.code == 0, result.stderr
    argv = json.loads(result.rows()[0])["argv"]
    assert argv[argv.index("--model") + 1] == "/models/unet/v1"
    assert argv[argv.index("--tag") + 1] == "${AZML_TEST_UNSET}"  # unknown names stay


def test_an_init_using_parse_args_fails_as_on_azureml(job) -> None:  # type: ignore[no-untyped-def]
    script = CONTRACT.replace("parser.parse_known_args()", "parser.parse_args(), None")
    result = job(script, None, "--process-count-per-node", "1", user=("--factor", "3"), count=1)
    assert result.code == 1
    assert "init() failed 3 times" in result.stderr
    assert "unrecognized arguments" in result.log_text("user", "stderr", "0", "*.txt")


FLAKY = """
    import os
    def init():
        pass
    def run(mini_batch):
        bad = [p for p in mini_batch if "bad" in open(p).read()]
        if bad:
            raise ValueError("cannot score " + ", ".join(os.path.basename(p) for p in bad))
        return [os.path.basename(p) for p in mini_batch]
"""
THREE_BAD = {"b1.txt": "bad", "b2.txt": "bad", "b3.txt": "bad"}


def test_error_threshold_exceeded_fails_the_job(job) -> None:  # type: ignore[no-untyped-def]
    result = job(FLAKY, THREE_BAD, "--mini-batch-size", "1", "--run-max-try", "1",
                 "--error-threshold", "2", count=4)
    assert result.code == 1
    assert "3 item(s) failed, more than error_threshold 2" in result.stderr
    assert "ValueError: cannot score b" in result.stderr
    assert not (result.output / "parallel_run_step.txt").exists()
    assert not list(result.output.glob("temp_*"))


def test_error_threshold_minus_one_ignores_failures(job) -> None:  # type: ignore[no-untyped-def]
    result = job(FLAKY, THREE_BAD, "--mini-batch-size", "1", "--run-max-try", "1",
                 "--error-threshold", "-1", count=4)
    assert result.code == 0, result.stderr
    assert result.rows() == [f"f{i:03d}.txt" for i in range(4)]
    assert "7 items in 7 mini batches, 4 succeeded, 3 failed (error_threshold ignored (-1))" in result.stdout


def test_failures_within_the_threshold_are_counted_and_logged(job) -> None:  # type: ignore[no-untyped-def]
    result = job(FLAKY, THREE_BAD, "--mini-batch-size", "1", "--run-max-try", "1",
                 "--error-threshold", "3", count=2)
    assert result.code == 0, result.stderr
    assert "3 failed (error_threshold 3)" in result.stdout
    summary = (result.logs / "user" / "error.txt").read_text()
    assert summary.count("ValueError: cannot score") == 3
    traces = result.log_text("user", "error", "0", "*.txt")
    assert "Traceback (most recent call last)" in traces
    assert all(str(Path(result.output).parent / "data" / name) in traces for name in THREE_BAD)
    assert "user/error.txt" in result.stdout


def test_fewer_rows_than_items_count_as_failed_items_without_retry(job) -> None:  # type: ignore[no-untyped-def]
    script = """
        def init():
            pass
        def run(mini_batch):
            return mini_batch[:-1]
    """
    result = job(script, None, "--mini-batch-size", "5", "--error-threshold", "-1", count=10)
    assert result.code == 0, result.stderr
    assert len(result.rows()) == 8
    assert "10 items in 2 mini batches, 8 succeeded, 2 failed" in result.stdout
    assert "0 failed tries" in result.stdout


RETRY = """
    import argparse, os
    def init():
        global marks
        parser = argparse.ArgumentParser()
        parser.add_argument("--marks")
        marks = parser.parse_known_args()[0].marks
    def run(mini_batch):
        mark = os.path.join(marks, os.path.basename(mini_batch[0]))
        if not os.path.exists(mark):
            open(mark, "w").close()
            raise RuntimeError("first try fails")
        return [os.path.basename(p) for p in mini_batch]
"""


def test_a_failed_mini_batch_is_retried_and_then_succeeds(job, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "marks").mkdir()
    result = job(RETRY, None, "--mini-batch-size", "2", "--run-max-try", "2", "--error-threshold", "0",
                 user=("--marks", str(tmp_path / "marks")), count=6)
    assert result.code == 0, result.stderr
    assert result.rows() == [f"f{i:03d}.txt" for i in range(6)]
    assert "6 succeeded, 0 failed" in result.stdout and "3 failed tries" in result.stdout
    assert (result.logs / "user" / "error.txt").read_text().count("try 1 of 2") == 3


def test_without_retries_the_first_failure_counts(job, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "marks").mkdir()
    result = job(RETRY, None, "--mini-batch-size", "2", "--run-max-try", "1", "--error-threshold", "0",
                 user=("--marks", str(tmp_path / "marks")), count=6)
    assert result.code == 1
    assert "more than error_threshold 0" in result.stderr


HANG = """
    import argparse, os, time
    def init():
        global marks
        parser = argparse.ArgumentParser()
        parser.add_argument("--marks")
        marks = parser.parse_known_args()[0].marks
    def run(mini_batch):
        for path in mini_batch:
            mark = os.path.join(marks, os.path.basename(path))
            if "hang" in open(path).read() and not os.path.exists(mark):
                open(mark, "w").close()
                time.sleep(600)
        return [os.path.basename(p) for p in mini_batch]
"""


def test_a_hung_mini_batch_is_killed_and_retried(job, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "marks").mkdir()
    result = job(HANG, {"h.txt": "hang"}, "--mini-batch-size", "1", "--run-max-try", "2",
                 "--run-invocation-timeout", "1", "--error-threshold", "0",
                 user=("--marks", str(tmp_path / "marks")), count=3)
    assert result.code == 0, result.stderr
    assert sorted(result.rows()) == ["f000.txt", "f001.txt", "f002.txt", "h.txt"]
    assert "did not finish in 1 seconds" in (result.logs / "sys" / "master_role.txt").read_text()
    assert "run_invocation_timeout" in (result.logs / "user" / "error.txt").read_text()
    assert "0 failed tries" not in result.stdout  # at least the hung try (a loaded machine may add more)


def test_a_hung_mini_batch_without_retries_fails_the_job(job, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "marks").mkdir()
    result = job(HANG, {"h.txt": "hang"}, "--mini-batch-size", "1", "--run-max-try", "1",
                 "--run-invocation-timeout", "1", "--error-threshold", "0",
                 user=("--marks", str(tmp_path / "marks")), count=1)
    assert result.code == 1
    assert "TimeoutError: run() did not return within 1 s" in result.stderr


def test_a_worker_that_dies_is_replaced_and_its_mini_batch_retried(job, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    script = RETRY.replace('raise RuntimeError("first try fails")', "os._exit(9)")
    (tmp_path / "marks").mkdir()
    result = job(script, None, "--mini-batch-size", "3", "--run-max-try", "2", "--error-threshold", "0",
                 "--process-count-per-node", "1", user=("--marks", str(tmp_path / "marks")), count=3)
    assert result.code == 0, result.stderr
    assert "exited with code 9 during run()" in (result.logs / "user" / "error.txt").read_text()
    assert (result.logs / "user" / "stdout" / "0" / "process001.stdout.txt").exists()


@pytest.mark.parametrize("missing", ["init", "run"])
def test_an_entry_script_without_init_or_run_is_refused_before_workers_start(job, missing: str) -> None:  # type: ignore[no-untyped-def]
    script = DOUBLE.replace(f"def {missing}(", "def other_" + missing + "(")
    result = job(script, None, count=2)
    assert result.code == 2
    assert f"no top-level {missing}() function" in result.stderr and "score.py" in result.stderr
    assert not (result.logs / "user" / "stdout").exists()


def test_a_run_returning_neither_list_nor_dataframe_is_a_clear_failure(job) -> None:  # type: ignore[no-untyped-def]
    script = """
        def init():
            pass
        def run(mini_batch):
            return None
    """
    result = job(script, None, "--run-max-try", "1", "--error-threshold", "0", count=2)
    assert result.code == 1
    assert "run() returned NoneType; ParallelRunStep expects a list or a pandas DataFrame" in result.stderr


def test_summary_only_counts_rows_and_writes_no_rows_file(job) -> None:  # type: ignore[no-untyped-def]
    script = """
        import os
        def init():
            pass
        def run(mini_batch):
            for path in mini_batch:
                name = os.path.join(os.environ["AZUREML_BI_OUTPUT_PATH"], os.path.basename(path) + ".done")
                open(name, "w").close()
            return mini_batch
    """
    result = job(script, None, "--output-action", "summary_only", count=3)
    assert result.code == 0, result.stderr
    assert sorted(p.name for p in result.output.iterdir()) == [f"f{i:03d}.txt.done" for i in range(3)]


def test_shutdown_runs_once_per_worker_and_entry_script_logger_writes_its_file(job) -> None:  # type: ignore[no-untyped-def]
    script = """
        import os
        from azureml_user.parallel_run import EntryScript
        def init():
            EntryScript().logger.info("init in %s", EntryScript().agent_name)
        def run(mini_batch):
            return mini_batch
        def shutdown():
            open(os.path.join(os.environ["AZUREML_BI_OUTPUT_PATH"], EntryScript().agent_name), "w").close()
    """
    result = job(script, None, "--output-action", "summary_only", count=4)
    assert result.code == 0, result.stderr
    assert sorted(p.name for p in result.output.iterdir()) == ["process000", "process001"]
    log = result.logs / "user" / "entry_script_log" / "0" / "process000.log.txt"
    assert "init in process000" in log.read_text()


def test_init_failures_stop_the_job_with_the_first_error(job) -> None:  # type: ignore[no-untyped-def]
    script = """
        def init():
            raise OSError("model file missing")
        def run(mini_batch):
            return mini_batch
    """
    result = job(script, None, count=2)
    assert result.code == 1
    assert "init() failed 6 times" in result.stderr and "OSError: model file missing" in result.stderr
    assert "Traceback" in result.log_text("user", "error", "0", "*.txt")


@pytest.mark.parametrize(("options", "user", "message"), [
    (("--mini-batch-size", "10 MB"), (), "--mini-batch-size '10 MB': expected a whole number"),
    (("--mini-batch-size", "0"), (), "must be at least 1"),
    (("--run-max-try", "0"), (), "--run-max-try 0: must be at least 1"),
    (("--error-threshold", "-2"), (), "--error-threshold -2: must be at least -1"),
    ((), ("--output", "x"), "'output' is reserved by ParallelRunStep"),
    ((), ("positional",), "only accepts keyword arguments"),
])
def test_bad_settings_are_refused_before_workers_start(job, options, user, message) -> None:  # type: ignore[no-untyped-def]
    result = job(DOUBLE, None, *options, user=user, count=1)
    assert result.code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_an_input_that_is_not_a_folder_of_files_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "score.py").write_text(textwrap.dedent(DOUBLE))
    (tmp_path / "one.txt").write_text("1")
    (tmp_path / "empty").mkdir()
    for path, message in ((tmp_path / "one.txt", "must be a folder of files"),
                          (tmp_path / "empty", "holds no files"), (tmp_path / "nope", "no such folder")):
        proc = subprocess.run([sys.executable, str(DRIVER), "--entry", "score.py", "--source", str(source),
                               "--input", f"x={path}", "--output-action", "summary_only"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_the_driver_runs_with_nothing_of_azml_importable(tmp_path: Path) -> None:
    """The step's environment has no azml: the driver must run from its files alone."""
    import shutil

    copy = tmp_path / "runtime"
    shutil.copytree(DRIVER.parent, copy / "parallel")
    data, source = tmp_path / "data", tmp_path / "src"
    data.mkdir()
    source.mkdir()
    (data / "a.txt").write_text("4\n")
    (source / "score.py").write_text(textwrap.dedent(DOUBLE))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-S", str(copy / "parallel" / "driver.py"), "--entry", "score.py",
                           "--source", str(source), "--input", f"x={data}", "--output", "out",
                           "--output-action", "append_row", "--process-count-per-node", "1"],
                          cwd=tmp_path, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "parallel_run_step.txt").read_text() == "a.txt 8\n"


TABULAR = """
    def init():
        pass
    def run(mini_batch):
        frame = mini_batch[["id", "x"]].copy()
        frame["double"] = frame["x"] * 2
        return frame.iloc[: len(frame) - (1 if 7 in set(frame["id"]) else 0)]
"""


def test_tabular_input_passes_dataframes_and_writes_space_separated_rows(tmp_path: Path) -> None:
    pytest.importorskip("pandas")  # in the dev extra; the driver itself never needs it
    data, source = tmp_path / "data", tmp_path / "src"
    data.mkdir()
    source.mkdir()
    (source / "score.py").write_text(textwrap.dedent(TABULAR))
    (data / "a.csv").write_text("id,x,label\n" + "".join(f"{i},{i * 10},name {i}\n" for i in range(12)))
    (data / "b.csv").write_text("id,x,label\n100,5,z\n")
    size = (data / "a.csv").stat().st_size
    proc = subprocess.run([sys.executable, str(DRIVER), "--entry", "score.py", "--source", str(source),
                           "--input", f"rows={data}", "--input-kind", "tabular", "--output", "out",
                           "--output-action", "append_row", "--mini-batch-size", str(size // 3 + 1),
                           "--process-count-per-node", "2", "--error-threshold", "1"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    rows = (tmp_path / "out" / "parallel_run_step.txt").read_text().splitlines()
    assert rows == [f"{i} {i * 10} {i * 20}" for i in range(12) if i != 7] + ["100 5 10"]
    assert "13 items in 4 mini batches, 12 succeeded, 1 failed (error_threshold 1)" in proc.stdout


def test_tabular_partition_never_crosses_a_file_and_splits_large_files(tmp_path: Path) -> None:
    from azml.runtime.parallel.inputs import plan_batches
    from azml.runtime.parallel.options import parse

    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "big.csv").write_text("h\n" + "".join(f"{i}\n" for i in range(100)))
    (tmp_path / "d" / "small.csv").write_text("h\n1\n2\n")
    options = parse(["--entry", "s.py", "--source", ".", "--input", f"t={tmp_path / 'd'}",
                     "--input-kind", "tabular", "--output-action", "summary_only",
                     "--mini-batch-size", "100"])
    batches = plan_batches(options)
    big = [b for b in batches if b.items[0].endswith("big.csv")]
    assert len(big) == 3 and sum(b.size for b in big) == 100
    assert [(b.skip, b.nrows) for b in big] == [(0, 34), (34, 34), (68, 32)]
    (small,) = [b for b in batches if b.items[0].endswith("small.csv")]
    assert (small.size, small.skip, small.nrows) == (2, 0, None)


@pytest.mark.parametrize(("text", "value"), [("1", 1), ("10", 10), ("1024KB", 1024 * 1024),
                                             ("10mb", 10 * 1024**2), ("1GB", 1024**3)])
def test_mini_batch_size_parses_like_the_sdk(text: str, value: int) -> None:
    from azml.runtime.parallel.options import parse_mini_batch_size

    assert parse_mini_batch_size(text) == value


def test_entry_script_in_a_subfolder_is_imported_by_dotted_name(tmp_path: Path) -> None:
    source, data = tmp_path / "src", tmp_path / "data"
    (source / "scoring").mkdir(parents=True)
    data.mkdir()
    (source / "scoring" / "helpers.py").write_text("def label(path):\n    return 'ok ' + path[-5:]\n")
    (source / "scoring" / "batch.py").write_text(textwrap.dedent("""
        from scoring.helpers import label
        def init():
            pass
        def run(mini_batch):
            return [label(p) for p in mini_batch]
    """))
    (data / "a.txt").write_text("1")
    proc = subprocess.run([sys.executable, str(DRIVER), "--entry", "scoring/batch.py", "--source", str(source),
                           "--input", f"x={data}", "--output", "out", "--output-action", "append_row",
                           "--process-count-per-node", "1"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "parallel_run_step.txt").read_text() == "ok a.txt\n"


def test_nodes_are_simulated_and_logging_goes_to_stdout_logs_at_the_level(job) -> None:  # type: ignore[no-untyped-def]
    script = """
        import logging
        def init():
            logging.getLogger("score").info("init at info")
            logging.getLogger("score").debug("init at debug")
        def run(mini_batch):
            print("printed", len(mini_batch))
            return mini_batch
    """
    result = job(script, None, "--output-action", "summary_only", "--node-count", "2", "--mini-batch-size", "1",
                 "--process-count-per-node", "1", "--logging-level", "info", count=4)
    assert result.code == 0, result.stderr
    for node in ("0", "1"):
        text = (result.logs / "user" / "stdout" / node / "process000.stdout.txt").read_text()
        assert "init at info" in text and "init at debug" not in text
    stdout = "".join(p.read_text() for p in (result.logs / "user" / "stdout").rglob("*.txt"))
    assert stdout.count("printed") == 4
    assert (result.logs / "sys" / "node" / "1" / "process000.txt").exists()


def test_allowed_failed_count_stops_the_job_on_failed_mini_batches(job) -> None:  # type: ignore[no-untyped-def]
    result = job(FLAKY, THREE_BAD, "--mini-batch-size", "1", "--run-max-try", "1",
                 "--allowed-failed-count", "1", count=2)
    assert result.code == 1
    assert "2 mini batch(es) failed, more than allowed_failed_count 1" in result.stderr


def test_a_stopped_driver_takes_its_workers_and_temp_files_with_it(tmp_path: Path) -> None:
    import re
    import signal
    import time

    source, data = tmp_path / "src", tmp_path / "data"
    source.mkdir()
    data.mkdir()
    (source / "score.py").write_text("import time\ndef init():\n    pass\n"
                                     "def run(b):\n    time.sleep(600)\n")
    (data / "a.txt").write_text("1")
    logs = tmp_path / "logs"
    proc = subprocess.Popen([sys.executable, str(DRIVER), "--entry", "score.py", "--source", str(source),
                             "--input", f"x={data}", "--output", str(tmp_path / "out"),
                             "--output-action", "append_row", "--process-count-per-node", "2",
                             "--logs", str(logs)], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    master = logs / "sys" / "master_role.txt"
    deadline = time.monotonic() + 60
    pids: list[int] = []
    while time.monotonic() < deadline and len(pids) < 2:
        time.sleep(0.1)
        proc.poll()
        pids = [int(p) for p in re.findall(r"pid (\d+)", master.read_text())] if master.exists() else []
    assert len(pids) == 2 and proc.returncode is None
    time.sleep(0.5)  # let a worker pick up the mini-batch and hang in run()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
    assert not list((tmp_path / "out").glob("temp_*"))
    assert not [p for p in Path(os.environ.get("TMPDIR") or "/tmp").glob(f"azml-prs-{proc.pid}-*")]


def test_a_worker_with_more_than_ten_failures_is_replaced_without_losing_a_mini_batch(job) -> None:  # type: ignore[no-untyped-def]
    script = """
        def init():
            pass
        def run(mini_batch):
            raise ValueError("always")
    """
    result = job(script, None, "--mini-batch-size", "1", "--run-max-try", "1", "--error-threshold", "-1",
                 "--output-action", "summary_only", "--process-count-per-node", "1", count=14)
    assert result.code == 0, result.stderr
    assert "14 items in 14 mini batches, 0 succeeded, 14 failed" in result.stdout
    assert "14 failed tries" in result.stdout
    errors = (result.logs / "user" / "error.txt").read_text()
    assert errors.count("ValueError: always") == 14 and "exited with code" not in errors
    assert "more than 10 mini batches failed" in (result.logs / "sys" / "master_role.txt").read_text()
    assert (result.logs / "user" / "stdout" / "0" / "process001.stdout.txt").exists()
