"""Which of a parallel step's log files ``azml logs`` shows, in which order, and the tail that
prints several growing logs (``azml.targets.parallel_logs``, ``azml.targets.remote.LogTail``)."""

from __future__ import annotations

import io

from azml.targets.parallel_logs import is_parallel, parallel_logs
from azml.targets.remote import LogTail

#: a v1 ParallelRunStep step run's log files, as run history and the artifacts service list them
CURRENT = [
    "user_logs/std_log.txt", "system_logs/lifecycler/execution-wrapper.txt",
    "logs/azureml/executionlogs.txt", "logs/readme.txt",
    "logs/job_result.txt", "logs/job_error.txt", "logs/job_error.1.txt",
    "logs/job_progress_overview.2024053123.txt", "logs/job_progress_overview.2024060100.txt",
    "logs/sys/master_role.txt", "logs/sys/node/10.0.0.4/process000.txt",
    "logs/user/stdout/10.0.0.4/process000.stdout.txt", "logs/user/stderr/10.0.0.4/process000.stderr.txt",
    "logs/user/entry_script_log/10.0.0.4/process000.log.txt",
]
#: the older layout, which azml's local batch driver writes
OLDER = [
    "logs/job_progress_overview.txt", "logs/job_result.txt", "logs/sys/master_role.txt",
    "logs/user/error.txt", "logs/user/error/1/process001.txt", "logs/user/error/0/process000.txt",
    "logs/user/stdout/0/process000.stdout.txt",
]


def test_the_error_summary_then_the_result_then_the_latest_progress() -> None:
    assert parallel_logs(CURRENT) == ["logs/job_error.1.txt", "logs/job_error.txt", "logs/job_result.txt",
                                      "logs/job_progress_overview.2024060100.txt"]
    assert parallel_logs(OLDER) == ["logs/user/error.txt", "logs/user/error/0/process000.txt",
                                    "logs/user/error/1/process001.txt", "logs/job_result.txt",
                                    "logs/job_progress_overview.txt"]
    assert parallel_logs(["logs/sys/master_role.txt", "logs/overview.txt"]) == ["logs/overview.txt"]


def test_everything_adds_each_workers_logs_then_the_rest_of_logs() -> None:
    every = parallel_logs(CURRENT, everything=True)
    assert every[:4] == parallel_logs(CURRENT)
    assert every[4:] == [
        "logs/user/entry_script_log/10.0.0.4/process000.log.txt",
        "logs/user/stderr/10.0.0.4/process000.stderr.txt", "logs/user/stdout/10.0.0.4/process000.stdout.txt",
        "logs/azureml/executionlogs.txt", "logs/job_progress_overview.2024053123.txt", "logs/readme.txt",
        "logs/sys/master_role.txt", "logs/sys/node/10.0.0.4/process000.txt"]
    assert not {n for n in every if not n.startswith("logs/")}


def test_a_step_that_is_not_parallel_has_none() -> None:
    command = ["user_logs/std_log.txt", "logs/azureml/executionlogs.txt", "logs/user/error.txt",
               "logs/overview.txt", "azureml-logs/70_driver_log.txt"]
    assert not is_parallel(command)
    assert parallel_logs(command) == parallel_logs(command, everything=True) == []
    assert is_parallel(["logs/job_error.txt"]) and is_parallel(["logs/job_progress_overview.txt"])


def test_the_tail_heads_each_part_of_several_growing_logs() -> None:
    out = io.StringIO()
    tail = LogTail(out)
    tail.show("a", "a.txt", "==> a <==", "one\n")
    tail.show("a", "a.txt", "==> a <==", "one\ntwo\n")
    tail.show("b", "b.txt", "==> b <==", "partial")
    tail.show("b", "b.txt", "==> b <==", "partial")  # nothing new: nothing printed
    tail.show("a", "a.txt", "==> a <==", "one\ntwo\nthree\n")
    tail.show("c", "", "==> c <==", "a log without a name is skipped\n")
    assert out.getvalue() == "==> a <==\none\ntwo\n\n==> b <==\npartial\n\n==> a <==\nthree\n"
    assert tail.shown == ["a.txt", "b.txt"]
