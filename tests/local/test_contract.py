"""The AzureML contract: argument list and environment of a step process."""

from __future__ import annotations

from pathlib import Path

from azml.settings import load_settings
from azml.targets.local.contract import (
    StepPaths,
    contract_variables,
    pass_env_names,
    resolve_arguments,
)
from azml.targets.local.process_env import step_environ
from tests.local.conftest import step


def test_shell_secrets_and_stale_contract_variables_never_reach_a_step() -> None:
    environ = {"PATH": "/bin", "HOME": "/root", "BLOB_ACCOUNT_KEY": "k", "AZURE_CLIENT_SECRET": "s",
               "AZURE_STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=https;AccountKey=x",
               "GITHUB_PAT": "p", "PYTHONPATH": "/mine", "CUDA_VISIBLE_DEVICES": "1",
               "MLFLOW_RUN_ID": "old", "MLFLOW_TRACKING_URI": "http://x", "AZUREML_RUN_ID": "old",
               "AML_PARAMETER_lr": "9", "OMPI_COMM_WORLD_RANK": "3", "RANK": "1", "LC_ALL": "C"}
    built = step_environ(environ, contract={"AZUREML_RUN_ID": "new"})
    assert built.env == {"PATH": "/bin", "HOME": "/root", "LC_ALL": "C", "AZUREML_RUN_ID": "new"}


def test_names_passed_on_purpose(tmp_path) -> None:
    settings = load_settings(environ={"AZML_PASS_ENV": "PYTHONPATH", "AZML_STEP_SECRETS": " HF_TOKEN ,x"},
                             base_dir=tmp_path)
    names = pass_env_names(settings, ["GITHUB_PAT"])
    assert names == ["GITHUB_PAT", "PYTHONPATH", "HF_TOKEN", "x"]
    built = step_environ({"PATH": "/bin", "HF_TOKEN": "t", "PYTHONPATH": "/p", "GITHUB_PAT": "g"},
                         pass_env=names)
    assert built.env == {"PATH": "/bin", "HF_TOKEN": "t", "PYTHONPATH": "/p", "GITHUB_PAT": "g"}
    assert any("x" in w for w in built.warnings)  # a name that is not set: a warning


def test_arguments_and_variables(make_plan) -> None:
    plan = make_plan({
        "parameters": {"lr": 0.5, "flag": True, "name": "x"},
        "prep": step(script="p.py", outputs=["data"], inputs={"raw": {"datastore": "ds", "path": "r"}},
                     arguments=["${{inputs.raw}}", "${{outputs.data}}"]),
        "train": step(script="t.py", inputs={"d": "prep.data"}, outputs=["model"],
                      arguments=["--d", "${{inputs.d}}", "--lr", "${{parameters.lr}}",
                                 "--flag", "${{parameters.flag}}", "--lr-again", "${{parameters.lr}}"],
                      environment_variables={"MY_VAR": "1"}),
    })
    train = plan.steps["train"]
    paths = StepPaths({"d": Path("/in/d")}, {"model": Path("/out/model")})
    args = resolve_arguments(train, plan.parameters, paths)
    assert args == ["--d", "/in/d", "--lr", "0.5", "--flag", "True", "--lr-again", "0.5"]
    variables = contract_variables(train, plan.parameters, paths, "run.train")
    assert variables == {
        "AZUREML_RUN_ID": "run.train",
        "AZUREML_DATAREFERENCE_d": "/in/d",
        "AZUREML_DATAREFERENCE_model": "/out/model",
        "AML_PARAMETER_lr": "0.5",
        "AML_PARAMETER_flag": "True",
    }
    env = step_environ({"PATH": "/bin", "MY_VAR": "0"}, config=train.environment_variables,
                       contract=variables).env
    assert env["MY_VAR"] == "1" and env["PATH"] == "/bin" and "PYTHONUNBUFFERED" not in env
    prep = plan.steps["prep"]
    prep_vars = contract_variables(prep, plan.parameters, StepPaths({"raw": Path("/ds/r")},
                                   {"data": Path("/o")}), "run.prep")
    assert prep_vars["AZUREML_DATAREFERENCE_raw"] == "/ds/r"
    assert not any(k.startswith("AML_PARAMETER_") for k in prep_vars)


def test_mpi_master_node_variables(make_plan) -> None:
    plan = make_plan({
        "one": step(type="MpiStep", script="a.py", processes_per_node=2, inputs={}),
        "two": step(type="MpiStep", script="b.py", node_count=2, inputs={}),
    })
    one = contract_variables(plan.steps["one"], {}, StepPaths(), "r.one")
    assert one["AZ_BATCHAI_MPI_MASTER_NODE"] == "127.0.0.1" and "AZ_BATCH_MASTER_NODE" not in one
    two = contract_variables(plan.steps["two"], {}, StepPaths(), "r.two", master_port=4242)

    # AzureML sets both on several nodes (v1 distributed-training guide)
    assert two["AZ_BATCH_MASTER_NODE"] == "127.0.0.1:4242" and two["AZ_BATCHAI_MPI_MASTER_NODE"] == "127.0.0.1"
    assert "MASTER_ADDR" not in two and "MASTER_PORT" not in two


def test_original_form_reference_names(make_plan) -> None:
    plan = make_plan({
        "a": step(script="a.py", input_datareference_path="raw/", input_datareference_name="raw_ref",
                  input_dataset_name="blobstore", output="norm"),
        "b": step(script="b.py", output="model"),
    })
    a, b = plan.steps["a"], plan.steps["b"]
    va = contract_variables(a, {}, StepPaths({"input_data": Path("/ds")}, {"norm": Path("/o")}), "r.a")
    assert va["AZUREML_DATAREFERENCE_raw_ref"] == "/ds" and va["AZUREML_DATAREFERENCE_norm"] == "/o"
    vb = contract_variables(b, {}, StepPaths({"input_data": Path("/o")}, {"model": Path("/m")}), "r.b")
    # the original code handed the previous step's PipelineData over as it was: seen by its name
    assert vb["AZUREML_DATAREFERENCE_norm"] == "/o" and "AZUREML_DATAREFERENCE_input_data" not in vb
    assert resolve_arguments(b, {}, StepPaths({"input_data": Path("/o")}, {"model": Path("/m")}))[-4:] \
        == ["--input", "/o", "--output", "/m"]
