"""Content keys and the sentence that says why a step runs."""

from __future__ import annotations

import json

from azml.targets.local.reuse import components, content_key, explain
from tests.local.conftest import step

MANIFESTS = {
    "s1": {"train.py": "h1", "util.py": "h2"},
    "s2": {"train.py": "h1b", "util.py": "h2"},
    "s3": {"train.py": "h1", "util.py": "h2b", "new.py": "h3"},
    "i1": {"a.txt": "x", "b.txt": "y"},
    "i2": {"a.txt": "x", "b.txt": "z"},
    "f1": {"": "x"},
    "f2": {"": "y"},
}


def _parts(make_plan, params=(), snapshot="s1", raw="i1", env=None, upstream="r1.prep"):
    plan = make_plan({
        "parameters": {"lr": 0.1, "unused": 1},
        "prep": step(script="p.py", outputs=["d"], inputs={"raw": {"datastore": "ds", "path": "raw/"}},
                     environment_variables=env or {}, arguments=["--lr", "${{parameters.lr}}"]),
        "train": step(script="train.py", inputs={"d": "prep.d"}),
    }, params)
    prep = components(plan.steps["prep"], plan.parameters, snapshot, {"raw": {"manifest": raw}}, None)
    train = components(plan.steps["train"], plan.parameters, snapshot, {"d": {"from": upstream}}, "req")
    return prep, train


def test_key_is_stable_and_sensitive(make_plan) -> None:
    a, _ = _parts(make_plan)
    b, _ = _parts(make_plan)
    assert content_key(a) == content_key(b)
    assert content_key(a) != content_key(_parts(make_plan, params=("lr=0.2",))[0])
    assert content_key(a) == content_key(_parts(make_plan, params=("unused=7",))[0])


def test_reasons(make_plan) -> None:
    prep, train = _parts(make_plan)
    look = MANIFESTS.get
    p2, t2 = _parts(make_plan, snapshot="s2")
    assert explain(train, t2, look) == "script changed: train.py"
    assert explain(prep, p2, look) == "source changed: train.py"
    p3, _ = _parts(make_plan, snapshot="s3")
    assert explain(prep, p3, look) == "source changed: new.py (+1 more)"
    p4, _ = _parts(make_plan, params=("lr=0.3",))
    assert explain(prep, p4, look) == "parameter lr changed"
    p5, _ = _parts(make_plan, raw="i2")
    assert explain(prep, p5, look) == "input changed: raw/b.txt"
    _, t6 = _parts(make_plan, upstream="r2.prep")
    assert explain(train, t6, look) == "upstream changed: prep"
    p7, _ = _parts(make_plan, env={"X": "1"})
    assert explain(prep, p7, look) == "environment variable X changed"
    p8, _ = _parts(make_plan, snapshot="s2", params=("lr=0.3",), raw="i2")
    assert explain(prep, p8, look) == "source changed: train.py, parameter lr changed, input changed: raw/b.txt"
    assert explain(prep, p5, lambda digest: None) == "input changed: raw"


def test_single_file_input_names_the_path(make_plan) -> None:
    prep, _ = _parts(make_plan, raw="f1")
    prep2, _ = _parts(make_plan, raw="f2")
    assert explain(prep, prep2, MANIFESTS.get) == "input changed: raw"


def test_secret_named_environment_values_are_stored_as_digests(make_plan) -> None:
    prep, _ = _parts(make_plan, env={"DB_PASSWORD": "hunter2", "PLAIN": "visible"})
    text = json.dumps(prep)
    assert "hunter2" not in text and "visible" in text
    other, _ = _parts(make_plan, env={"DB_PASSWORD": "changed", "PLAIN": "visible"})
    assert explain(prep, other, MANIFESTS.get) == "environment variable DB_PASSWORD changed"


def test_cloud_reuse_note_only_for_data_content() -> None:
    from azml.targets.local.reuse import CLOUD_REUSE_NOTE, cloud_reuse_note

    base = {"script": "a.py", "snapshot": "s1", "arguments": ["lit:x"],
            "inputs": {"raw": {"datastore": "d", "path": "raw/", "mode": "mount",
                               "reference": None, "manifest": "m1"},
                       "up": {"step": "prep", "output": "o", "from": "run1.prep"}}}
    data = {**base, "inputs": {**base["inputs"], "raw": {**base["inputs"]["raw"], "manifest": "m2"}}}
    assert cloud_reuse_note(base, data, allow_reuse=True) == CLOUD_REUSE_NOTE
    assert cloud_reuse_note(base, data, allow_reuse=False) is None
    assert cloud_reuse_note(None, data, allow_reuse=True) is None
    assert cloud_reuse_note(base, base, allow_reuse=True) is None
    moved = {**data, "inputs": {**data["inputs"], "raw": {**data["inputs"]["raw"], "path": "new/"}}}
    assert cloud_reuse_note(base, moved, allow_reuse=True) is None
    source = {**data, "snapshot": "s2"}
    assert cloud_reuse_note(base, source, allow_reuse=True) is None
    upstream = {**data, "inputs": {**data["inputs"], "up": {**base["inputs"]["up"], "from": "run2.prep"}}}
    assert cloud_reuse_note(base, upstream, allow_reuse=True) is None
