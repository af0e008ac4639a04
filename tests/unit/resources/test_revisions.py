"""The ConfigMap of running revisions' specs (operator/toolfleet/resources/revisions.py)."""

from __future__ import annotations

import base64
import copy
import gzip
import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolfleet.api.toolservice import ToolServiceSpec
from toolfleet.resources.revisions import build_revisions, read_revisions, revisions_name
from toolfleet.rollout.revision import revision_of

from .fixtures import UID, owner, specs, wire

PROPERTIES = settings(max_examples=50, deadline=None)


def spec(**sections: Any) -> ToolServiceSpec:
    return ToolServiceSpec.model_validate(wire(**sections))


def by_revision(*found: ToolServiceSpec) -> dict[str, ToolServiceSpec]:
    return {revision_of(s): s for s in found}


def packed(raw: bytes) -> str:
    return base64.b64encode(gzip.compress(raw, mtime=0)).decode()


@PROPERTIES
@given(bodies=st.lists(specs(), min_size=1, max_size=4))
def test_every_stored_spec_reads_back_equal(bodies: list[dict[str, Any]]) -> None:
    stored = by_revision(*(ToolServiceSpec.model_validate(b) for b in bodies))
    config_map = build_revisions(owner(), stored)
    assert read_revisions(config_map) == stored
    # As the API server hands it back: plain JSON.
    assert read_revisions(json.loads(json.dumps(config_map))) == stored


def test_a_stable_and_a_canary_spec_are_told_apart() -> None:
    stable, canary = spec(version="1.4.0"), spec(version="1.5.0", image="registry.example/f:2")
    found = read_revisions(build_revisions(owner(), {"5tab1e0000": stable,
                                                     "c4n4ry0000": canary}))
    assert found == {"5tab1e0000": stable, "c4n4ry0000": canary}
    assert found["c4n4ry0000"].image == "registry.example/f:2"


def test_it_is_an_owned_configmap_named_after_the_service() -> None:
    config_map = build_revisions(owner(), by_revision(spec()))
    assert (config_map["apiVersion"], config_map["kind"]) == ("v1", "ConfigMap")
    meta = config_map["metadata"]
    assert (meta["name"], meta["namespace"]) == ("forecaster-revisions", "team-a")
    assert meta["name"] == revisions_name("forecaster")
    assert meta["ownerReferences"][0]["uid"] == UID
    assert meta["labels"]["app.kubernetes.io/component"] == "revisions"


@PROPERTIES
@given(bodies=st.lists(specs(), min_size=1, max_size=4))
def test_equal_specs_give_identical_bytes_whatever_their_order(
        bodies: list[dict[str, Any]]) -> None:
    # Re-applying what nothing changed must change nothing.
    stored = by_revision(*(ToolServiceSpec.model_validate(b) for b in bodies))
    backwards = dict(reversed(list(stored.items())))
    first, again = build_revisions(owner(), stored), build_revisions(owner(), backwards)
    assert json.dumps(first) == json.dumps(again)


def test_the_bytes_do_not_depend_on_when_they_are_built(monkeypatch: pytest.MonkeyPatch) -> None:
    stored = by_revision(spec())
    first = build_revisions(owner(), stored)
    monkeypatch.setattr(time, "time", lambda: 2_000_000_000.0)
    assert build_revisions(owner(), copy.deepcopy(stored)) == first


def test_unreadable_entries_are_skipped_and_the_rest_read() -> None:
    good = spec()
    raw = gzip.compress(good.model_dump_json(by_alias=True).encode(), mtime=0)
    config_map: dict[str, Any] = {"binaryData": {
        "0000000000.json.gz": base64.b64encode(raw).decode(),
        "notbase64.json.gz": "!!! not base64 !!!",
        "notgzip00.json.gz": base64.b64encode(b"plain text").decode(),
        "truncated.json.gz": base64.b64encode(raw[:-6]).decode(),
        "corrupted.json.gz": base64.b64encode(raw[:12] + b"\xff" * 8 + raw[20:]).decode(),
        "notjson00.json.gz": packed(b"{version: 1"),
        "notaspec0.json.gz": packed(json.dumps({"version": "not-semver"}).encode()),
        "README": packed(good.model_dump_json().encode()),
    }}
    assert read_revisions(config_map) == {"0000000000": good}


@pytest.mark.parametrize("config_map", [None, {}, {"binaryData": None}, {"data": {}},
                                        {"binaryData": {}}])
def test_a_missing_or_empty_configmap_holds_no_spec(config_map: dict[str, Any] | None) -> None:
    assert read_revisions(config_map) == {}
