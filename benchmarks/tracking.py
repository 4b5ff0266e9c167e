"""Tracking overhead: ``python benchmarks/tracking.py [--steps 4] [--logs 5000]``.

Two figures the project promises (issue 12): what tracking adds to a whole local
pipeline run (<= 0.5 s; the runner's calls for a pipeline of ``--steps`` steps,
against a warm server) and the cost of one ``run.log`` call in a step (<= 2 ms;
the call enqueues, a background thread sends batches). The one-off cold start of
the tracking server is printed too (paid once per AZML_HOME until it is stopped).
Needs the tracking extra (MLflow) and azureml-core.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

from azml.runtime import localrun, mlflowrest
from azml.tracking import server
from azml.tracking.store import Tracking


def pipeline_overhead(tracking: Tracking, steps: int, index: int) -> float:
    start = time.perf_counter()
    names = [(f"s{n}", f"B{index}_s{n}", f"step {n}") for n in range(steps)]
    handle = tracking.start_pipeline_run("bench", f"B{index}", {"config": "bench.json"}, names)
    for n in range(steps):
        tracking.start_step_run(handle, f"s{n}", f"B{index}_s{n}", f"step {n}", {})
        tracking.end_step_run(handle, f"B{index}_s{n}", "Completed")
    tracking.end_pipeline_run(handle, "Completed")
    elapsed = time.perf_counter() - start
    tracking._worker.submit(lambda: None).result()  # drain before the next run
    return elapsed


def log_cost(tracking: Tracking, calls: int) -> tuple[float, float]:
    handle = tracking.start_pipeline_run("bench", "BL")
    variables = tracking.start_step_run(handle, "s", "BL_s", "s")
    sender = localrun._Sender(mlflowrest.Client(variables["MLFLOW_TRACKING_URI"]))
    run = localrun.LocalRun(sender, "BL_s", variables["MLFLOW_RUN_ID"], "bench")
    costs = []
    for i in range(calls):
        start = time.perf_counter()
        run.log("loss", 1.0 / (i + 1))
        costs.append(time.perf_counter() - start)
    start = time.perf_counter()
    sender.flush()
    flush = time.perf_counter() - start
    return statistics.median(costs), (sum(costs) + flush) / calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--logs", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="azml-bench-tracking-") as home:
        start = time.perf_counter()
        info = server.ensure_server(home)
        server.wait_ready(info, server.Layout.of(home))
        tracking = Tracking(home)
        tracking.start_pipeline_run("bench", "warmup")
        cold = time.perf_counter() - start
        try:
            per_run = [pipeline_overhead(tracking, args.steps, i) for i in range(args.runs)]
            median_log, amortised = log_cost(tracking, args.logs)
        finally:
            server.stop_server(home)
    result = {"cold_start_s": round(cold, 3), "steps": args.steps,
              "pipeline_overhead_median_s": round(statistics.median(per_run), 4),
              "pipeline_overhead_max_s": round(max(per_run), 4),
              "log_call_median_ms": round(median_log * 1000, 4),
              "log_call_amortised_with_send_ms": round(amortised * 1000, 4)}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
