"""The contract every service keeps (toolfleet_service): schemas, settings, faults, shutdown."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, Field, RootModel

from cluster_analyzer.service import EXAMPLE, SERVICE
from toolfleet_service.errors import field_path
from toolfleet_service.local import LocalService, wait_until
from toolfleet_service.runner import run
from toolfleet_service.schema import SchemaError, tool_schema
from toolfleet_service.settings import ServiceSettings, SettingsError
from toolfleet_service.tool import ServiceDefinition, ToolDefinition, ToolModel

PATH = "/tools/segment_customers"
CANARY = {
    "TOOLFLEET_VERSION": "1.1.0-canary",
    "TOOLFLEET_FAULT_RATE": "1",
    "TOOLFLEET_FAULT_DELAY_SECONDS": "0.5",
}


class Address(BaseModel):
    title: str  # a property that happens to be called "title"
    city: str


class Person(ToolModel):
    name: str
    address: Address
    previous: list[Address] = Field(default_factory=list)


class Node(BaseModel):
    children: list[Node] = Field(default_factory=list)


def test_tool_schemas_are_inlined_and_valid_2020_12() -> None:
    schema = tool_schema(Person, "validation")

    Draft202012Validator.check_schema(schema)
    text = str(schema)
    assert "$ref" not in text and "$defs" not in text
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert set(schema["properties"]["address"]["properties"]) == {"title", "city"}
    assert "title" not in schema["properties"]["name"]  # pydantic's "Name" says nothing
    Draft202012Validator(schema).validate({"name": "Ada", "address": {"title": "Dr", "city": "X"}})


def test_schemas_that_cannot_be_tool_schemas_say_why() -> None:
    with pytest.raises(SchemaError, match="refers to itself"):
        tool_schema(Node, "validation")
    with pytest.raises(SchemaError, match="root must be type object"):
        tool_schema(RootModel[list[int]], "validation")


def test_tool_and_service_definitions_check_their_names() -> None:
    with pytest.raises(ValueError, match="tool name '1st' must match"):
        ToolDefinition(name="1st", title="t", description="d", input_model=Person,
                       output_model=Person, run=lambda p: p, example={}, rows_field="previous")
    with pytest.raises(ValueError, match="rows_field 'records' is not a field of Person"):
        ToolDefinition(name="ok", title="t", description="d", input_model=Person,
                       output_model=Person, run=lambda p: p, example={})
    with pytest.raises(ValueError, match="must be a DNS label"):
        ServiceDefinition(name="Cluster_Analyzer", version="1.0.0", description="d", tools=())


def test_settings_come_from_the_environment_with_defaults() -> None:
    assert ServiceSettings.from_env({}, default_version="1.0.0") == ServiceSettings(
        version="1.0.0"
    )
    settings = ServiceSettings.from_env(
        {"PORT": "9000", "TOOLFLEET_VERSION": "2.0.0-rc.1", "TOOLFLEET_FAULT_RATE": "0.25",
         "TOOLFLEET_MAX_ROWS": "50"},
        default_version="1.0.0",
    )
    assert (settings.port, settings.version, settings.fault_rate, settings.max_rows) == (
        9000, "2.0.0-rc.1", 0.25, 50
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TOOLFLEET_FAULT_RATE": "1.5"}, "TOOLFLEET_FAULT_RATE must be a number from 0.0 to 1.0 "
         "(got '1.5'); unset it for 0.0"),
        ({"TOOLFLEET_FAULT_RATE": "nan"}, "TOOLFLEET_FAULT_RATE must be a number"),
        ({"PORT": "http"}, "PORT must be an integer from 1 to 65535 (got 'http')"),
    ],
)
def test_bad_settings_say_what_is_allowed(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        ServiceSettings.from_env(env, default_version="1.0.0")
    assert str(caught.value).startswith(message)


def test_field_paths_read_like_the_input() -> None:
    assert field_path(("records", 3, "annual_spend")) == "records[3].annual_spend"
    assert field_path(()) == "body"


def test_a_bad_setting_stops_the_service_with_the_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = run(SERVICE, argv=[], environ={"TOOLFLEET_MAX_ROWS": "lots"})

    assert status == 2
    assert "TOOLFLEET_MAX_ROWS must be an integer from 1 to 10000000 (got 'lots')" in (
        capsys.readouterr().err
    )


@pytest.fixture(scope="module")
def canary() -> Iterator[LocalService]:
    """A canary that fails every call after half a second: TOOLFLEET_FAULT_RATE=1."""
    with LocalService("cluster_analyzer", env=CANARY) as service:
        yield service


def test_fault_rate_fails_calls_and_counts_them_as_errors(
    canary: LocalService, mcp_caller: Any
) -> None:
    errors_before = canary.metric(
        "toolfleet_tool_requests_total", tool="segment_customers", outcome="error"
    )

    response = httpx.post(canary.url + PATH, json=EXAMPLE, timeout=30)
    over_mcp = mcp_caller.call_tool(canary.url, "segment_customers", dict(EXAMPLE))

    assert response.status_code == 500
    assert "TOOLFLEET_FAULT_RATE=1.0" in response.json()["error"]
    assert over_mcp.is_error and "injected fault" in over_mcp.content[0].text
    errors_after = canary.metric(
        "toolfleet_tool_requests_total", tool="segment_customers", outcome="error"
    )
    assert errors_after - errors_before == 2
    # Injected faults never touch readiness: the canary looks healthy, and fails analysis.
    assert httpx.get(f"{canary.url}/readyz", timeout=10).status_code == 200


def test_the_version_tells_a_canary_from_the_stable_revision(canary: LocalService) -> None:
    health = httpx.get(f"{canary.url}/healthz", timeout=10)

    assert health.json()["version"] == "1.1.0-canary"
    assert health.headers["x-toolfleet-version"] == "1.1.0-canary"


def test_the_inflight_gauge_counts_calls_being_served(canary: LocalService) -> None:
    def inflight() -> float:
        return canary.metric("toolfleet_inflight_requests")

    call = threading.Thread(
        target=httpx.post, args=(canary.url + PATH,), kwargs={"json": EXAMPLE, "timeout": 30}
    )
    call.start()
    wait_until(lambda: inflight() == 1, 10, "toolfleet_inflight_requests reaches 1")
    call.join(timeout=30)
    assert inflight() == 0
    assert canary.metric(
        "toolfleet_tool_request_duration_seconds_bucket", tool="segment_customers", le="0.25"
    ) == 0  # every call took the injected half second


def test_sigterm_lets_an_in_flight_call_finish() -> None:
    service = LocalService(
        "cluster_analyzer", env={"TOOLFLEET_FAULT_DELAY_SECONDS": "2"}
    ).start()
    answered: dict[str, Any] = {}

    def call() -> None:
        response = httpx.post(service.url + PATH, json=EXAMPLE, timeout=30)
        answered.update(status=response.status_code, body=response.json(),
                        at=time.monotonic())

    caller = threading.Thread(target=call)
    try:
        caller.start()
        wait_until(lambda: service.metric("toolfleet_inflight_requests") == 1, 10,
                   "the slow call is in flight")
        assert service.process is not None
        service.process.terminate()  # SIGTERM, as the kubelet sends it
        signalled = time.monotonic()

        refused = False
        while caller.is_alive() and not refused:
            try:
                httpx.get(f"{service.url}/healthz", timeout=1)
            except httpx.TransportError:
                refused = True  # no new connections once shutdown has begun
        caller.join(timeout=30)
        exit_code = service.process.wait(timeout=30)
    finally:
        service.__exit__(None, None, None)

    assert refused, "the service kept accepting connections after SIGTERM"
    assert answered["status"] == 200 and answered["body"]["k"] == 2
    assert answered["at"] > signalled  # the call was answered after the signal
    assert exit_code == 0
    assert "draining in-flight calls" in service.output()
