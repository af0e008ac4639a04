"""The validating admission webhook for ToolServices: served when configured, decided by policy.

The decision is `catalog.admission.admit_toolservice`; this module only
configures kopf's webhook server (with the certificate from runtime/tls.py)
and turns a verdict into kopf's answer.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import kopf

from toolfleet.api.common import GROUP, VERSION
from toolfleet.api.toolcatalog import CollisionStrategy
from toolfleet.catalog.admission import admit_toolservice
from toolfleet.handlers.catalog import observe_fleet, settings_of
from toolfleet.runtime.tls import self_signed

log = logging.getLogger(__name__)
# The name of the ValidatingWebhookConfiguration kopf keeps up to date.
WEBHOOK_CONFIGURATION = "toolfleet.io"


@kopf.on.startup()
def configure_webhook(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Serve the validating webhook when the API server has an address to reach it by."""
    config = settings_of(memo)
    if not config.webhook_host:
        log.info("admission webhook off (TOOLFLEET_WEBHOOK_HOST unset): invalid tools are "
                 "reported in status and left out of catalogs")
        return
    directory = Path(config.webhook_cert_dir)
    certfile, keyfile = directory / "tls.crt", directory / "tls.key"
    if not (certfile.exists() and keyfile.exists()):
        certfile, keyfile = self_signed(config.webhook_host, directory)
    settings.admission.server = kopf.WebhookServer(
        addr=config.webhook_listen, port=config.webhook_port, host=config.webhook_host,
        certfile=str(certfile), pkeyfile=str(keyfile), cafile=str(certfile))
    settings.admission.managed = WEBHOOK_CONFIGURATION
    # Registered here, not at import: kopf refuses to start with an admission handler
    # and no server to serve it, and whether there is one is a setting. kopf starts
    # its webhook machinery only once the startup handlers are done.
    kopf.on.validate(GROUP, VERSION, "toolservices", id="tools")(validate_tools)


async def validate_tools(body: kopf.Body, warnings: list[str], memo: kopf.Memo,
                         **kwargs: Any) -> None:
    """Refuse a ToolService whose tools are invalid or collide in a catalog that rejects it.

    The fleet is copied on the event loop, where the watches change kopf's
    indices: a sync handler runs in a worker thread, and iterating them there
    failed now and then with "dictionary changed size during iteration". The
    decision, on the copy, runs in a thread.
    """
    config = settings_of(memo)
    fleet = observe_fleet(kwargs["toolservices"], kwargs["toolcatalogs"],
                          kwargs["namespace_labels"])
    verdict = await asyncio.to_thread(
        admit_toolservice,
        dict(body), toolservices=fleet.toolservices, toolcatalogs=fleet.toolcatalogs,
        namespace_labels=fleet.namespace_labels, operator_namespace=config.namespace,
        cluster_domain=config.cluster_domain,
        default_strategy=CollisionStrategy(config.default_collision_strategy))
    warnings.extend(verdict.warnings)
    if not verdict.allowed:
        raise kopf.AdmissionError(verdict.message, code=verdict.code)
