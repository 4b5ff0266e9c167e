"""The compiled fast path and jsonschema agree on what the shipped schema accepts."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from azml.config.schema import fast_validator, load_schema
from tests.config.test_properties import FIELDS_WRONG, JSON, valid_doc

FULL = Draft202012Validator(load_schema())


def _agree(document: Any) -> None:
    assert fast_validator()(document) == FULL.is_valid(document), document


def test_valid_doc_passes_both() -> None:
    _agree(valid_doc())
    assert fast_validator()(valid_doc())


@settings(max_examples=200, deadline=None)
@given(sid=st.sampled_from("abcd"), data=st.data())
def test_wrong_values_fail_both(sid: str, data: st.DataObject) -> None:
    field = data.draw(st.sampled_from(sorted(FIELDS_WRONG)))
    doc = valid_doc()
    doc[sid][field] = data.draw(st.sampled_from(FIELDS_WRONG[field]))
    _agree(doc)


@settings(max_examples=300, deadline=None)
@given(sid=st.sampled_from("abcd"), key=st.text(min_size=1, max_size=12), value=JSON)
def test_arbitrary_values_agree(sid: str, key: str, value: Any) -> None:
    doc = valid_doc()
    doc[sid][key] = copy.deepcopy(value)
    _agree(doc)


@settings(max_examples=300, deadline=None)
@given(doc=JSON)
def test_arbitrary_documents_agree(doc: Any) -> None:
    _agree(doc)
