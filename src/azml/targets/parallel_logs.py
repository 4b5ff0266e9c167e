"""Which log files of a ParallelRunStep (v1) or parallel job (v2) ``azml logs`` shows.

A parallel step's own log (``user_logs/std_log.txt``) is its driver's: when
mini-batches fail, what the user needs is in the step's ``logs/`` folder, which
AzureML's batch driver writes and uploads with the step run's logs. Its layout, as
Microsoft documents it ("Troubleshooting the ParallelRunStep", v1; "Troubleshoot
batch endpoints" and "How to use parallel job in pipeline", v2):

- ``logs/job_error.txt``: a summary of the errors in the entry script (the older
  layout had ``logs/user/error.txt``, with the full tracebacks in
  ``logs/user/error/<node>/<process>.txt``);
- ``logs/job_result.txt``: the job's outcome, and where to start when it failed;
- ``logs/job_progress_overview.<yyyymmddhh>.txt``: mini-batches scheduled and
  processed, rotated daily (the latest is the one to read; ``job_progress_overview.txt``
  unrotated, ``logs/overview.txt`` in the oldest versions);
- ``logs/user/stdout|stderr/<node>/<process>.stdout|stderr.txt`` and
  ``logs/user/entry_script_log/<node>/<process>.log.txt``: each worker's own output;
- ``logs/sys/...``: the driver's and the workers' system logs.

The local batch driver (:mod:`azml.runtime.parallel`) writes the same layout, so one
choice serves the local target and both AzureML targets. Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ROOT = "logs/"
#: ``logs/job_error.txt``, also seen rotated or numbered (``job_error.<n>.txt``)
JOB_ERROR = re.compile(r"logs/job_?error(?:[._][^/]*)?\.txt")
USER_ERROR = "logs/user/error.txt"
USER_ERROR_DIR = "logs/user/error/"
RESULT = "logs/job_result.txt"
OVERVIEW = re.compile(r"logs/job_progress_overview(?:\.(?P<stamp>\d+))?\.txt")
OLD_OVERVIEW = "logs/overview.txt"
MASTER = "logs/sys/master_role.txt"
USER_DIR = "logs/user/"


def is_parallel(names: Iterable[str]) -> bool:
    """Whether log files ``names`` are a parallel step's: the batch driver's own files
    are there (a command step has none of them)."""
    return any(n in (RESULT, MASTER) or JOB_ERROR.fullmatch(n) or OVERVIEW.fullmatch(n)
               for n in names)


def parallel_logs(names: Iterable[str], *, everything: bool = False) -> list[str]:
    """The files among ``names`` (paths relative to the step run, ``logs/...``) that a
    user reads, in reading order: the error summaries and tracebacks, the job's result,
    the latest progress overview; with ``everything``, then every other file under
    ``logs/`` (each worker's own logs first). ``[]`` for a step that is not parallel.
    """
    present = sorted(set(names))
    if not is_parallel(present):
        return []
    chosen = [n for n in present if JOB_ERROR.fullmatch(n)]
    chosen += [n for n in present if n == USER_ERROR]
    chosen += [n for n in present if n.startswith(USER_ERROR_DIR)]
    chosen += [n for n in present if n == RESULT]
    chosen += _latest_overview(present)
    if everything:
        rest = [n for n in present if n.startswith(ROOT) and n not in chosen]
        chosen += [n for n in rest if n.startswith(USER_DIR)]
        chosen += [n for n in rest if not n.startswith(USER_DIR)]
    return chosen


def _latest_overview(names: list[str]) -> list[str]:
    """The newest progress overview: the latest daily one, else the unrotated one, else
    the oldest versions' ``overview.txt``."""
    stamped = [(m.group("stamp") or "", n) for n in names if (m := OVERVIEW.fullmatch(n))]
    if stamped:
        return [max(stamped)[1]]
    return [OLD_OVERVIEW] if OLD_OVERVIEW in names else []
