"""The AzureML contract: argument list and environment of a step process."""

from __future__ import annotations

from pathlib import Path

from azml.targets.local.contract import (
    StepPaths,
    base_environment,
    contract_variables,
    resolve_arguments,
    step_environment,
    withheld_secrets,
)
from tests.local.conftest import step


def test_base_environment_withholds_secrets_and_stale_contract_variables() -> None:
    environ = {"PATH": "/bin", "HOME": "/root", "BLOB_ACCOUNT_KEY": "k", "AZURE_CLIENT_SECRET": "s",
               "DB_PASSWORD": "p", "HF_TOKEN": "t", "AZUREML_RUN_ID": "old", "AML_PARAMETER_lr": "9",
               "OMPI_COMM_WORLD_RANK": "3", "RANK": "1", "MASTER_PORT": "1", "OMPI_MCA_btl": "self",
               "AZ_BATCH_MASTER_NODE": "x:1"}
    env = base_environment(environ)
    assert env == {"PATH": "/bin", "HOME": "/root", "OMPI_MCA_btl": "self"}
    assert withheld_secrets(environ) == ["AZURE_CLIENT_SECRET", "BLOB_ACCOUNT_KEY", "DB_PASSWORD", "HF_TOKEN"]


def test_secrets_listed_on_purpose_pass_through() -> None:
    env = base_environment({"HF_TOKEN": "t", "DB_PASSWORD": "p", "AZML_STEP_SECRETS": " HF_TOKEN ,x"})
    assert env == {"HF_TOKEN": "t", "AZML_STEP_SECRETS": " HF_TOKEN ,x"}


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
    env = step_environment({"PATH": "/bin", "MY_VAR": "0"}, train, variables)
    assert env["PYTHONUNBUFFERED"] == "1" and env["MY_VAR"] == "1" and env["PATH"] == "/bin"
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

    assert two["AZ_BATCH_MASTER_NODE"] == "127.0.0.1:4242" and "AZ_BATCHAI_MPI_MASTER_NODE" not in two
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
