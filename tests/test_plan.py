"""Planning is pure: tiny graphs in, ordered DAGs of typed tokens out."""

from __future__ import annotations

from pathlib import Path

import pytest

from azml.config import ComputeSpec, PipelineConfig, StepConfig, StepOutputInput, load_config
from azml.config.graph import topological_order
from azml.errors import ConfigError
from azml.plan import (
    InputArg,
    LiteralArg,
    OutputArg,
    ParameterArg,
    build_plan,
    coerce_parameter,
    parse_argument,
    parse_parameter_overrides,
)
from tests.conftest import step


def make_config(edges: dict[str, list[str]], params: dict | None = None) -> PipelineConfig:
    """A config whose step ``n`` reads output ``o`` of each step in ``edges[n]``."""
    steps = {}
    for sid, ups in edges.items():
        inputs = {f"in_{u}": StepOutputInput(u, "o") for u in ups}
        steps[sid] = StepConfig(id=sid, type="PythonScriptStep", name=sid, script="s.py",
                                source_directory=Path("/src"), inputs=inputs, outputs=("o",))
    return PipelineConfig(path=Path("/p.json"), base_dir=Path("/"), steps=steps, parameters=params or {})


@pytest.fixture
def chain() -> PipelineConfig:
    return make_config({"1": [], "2": ["1"], "3": ["2"]})


@pytest.fixture
def fan_in() -> PipelineConfig:
    return make_config({"a": [], "b": [], "c": [], "join": ["c", "a", "b"]})


@pytest.fixture
def fan_out() -> PipelineConfig:
    return make_config({"root": [], "x": ["root"], "y": ["root"], "z": ["root"]})


def test_chain_orders_and_links(chain: PipelineConfig) -> None:
    plan = build_plan(chain)
    assert plan.order == ["1", "2", "3"]
    assert [(e.upstream, e.downstream, e.kind) for e in plan.edges()] == [
        ("1", "2", "data"), ("2", "3", "data")]
    assert plan.descendants("1") == {"2", "3"}


def test_fan_in_upstream_in_file_order(fan_in: PipelineConfig) -> None:
    plan = build_plan(fan_in)
    assert plan.steps["join"].upstream == ("a", "b", "c")
    assert plan.order[-1] == "join"


def test_fan_out_successors(fan_out: PipelineConfig) -> None:
    plan = build_plan(fan_out)
    assert plan.successors()["root"] == ("x", "y", "z")
    assert plan.descendants("x") == set()


def test_topological_order_prefers_file_order_among_ready() -> None:
    graph = {"b": [], "a": [], "c": ["a"]}
    assert topological_order(graph, file="f", file_order=["b", "a", "c"]) == ["b", "a", "c"]


def test_cycle_wrapped_in_config_error() -> None:
    with pytest.raises(ConfigError, match=r"cycle \((\d) -> (\d) -> \1\)"):
        topological_order({"1": ["2"], "2": ["1"]}, file="f")


def test_cycle_in_config_rejected_by_plan() -> None:
    with pytest.raises(ConfigError, match="cycle"):
        build_plan(make_config({"1": ["3"], "2": ["1"], "3": ["2"]}))


def test_build_plan_is_pure(fan_in: PipelineConfig) -> None:
    assert build_plan(fan_in) == build_plan(fan_in)


@pytest.mark.parametrize(
    "text, token",
    [
        ("--lr", LiteralArg("--lr")),
        ("${{inputs.raw}}", InputArg("raw")),
        ("${{ outputs.model }}", OutputArg("model")),
        ("${{parameters.lr}}", ParameterArg("lr")),
        ("$HOME", LiteralArg("$HOME")),
    ],
)
def test_parse_argument(text: str, token: object) -> None:
    assert parse_argument(text) == token


@pytest.mark.parametrize("text", ["--x=${{inputs.a}}", "${{secrets.a}}", "${{inputs.a}}/sub"])
def test_embedded_or_unknown_placeholders_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="placeholder must be a whole argument"):
        parse_argument(text)


def test_original_keys_append_input_and_output(write_config) -> None:
    """As the original code did: ``--input`` always, ``--output`` when the step has one."""
    path = write_config({
        "s1": step("a.py", arguments=["--x", 1, True, 0.5], input_datareference_path="raw/",
                   input_datareference_name="raw", input_dataset_name="ds", output="out1"),
        "s2": step("b.py", arguments=["--y"]),
    })
    plan = build_plan(load_config(path))
    assert plan.steps["s1"].arguments == (
        LiteralArg("--x"), LiteralArg("1"), LiteralArg("True"), LiteralArg("0.5"),
        LiteralArg("--input"), InputArg("input_data"), LiteralArg("--output"), OutputArg("out1"))
    assert plan.steps["s2"].command_line() == ["python", "b.py", "--y", "--input", "${{inputs.input_data}}"]
    assert plan.steps["s2"].upstream == ("s1",)
    assert plan.steps["s2"].inputs["input_data"].binding_name == "out1"


def test_original_form_keeps_file_order_as_step_sequence(write_config) -> None:
    """Three original-form steps, the second with its own data reference: still in file order."""
    ref = {"input_datareference_path": "r/", "input_datareference_name": "r", "input_dataset_name": "ds"}
    path = write_config({
        "s1": step("a.py", **ref, output="o1"),
        "s2": step("b.py", **{**ref, "input_datareference_name": "r2", "input_datareference_path": "r2/"}),
        "s3": step("c.py", **{**ref, "input_datareference_name": "r3", "input_datareference_path": "r3/"}),
    })
    plan = build_plan(load_config(path))
    assert [(e.upstream, e.downstream, e.kind) for e in plan.edges()] == [
        ("s1", "s2", "order"), ("s2", "s3", "order")]


def test_sdk_parameter_prefix_is_a_parameter(write_config) -> None:
    path = write_config({"parameters": {"lr": 0.1}, "g": step("a.py", outputs=[], arguments=["parameter:lr", "parameter:x"])})
    assert build_plan(load_config(path)).steps["g"].arguments == (ParameterArg("lr"), LiteralArg("parameter:x"))


def test_explicit_inputs_passed_only_where_placed(write_config) -> None:
    path = write_config({
        "g": step("a.py", outputs=["o"]),
        "h": step("b.py", inputs={"d": "g.o"}, arguments=["--data", "${{inputs.d}}"]),
    })
    plan = build_plan(load_config(path))
    assert plan.steps["h"].arguments == (LiteralArg("--data"), InputArg("d"))


def test_depends_on_adds_edge_without_data(write_config) -> None:
    path = write_config({"g": step("a.py", outputs=[]), "h": step("b.py", outputs=[], depends_on=["g"])})
    plan = build_plan(load_config(path))
    assert [(e.upstream, e.downstream, e.kind) for e in plan.edges()] == [("g", "h", "order")]
    assert plan.steps["h"].run_after == ("g",) and plan.steps["h"].data_upstream == ()


def test_compute_defaults_fill_unset_fields(write_config) -> None:
    path = write_config({"g": step("a.py", outputs=[], compute={"max_nodes": 4})})
    defaults = ComputeSpec(vm_size="Standard_NC4as_T4_v3", min_nodes=0, max_nodes=1, priority="dedicated")
    compute = build_plan(load_config(path), compute_defaults=defaults).steps["g"].compute
    assert (compute.vm_size, compute.min_nodes, compute.max_nodes, compute.priority,
            compute.cluster_name, compute.gpus_per_node) == ("Standard_NC4as_T4_v3", 0, 4, "dedicated", None, 1)


def test_parameter_overrides_coerced_to_default_type(chain: PipelineConfig) -> None:
    config = make_config({"1": []}, params={"lr": 0.1, "epochs": 2, "name": "x", "fast": False})
    values = parse_parameter_overrides(["lr=0.5", "epochs=7", "name=a=b", "fast=true"], config)
    assert values == {"lr": 0.5, "epochs": 7, "name": "a=b", "fast": True}
    assert build_plan(config, parameter_values=values).parameters["epochs"] == 7


def test_parameter_override_problems_reported_together() -> None:
    config = make_config({"1": []}, params={"lr": 0.1, "epochs": 2})
    with pytest.raises(ConfigError) as info:
        parse_parameter_overrides(["lr=fast", "epoch=3", "novalue"], config)
    assert info.value.paths == ["parameters.lr", "parameters.epoch", "parameters"]
    assert "expected a number like the default 0.1" in str(info.value)
    assert "unknown parameter 'epoch' (declared: epochs, lr)" in str(info.value)


@pytest.mark.parametrize("raw, default, expected", [("3", 1, 3), ("no", True, False), ("2.5", 1.0, 2.5), ("x", "y", "x")])
def test_coerce_parameter(raw: str, default: object, expected: object) -> None:
    assert coerce_parameter(raw, default) == expected  # type: ignore[arg-type]


def test_plan_to_dict_lists_typed_arguments(chain: PipelineConfig) -> None:
    data = build_plan(chain).to_dict()
    assert [s["id"] for s in data["steps"]] == ["1", "2", "3"]
    assert data["steps"][1]["inputs"] == {"in_1": {"kind": "step_output", "binding_name": "in_1",
                                                   "mode": "mount", "step": "1", "output": "o"}}
