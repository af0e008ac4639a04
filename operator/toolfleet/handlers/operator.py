"""Operator-wide handlers: kopf's settings, the HTTP server, the work queue and the resync."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import kopf
from kopf._cogs.structs.references import NamespaceName, match_namespace

from toolfleet.handlers.indices import CHILD_INDICES
from toolfleet.handlers.toolservice import reconcile_toolservice
from toolfleet.metrics import ROLLOUTS, WORKQUEUE_DEPTH
from toolfleet.resources.meta import SERVICE_LABEL
from toolfleet.runtime import kube
from toolfleet.runtime.access import AccessReviewer, KubeReviews
from toolfleet.runtime.cache import ObjectCache, ObjectKey
from toolfleet.runtime.indices import index_get, index_values
from toolfleet.runtime.peering import Peering, may_work
from toolfleet.runtime.scheduler import WorkQueue, resync
from toolfleet.server.app import READY_KEY, build_app, start
from toolfleet.server.catalog import CatalogStore
from toolfleet.settings import Settings
from toolfleet.status.toolservice import rollout_phases

log = logging.getLogger(__name__)


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Tune kopf and start serving health and metrics."""
    # `toolfleet run` builds the settings once and passes them in the memo; an
    # operator started another way (kopf run) reads them from the environment here.
    if "settings" not in memo:
        memo["settings"] = Settings.from_env()
    # Every request of the process, the reconciles', the publisher's and the catalog
    # endpoint's reviews alike, takes its token from this one bucket.
    kube.limit_requests(memo.settings.api_qps, memo.settings.api_burst)
    memo.setdefault("peering", None)
    # Our own Events say what happened; kopf's per-handler chatter stays in the log.
    settings.posting.level = logging.WARNING
    settings.execution.max_workers = 8
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 60
    store = memo.setdefault("store", CatalogStore())
    # TOOLFLEET_CATALOG_AUTH: the catalog endpoint serves whom RBAC lets call a catalog.
    app = build_app(store, access=AccessReviewer(KubeReviews())
                    if memo.settings.catalog_auth else None)
    memo["app"] = app
    memo["runner"] = await start(app, memo.settings.http_host, memo.settings.http_port)


@kopf.on.startup()
async def start_work_queue(memo: kopf.Memo, **kwargs: Any) -> None:
    """Start the work queue that runs every ToolService reconcile, and the periodic resync.

    The resync is a task of our own rather than a kopf timer: timers put a
    finalizer on every object, which would block deletion whenever the operator
    is down.
    """
    memo["indices"] = {name: kwargs[name] for name in ("gpu_nodes", "gpu_pods", "service_pods",
                                                        "toolservices")}
    namespaces = memo.get("namespaces")
    if namespaces is not None:
        # Reconciles read ToolServices and their children from the watches from here on.
        kube.read_from(ObjectCache(
            functools.partial(read_index, {kind: kwargs[index]
                                           for kind, index in CHILD_INDICES.items()}),
            CHILD_INDICES, functools.partial(watches, namespaces), SERVICE_LABEL))
    memo["node_facts"] = {}
    ROLLOUTS.count = lambda: rollout_phases(index_values(kwargs["toolservices"]))
    queue = WorkQueue(functools.partial(reconcile_toolservice, memo=memo),
                      workers=memo.settings.reconcile_workers)
    memo["queue"] = queue
    WORKQUEUE_DEPTH.set_function(queue.depth)
    peering: Peering | None = memo.peering
    memo["tasks"] = [
        asyncio.create_task(queue.run(), name="work-queue"),
        asyncio.create_task(resync(
            queue, lambda: [(b["metadata"]["namespace"], b["metadata"]["name"])
                            for b in index_values(memo.indices["toolservices"])],
            every=memo.settings.resync_seconds,
            active=None if peering is None else functools.partial(may_work, peering)),
            name="resync"),
    ]
    # Startup handlers finish before any watch starts; from here on we serve.
    memo["app"][READY_KEY]["ready"] = True


def read_index(indices: Mapping[str, Mapping[Any, Any]], key: ObjectKey
               ) -> Mapping[str, Any] | str | None:
    """The object a kopf index of `indices` (by kind) holds under (namespace, name), or None."""
    kind, namespace, name = key
    found = index_get(indices[kind], (namespace, name))
    return found[0] if found else None


def watches(patterns: Sequence[str], namespace: str) -> bool:
    """Whether kopf watches `namespace`, given the operator's namespace patterns (none: all)."""
    return not patterns or any(
        match_namespace(NamespaceName(namespace), p) for p in patterns)


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    """Stop the work queue, the resync and the HTTP server."""
    kube.read_from(None)
    for task in memo.get("tasks", []):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    runner = memo.get("runner")
    if runner is not None:
        await runner.cleanup()
