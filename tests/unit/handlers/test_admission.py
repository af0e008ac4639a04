"""The admission webhook's shell (operator/toolfleet/handlers/admission.py).

The verdicts are tested in tests/unit/catalog/test_admission.py; the webhook
against a real API server in tests/e2e/test_catalog.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kopf
import pytest
from tests.unit.catalog.objects import toolservice

from toolfleet.handlers.admission import configure_webhook, validate_tools
from toolfleet.settings import Settings

Registered = list[tuple[tuple[Any, ...], dict[str, Any], Callable[..., Any]]]


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> Registered:
    """What the handlers register with kopf.on.validate, instead of kopf's registry."""
    calls: Registered = []

    def validate(*args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            calls.append((args, kwargs, fn))
            return fn
        return register

    monkeypatch.setattr(kopf.on, "validate", validate)
    return calls


def test_without_a_webhook_host_nothing_is_served_or_registered(
        registered: Registered) -> None:
    settings = kopf.OperatorSettings()
    configure_webhook(settings=settings, memo=kopf.Memo(settings=Settings()))
    assert settings.admission.server is None
    assert registered == []


def test_with_a_webhook_host_the_server_is_configured_and_the_handler_registered(
        registered: Registered, tmp_path: Path) -> None:
    settings = kopf.OperatorSettings()
    config = Settings(webhook_host="127.0.0.1", webhook_port=9555,
                      webhook_cert_dir=str(tmp_path))
    configure_webhook(settings=settings, memo=kopf.Memo(settings=config))
    server = settings.admission.server
    assert isinstance(server, kopf.WebhookServer)
    assert (server.host, server.port) == ("127.0.0.1", 9555)
    assert server.certfile == str(tmp_path / "tls.crt")
    assert settings.admission.managed == "toolfleet.io"
    assert registered == [(("toolfleet.io", "v1alpha1", "toolservices"), {"id": "tools"},
                           validate_tools)]


def indices() -> dict[str, Any]:
    return {"toolservices": {("team-a", "search"): [toolservice("search")]},
            "toolcatalogs": {}, "namespace_labels": {"team-a": [{}]}}


def test_a_refusal_is_answered_with_its_code_and_message() -> None:
    candidate = toolservice("broken", tools=["look up!"])
    with pytest.raises(kopf.AdmissionError, match=r"spec\.tools\[0\]\.name") as refused:
        asyncio.run(validate_tools(body=kopf.Body(candidate), warnings=[],
                                   memo=kopf.Memo(settings=Settings()), **indices()))
    assert refused.value.code == 422


def test_an_admitted_toolservice_passes_its_warnings_on() -> None:
    candidate = toolservice("search")
    candidate["spec"]["tools"][0]["inputSchema"]["$schema"] = (
        "http://json-schema.org/draft-07/schema#")
    warnings: list[str] = []
    asyncio.run(validate_tools(body=kopf.Body(candidate), warnings=warnings,
                               memo=kopf.Memo(settings=Settings()), **indices()))
    assert len(warnings) == 1
