"""What an LLM router sees of the fleet: catalogs in ConfigMaps and on the endpoint."""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.e2e.conftest import OPERATOR_NAMESPACE
from tests.e2e.support import Cluster, Operator, wait_until

from toolfleet.catalog.configmap_reader import read_configmaps

FORMATS = ("canonical", "openai", "anthropic", "gemini", "mcp")


def toolservice(name: str, tools: list[str], exposure: str,
                labels: dict[str, str] | None = None, description: str = "") -> dict[str, Any]:
    return {
        "apiVersion": "toolfleet.io/v1alpha1", "kind": "ToolService",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "version": "1.0.0", "image": f"toolfleet/{name}:1.0.0",
            "autoscaling": {"minReplicas": 1, "maxReplicas": 2},
            "access": {"exposure": exposure},
            "tools": [{
                "name": tool,
                "description": description or f"{tool.replace('_', ' ')} for the assistant.",
                "inputSchema": {"type": "object",
                                "properties": {"query": {"type": "string"},
                                               "limit": {"type": "integer", "minimum": 1}},
                                "required": ["query"]},
            } for tool in tools],
        },
    }


def apply(cluster: Cluster, namespace: str, obj: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(obj))


def names_in(fmt: str, document: Any) -> set[str]:
    """Tool names in a rendering, read the way each vendor's client would."""
    if fmt == "openai":
        return {t["function"]["name"] for t in document}
    if fmt == "anthropic":
        return {t["name"] for t in document}
    if fmt == "gemini":
        return {d["name"] for d in document["functionDeclarations"]}
    return {t["name"] for t in document["tools"]}


def fetch(operator: Operator, catalog: str, fmt: str = "canonical",
          **headers: str) -> httpx.Response:
    return httpx.get(f"{operator.url}/v1/catalogs/{catalog}", params={"format": fmt},
                     headers=headers, timeout=10)


def configmap_documents(cluster: Cluster, namespace: str, catalog: str) -> dict[str, bytes]:
    items = cluster.get("configmaps", "-n", namespace, "-l",
                        f"toolfleet.io/catalog={catalog}")["items"]
    return read_configmaps(items) if items else {}


@pytest.fixture
def fleet(cluster: Cluster, operator: Operator, namespace: str) -> Iterator[dict[str, str]]:
    """Services in two namespaces with every exposure, and two ToolCatalogs."""
    run = uuid.uuid4().hex[:5]
    other = f"t-other-{run}"
    cluster.kubectl("create", "namespace", other)
    # Unique per run: earlier runs' namespaces may still be terminating.
    cluster.kubectl("label", "namespace", other, f"fleet={run}")
    cluster.kubectl("label", "namespace", namespace, f"fleet={run}")
    apply(cluster, namespace, toolservice("geo", [f"geocode_{run}", f"reverse_geocode_{run}"],
                                          "public"))
    apply(cluster, namespace, toolservice("billing", [f"charge_card_{run}"], "internal",
                                          {"team": "payments"}))
    apply(cluster, other, toolservice("search", [f"web_search_{run}"], "public"))
    apply(cluster, other, toolservice("warehouse", [f"run_sql_{run}"], "private"))
    apply(cluster, namespace, {
        "apiVersion": "toolfleet.io/v1alpha1", "kind": "ToolCatalog",
        "metadata": {"name": "assistant"},
        "spec": {"namespaceSelector": {"matchLabels": {"fleet": run}},
                 "exposures": ["public", "internal"]}})
    apply(cluster, namespace, {
        "apiVersion": "toolfleet.io/v1alpha1", "kind": "ToolCatalog",
        "metadata": {"name": "payments"},
        "spec": {"selector": {"matchLabels": {"team": "payments"}},
                 "exposures": ["internal"], "formats": ["openai", "mcp"]}})
    for ns, name in ((namespace, "geo"), (namespace, "billing"), (other, "search"),
                     (other, "warehouse")):
        cluster.kubectl("wait", "-n", ns, "--for=condition=Ready", "--timeout=60s",
                        f"toolservice/{name}", timeout=70)
    try:
        yield {"run": run, "other": other}
    finally:
        cluster.kubectl("delete", "namespace", other, "--wait=false", check=False)


def test_each_catalog_lists_exactly_its_tools_in_every_format(
        cluster: Cluster, operator: Operator, namespace: str, fleet: dict[str, str]) -> None:
    run = fleet["run"]
    geo = {f"geocode_{run}", f"reverse_geocode_{run}"}
    expected = {
        f"{namespace}.assistant": geo | {f"charge_card_{run}", f"web_search_{run}"},
        f"{namespace}.payments": {f"charge_card_{run}"},
    }
    for catalog, tools in expected.items():
        last: list[Any] = []

        # The payments catalog is published in openai and mcp only.
        fmt = "openai" if catalog.endswith(".payments") else "canonical"

        def published(catalog: str = catalog, tools: set[str] = tools, fmt: str = fmt,
                      last: list[Any] = last) -> bool:
            response = fetch(operator, catalog, fmt)
            body = response.json()
            last[:] = [response.status_code, body]
            return response.status_code == 200 and names_in(fmt, body) == tools
        try:
            wait_until(published, 20, f"catalog {catalog}")
        except AssertionError as err:
            raise AssertionError(f"{err}: last answer {last}") from None

    for fmt in FORMATS:
        assert names_in(fmt, fetch(operator, f"{namespace}.assistant", fmt).json()) == \
            expected[f"{namespace}.assistant"], fmt
    for fmt in ("openai", "mcp"):
        assert names_in(fmt, fetch(operator, f"{namespace}.payments", fmt).json()) == \
            expected[f"{namespace}.payments"]
    assert fetch(operator, f"{namespace}.payments", "gemini").status_code == 404

    # The built-in catalog: public tools only, from every namespace.
    default = wait_until(lambda: (lambda names: names if geo <= names else None)(
        {t["name"] for t in fetch(operator, "default").json()["tools"]}), 20,
        "the default catalog to list the public tools")
    assert f"web_search_{run}" in default
    assert f"charge_card_{run}" not in default and f"run_sql_{run}" not in default

    # The ConfigMaps hold the same bytes the endpoint serves.
    documents = wait_until(lambda: configmap_documents(cluster, namespace,
                                                       f"{namespace}.assistant"),
                           20, "the assistant catalog's ConfigMaps")
    for fmt in FORMATS:
        assert documents[fmt] == fetch(operator, f"{namespace}.assistant", fmt).content, fmt
    payments = configmap_documents(cluster, namespace, f"{namespace}.payments")
    # Its declared formats, and the canonical document every replica renders them from.
    assert set(payments) == {"openai", "mcp", "canonical"}

    catalog = cluster.get("toolcatalog", "assistant", "-n", namespace)
    assert catalog["status"]["toolCount"] == 4
    assert catalog["status"]["hash"] == fetch(operator, f"{namespace}.assistant").json()["hash"]
    assert f"toolfleet-catalog-{namespace}.assistant" in catalog["status"]["configMaps"][0]
    columns = cluster.kubectl("get", "tc", "-n", namespace).stdout.splitlines()
    assert columns[0].split()[:3] == ["NAME", "TOOLS", "HASH"]


def test_a_description_change_reaches_routers_once(
        cluster: Cluster, operator: Operator, namespace: str, fleet: dict[str, str]) -> None:
    catalog = f"{namespace}.assistant"
    wait_until(lambda: fetch(operator, catalog).status_code == 200, 20, "the catalog")
    # Let the fleet settle: no change for a while.
    first = fetch(operator, catalog)
    etag = first.headers["ETag"]
    assert fetch(operator, catalog, **{"If-None-Match": etag}).status_code == 304

    events: list[dict[str, Any]] = []
    listening = threading.Event()

    def listen() -> None:
        # The stream stays quiet after the one change: its read timeout ends the
        # listener once the test is done with it.
        with contextlib.suppress(httpx.ReadTimeout), httpx.stream(
                "GET", f"{operator.url}/v1/catalogs/{catalog}/events",
                timeout=httpx.Timeout(10, read=15)) as stream:
            listening.set()
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    events.append(json.loads(line[5:]))
                if len(events) >= 3:
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert listening.wait(10)
    wait_until(lambda: events, 10, "the stream's first event (the current state)")
    baseline = len(events)

    run = fleet["run"]
    changed = toolservice("geo", [f"geocode_{run}", f"reverse_geocode_{run}"], "public",
                          description="Find coordinates for an address, worldwide.")
    apply(cluster, namespace, changed)

    # How fast is measured by hack/bench/bench_propagation.py, not asserted here.
    def refreshed() -> httpx.Response | None:
        response = fetch(operator, catalog)
        descriptions = {t["description"] for t in response.json()["tools"]}
        changed = "Find coordinates for an address, worldwide." in descriptions
        return response if changed else None

    response = wait_until(refreshed, 20, "the new description", interval=0.05)
    assert response.headers["ETag"] != etag
    assert response.json()["hash"] != first.json()["hash"]
    assert fetch(operator, catalog, **{"If-None-Match": etag}).status_code == 200

    wait_until(lambda: configmap_documents(cluster, namespace, catalog).get("canonical")
               == response.content, 20, "the ConfigMap to follow", interval=0.1)
    # Exactly one event for the change: watch a while longer for a second one.
    time.sleep(3)
    assert len(events) - baseline == 1, events
    assert events[-1]["hash"] == response.json()["hash"]


def test_deleting_a_service_takes_its_tools_out(
        cluster: Cluster, operator: Operator, namespace: str, fleet: dict[str, str]) -> None:
    run = fleet["run"]
    catalog = f"{namespace}.assistant"
    wait_until(lambda: f"web_search_{run}" in {t["name"] for t in fetch(
        operator, catalog).json().get("tools", [])}, 20, "web_search in the catalog")

    cluster.kubectl("delete", "toolservice", "search", "-n", fleet["other"])

    wait_until(lambda: f"web_search_{run}" not in {t["name"] for t in fetch(
        operator, catalog).json()["tools"]}, 10, "web_search to leave the catalog")
    wait_until(lambda: f"web_search_{run}" not in {t["name"] for t in fetch(
        operator, "default").json()["tools"]}, 10, "web_search to leave the default catalog")


BAD_TOOLS = [
    ("invalid schema", {"name": "lookup", "description": "Look up.",
                        "inputSchema": {"type": "object", "properties": {"q": {"type": "strang"}}}},
     ["spec.tools[0].inputSchema", "strang"]),
    ("required not a list", {"name": "lookup", "description": "Look up.",
                             "inputSchema": {"type": "object", "required": "q"}},
     ["spec.tools[0].inputSchema", "required"]),
]


@pytest.mark.parametrize(("problem", "tool", "expected"), BAD_TOOLS, ids=[b[0] for b in BAD_TOOLS])
def test_admission_refuses_invalid_tool_schemas(
        cluster: Cluster, operator: Operator, namespace: str, problem: str,
        tool: dict[str, Any], expected: list[str]) -> None:
    manifest = toolservice("bad", [], "public")
    manifest["spec"]["tools"] = [tool]

    result = cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(manifest),
                             check=False)

    assert result.returncode != 0, f"{problem}: admitted"
    for text in expected:
        assert text in result.stderr, result.stderr


def test_admission_refuses_unsafe_names(
        cluster: Cluster, operator: Operator, namespace: str) -> None:
    manifest = toolservice("bad", ["look up!"], "public")

    result = cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(manifest),
                             check=False)

    assert result.returncode != 0
    assert "spec.tools[0].name" in result.stderr


def test_admission_refuses_a_name_colliding_in_a_rejecting_catalog(
        cluster: Cluster, operator: Operator, namespace: str, fleet: dict[str, str]) -> None:
    run = fleet["run"]
    rival = toolservice("geo-copy", [f"geocode_{run}"], "internal")

    result = cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(rival),
                             check=False)

    assert result.returncode != 0
    assert "spec.tools[0].name" in result.stderr
    assert f"{namespace}/geo" in result.stderr and "assistant" in result.stderr
    # Where no catalog rejects collisions (the default one prefixes), it is admitted.
    third = f"t-third-{run}"
    cluster.kubectl("create", "namespace", third)
    try:
        apply(cluster, third, toolservice("geo-copy", [f"geocode_{run}"], "public"))
    finally:
        cluster.kubectl("delete", "namespace", third, "--wait=false", check=False)


def test_configmaps_are_gzip_or_plain_and_decode(
        cluster: Cluster, operator: Operator, namespace: str, fleet: dict[str, str]) -> None:
    items = wait_until(lambda: cluster.get("configmaps", "-n", OPERATOR_NAMESPACE, "-l",
                                           "toolfleet.io/catalog=default")["items"],
                       20, "the default catalog's ConfigMap")
    for item in items:
        for key, value in (item.get("binaryData") or {}).items():
            assert key.endswith(".gz")
            json.loads(gzip.decompress(base64.b64decode(value)))
    assert read_configmaps(items)["canonical"] == fetch(operator, "default").content


def realistic_tool(service: int, index: int) -> dict[str, Any]:
    """A tool with the kind of schema real services publish: nested, enums, arrays."""
    return {
        "name": f"s{service:02d}_tool_{index:02d}",
        "title": f"Tool {index} of service {service}",
        "description": ("Look up records in the service's store and return the matching "
                        "items with their scores. Use it when the user asks about orders, "
                        "customers or shipments; prefer narrow filters. ") * 2,
        "inputSchema": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "Free text to match.",
                          "maxLength": 2000},
                "filters": {"type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "field": {"type": "string", "enum": ["status", "region", "owner"]},
                        "op": {"type": "string", "enum": ["eq", "ne", "in", "gt", "lt"]},
                        "value": {"anyOf": [{"type": "string"}, {"type": "number"}]},
                    },
                    "required": ["field", "op", "value"],
                    "additionalProperties": False}},
                "page": {"type": "object", "properties": {
                    "size": {"type": "integer", "minimum": 1, "maximum": 500},
                    "cursor": {"type": "string"}}},
                "sort": {"type": "string", "enum": ["relevance", "newest", "oldest"]},
            },
            "required": ["query"],
        },
        "outputSchema": {"type": "object", "properties": {
            "items": {"type": "array", "items": {"type": "object"}},
            "next": {"type": "string"}}},
        "annotations": {"readOnlyHint": True},
    }


def test_two_thousand_tools_publish_within_object_limits_and_read_back_identical(
        cluster: Cluster, operator: Operator, namespace: str) -> None:
    services, per_service = 32, 63
    items = []
    for s in range(services):
        ts = toolservice(f"bulk-{s:02d}", [], "internal", {"bulk": "yes"})
        ts["spec"]["tools"] = [realistic_tool(s, i) for i in range(per_service)]
        items.append(ts)
    cluster.kubectl("apply", "-n", namespace, "-f", "-", timeout=300,
                    input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps({
        "apiVersion": "toolfleet.io/v1alpha1", "kind": "ToolCatalog",
        "metadata": {"name": "bulk"},
        "spec": {"selector": {"matchLabels": {"bulk": "yes"}}, "exposures": ["internal"],
                 "includeUnready": True}}))
    catalog = f"{namespace}.bulk"

    wait_until(lambda: fetch(operator, catalog).status_code == 200 and len(
        fetch(operator, catalog).json()["tools"]) == services * per_service, 120,
        "all 2,016 tools in the catalog")
    config_maps = wait_until(
        lambda: (lambda cms: cms if cms and all(
            cm["metadata"]["annotations"]["toolfleet.io/catalog-hash"]
            == fetch(operator, catalog).json()["hash"] for cm in cms) else None)(
            cluster.get("configmaps", "-n", namespace, "-l",
                        f"toolfleet.io/catalog={catalog}")["items"]),
        60, "the ConfigMaps to hold the full catalog")

    for cm in config_maps:
        size = len(json.dumps(cm).encode())
        assert size < 1024 * 1024, f"{cm['metadata']['name']} is {size} bytes"
    assert len(config_maps) > 1 or config_maps[0].get("binaryData"), \
        "a catalog this size must be compressed or sharded"
    documents = read_configmaps(config_maps)
    for fmt in FORMATS:
        served = fetch(operator, catalog, fmt)
        assert documents[fmt] == served.content, fmt
        gzipped = httpx.get(f"{operator.url}/v1/catalogs/{catalog}", params={"format": fmt},
                            headers={"Accept-Encoding": "gzip"}, timeout=30)
        assert gzipped.content == served.content  # httpx decodes; the bytes must agree


def test_a_toolcatalog_named_default_is_refused_by_the_api_server(
        cluster: Cluster, crds: None, namespace: str) -> None:
    # A grant to call the built-in catalog would grant it too (RBAC resourceNames).
    manifest = {"apiVersion": "toolfleet.io/v1alpha1", "kind": "ToolCatalog",
                "metadata": {"name": "default"}, "spec": {}}
    result = cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(manifest),
                             check=False)

    assert result.returncode != 0
    assert "metadata.name must not be default" in result.stderr
