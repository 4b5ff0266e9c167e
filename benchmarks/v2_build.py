"""Costs on the AzureML v2 path, each in a fresh interpreter: ``python benchmarks/v2_build.py``.

* ``import azure.ai.ml`` alone (why ``plan --target azureml-v2`` must not import it);
* validating a 4-node fan-in spec and describing it without the SDK (the plan path);
* building the PipelineJob, writing it as YAML, loading the YAML back (export path).

Prints the median of ``--rounds`` runs of each, in seconds. ``run.py`` (section 4) times the
whole ``plan --target azureml-v2`` and ``export`` commands; this splits the export path in stages.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_STAGES = """
import sys, tempfile, time
from pathlib import Path
sys.path.insert(0, {repo!r})
t0 = time.perf_counter()
from tests.azureml_v2.specs import fanin_spec, project
from azml.targets.azureml_v2.spec import spec_view, validate_spec
spec = fanin_spec(project(Path(tempfile.mkdtemp()) / "p"))
assert not validate_spec(spec); spec_view(spec)
t1 = time.perf_counter()
from azml.targets.azureml_v2.build import build_pipeline_job
from azml.targets.azureml_v2.yaml_io import dump_job, load_job_file
job = build_pipeline_job(spec)
t2 = time.perf_counter()
path = dump_job(job, Path(tempfile.mkdtemp()) / "pipeline.yml")
t3 = time.perf_counter()
load_job_file(path)
t4 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3)
"""


def _run(code: str) -> list[float]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    return [float(x) for x in done.stdout.split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    imports = [_run("import time; t = time.perf_counter(); import azure.ai.ml; "
                    "print(time.perf_counter() - t)")[0] for _ in range(rounds)]
    stages = [_run(_STAGES.format(repo=str(REPO))) for _ in range(rounds)]
    names = ["import azure.ai.ml", "spec: validate + view (no SDK)", "build PipelineJob (incl. SDK import)",
             "write YAML", "load YAML"]
    columns = [imports, *zip(*stages)]
    for name, values in zip(names, columns):
        print(f"{name:40s} {statistics.median(values):7.3f} s")


if __name__ == "__main__":
    main()
