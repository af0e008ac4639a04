"""`toolfleet gateway`: which catalogs it serves, with which settings, and its refusals."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from toolfleet.catalog.model import Catalog, Endpoint
from toolfleet.gateway import main as gateway_main
from toolfleet.gateway.endpoints import EndpointSliceResolver
from toolfleet.gateway.main import MappedResolver
from toolfleet.gateway.settings import GatewaySettings
from toolfleet.runtime import kube
from toolfleet.server.catalog import CatalogStore

from .fixtures import toolfleet


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record what the gateway would serve, instead of serving it."""
    calls: list[dict[str, Any]] = []

    def serve(settings: GatewaySettings, store: CatalogStore, resolver: Any = None) -> None:
        calls.append({"settings": settings, "store": store, "resolver": resolver})

    monkeypatch.setattr(gateway_main, "serve", serve)
    return calls


@pytest.fixture
def followed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record what the gateway would follow (its operator namespace, and "EndpointSlices"),
    instead of following it, with credentials to the API server as if in a pod."""
    followed: list[str] = []

    def follow(namespace: str) -> tuple[CatalogStore, threading.Event]:
        followed.append(namespace)
        return CatalogStore(), threading.Event()

    def follow_slices(_self: EndpointSliceResolver) -> threading.Event:
        followed.append("EndpointSlices")
        return threading.Event()

    monkeypatch.setattr(gateway_main, "follow_published", follow)
    monkeypatch.setattr(EndpointSliceResolver, "follow", follow_slices)
    monkeypatch.setattr(kube, "load_credentials", lambda: None)
    return followed


def _catalog_file(tmp_path: Path) -> Path:
    catalog = Catalog.model_validate({"name": "default", "hash": "0" * 64, "tools": []})
    path = tmp_path / "default.json"
    path.write_text(json.dumps(catalog.to_wire()))
    return path


def test_by_default_it_follows_the_operator_namespace_with_auth_on(
        served: list[dict[str, Any]], followed: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOOLFLEET_GATEWAY_AUTH", raising=False)
    monkeypatch.delenv("TOOLFLEET_GATEWAY_OPERATOR_NAMESPACE", raising=False)
    result = toolfleet("gateway")

    assert result.exit_code == 0, result.output
    # The published catalogs, and the pods behind each Service, to call them one by one.
    assert followed == ["toolfleet-system", "EndpointSlices"]
    (call,) = served
    assert call["settings"].auth is True
    assert isinstance(call["resolver"], EndpointSliceResolver)


def test_without_credentials_it_says_what_to_do(
        served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> None:
        raise kube.NoCredentials("no Kubernetes credentials: not in a pod")

    monkeypatch.setattr(kube, "load_credentials", missing)
    result = toolfleet("gateway")

    assert result.exit_code == 1 and served == []
    assert "no Kubernetes credentials" in result.output
    assert "--no-auth" in result.output and "Traceback" not in result.output


def test_options_override_the_environment(served: list[dict[str, Any]], followed: list[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLFLEET_GATEWAY_OPERATOR_NAMESPACE", "from-env")
    monkeypatch.setenv("TOOLFLEET_GATEWAY_PORT", "9000")
    result = toolfleet("gateway", "--operator-namespace", "tools", "--no-auth",
                       "--host", "127.0.0.1")

    assert result.exit_code == 0, result.output
    assert followed == ["tools", "EndpointSlices"]
    settings = served[0]["settings"]
    assert (settings.host, settings.port, settings.auth) == ("127.0.0.1", 9000, False)


def test_catalog_files_are_served_instead_of_the_cluster(
        served: list[dict[str, Any]], followed: list[str], tmp_path: Path) -> None:
    result = toolfleet("gateway", "--no-auth", "--catalog", str(_catalog_file(tmp_path)))

    assert result.exit_code == 0, result.output
    assert followed == []
    store = served[0]["store"]
    assert store.names() == ["default"] and store.synced


def test_a_file_that_is_not_a_catalog_is_refused_by_name(
        served: list[dict[str, Any]], tmp_path: Path) -> None:
    bad = tmp_path / "tools.json"
    bad.write_text('{"tools": "none"}')
    result = toolfleet("gateway", "--no-auth", "--catalog", str(bad))

    assert result.exit_code == 2 and served == []
    assert "tools.json: not a canonical catalog" in result.output


def test_a_setting_it_cannot_use_stops_it_naming_the_variable(
        served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLFLEET_GATEWAY_AUTH", "maybe")
    result = toolfleet("gateway")

    assert result.exit_code == 2 and served == []
    assert "TOOLFLEET_GATEWAY_AUTH must be true or false" in result.output


@pytest.mark.parametrize("value", ["segmenter=http://127.0.0.1:9001",
                                   "http://a.svc:8080", "http://a.svc:8080=127.0.0.1:9001"])
def test_a_resolve_that_is_not_url_equals_url_is_refused(served: list[dict[str, Any]],
                                                           value: str) -> None:
    result = toolfleet("gateway", "--no-auth", "--resolve", value)

    assert result.exit_code == 2 and served == []
    assert "is not URL=URL" in result.output


def test_resolve_maps_the_catalogs_urls_and_leaves_the_rest(
        served: list[dict[str, Any]], followed: list[str]) -> None:
    result = toolfleet("gateway", "--resolve",
                       "http://seg.team-a.svc.cluster.local:8080/=http://127.0.0.1:9001")

    assert result.exit_code == 0, result.output
    assert followed == ["toolfleet-system"]  # the mapping, not EndpointSlices
    resolver = served[0]["resolver"]
    assert isinstance(resolver, MappedResolver)

    def endpoint(url: str) -> Endpoint:
        return Endpoint(url=url, track="stable", version="1", weight=100, ready=True)

    assert resolver.addresses(endpoint("http://seg.team-a.svc.cluster.local:8080")) == [
        "http://127.0.0.1:9001"]
    assert resolver.addresses(endpoint("http://other:8080")) == ["http://other:8080"]
