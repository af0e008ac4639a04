"""The only module that talks to the API server.

Children are written by server-side apply with one field manager. Every write
is counted in `toolfleet_api_writes_total`, so tests and dashboards can see that
a reconcile which changes nothing writes nothing.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from toolfleet.api.common import now_rfc3339
from toolfleet.jsonschema.canonical import canonical_hash
from toolfleet.metrics import API_WRITES
from toolfleet.resources.meta import APPLIED_HASH_ANNOTATION

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    """Where a kind lives in the REST API."""

    api_version: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: str | None, name: str | None = None,
             subresource: str | None = None) -> str:
        """The REST path of a collection, an object, or an object's subresource."""
        base = (f"/api/{self.api_version}" if "/" not in self.api_version
                else f"/apis/{self.api_version}")
        if self.namespaced and namespace is not None:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{name}"
        if subresource is not None:
            base += f"/{subresource}"
        return base


KINDS: dict[str, Kind] = {
    "ServiceAccount": Kind("v1", "serviceaccounts"),
    "Service": Kind("v1", "services"),
    "ConfigMap": Kind("v1", "configmaps"),
    "Event": Kind("v1", "events"),
    "Namespace": Kind("v1", "namespaces", namespaced=False),
    "Node": Kind("v1", "nodes", namespaced=False),
    "Deployment": Kind("apps/v1", "deployments"),
    "HorizontalPodAutoscaler": Kind("autoscaling/v2", "horizontalpodautoscalers"),
    "PodDisruptionBudget": Kind("policy/v1", "poddisruptionbudgets"),
    "NetworkPolicy": Kind("networking.k8s.io/v1", "networkpolicies"),
    "HTTPRoute": Kind("gateway.networking.k8s.io/v1", "httproutes"),
    "ToolService": Kind("toolfleet.io/v1alpha1", "toolservices"),
    "ToolCatalog": Kind("toolfleet.io/v1alpha1", "toolcatalogs"),
    "ClusterKopfPeering": Kind("kopf.dev/v1", "clusterkopfpeerings", namespaced=False),
    "KopfPeering": Kind("kopf.dev/v1", "kopfpeerings"),
}


class ApiError(Exception):
    """An API call failed; `permanent` when retrying the same request cannot help."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status

    @property
    def permanent(self) -> bool:
        """4xx other than conflicts and throttling are the request's fault."""
        return 400 <= self.status < 500 and self.status not in (409, 429)


_client_lock = threading.Lock()
_api_client: client.ApiClient | None = None


def api_client() -> client.ApiClient:
    """One shared client, configured in-cluster or from KUBECONFIG."""
    global _api_client
    with _client_lock:
        if _api_client is None:
            try:
                config.load_incluster_config()
            except config.ConfigException:
                # Read KUBECONFIG now: the client's default was fixed at import time.
                config.load_kube_config(config_file=os.environ.get("KUBECONFIG") or None)
            _api_client = client.ApiClient()
        return _api_client


def current_namespace() -> str:
    """The namespace of the kubeconfig's current context (or in-cluster), as kubectl uses."""
    in_cluster = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
    if in_cluster.exists():
        return in_cluster.read_text().strip()
    try:
        _, context = config.list_kube_config_contexts(
            config_file=os.environ.get("KUBECONFIG") or None)
    except (config.ConfigException, OSError):
        return "default"
    namespace: str = (context or {}).get("context", {}).get("namespace") or "default"
    return namespace


def _call(method: str, path: str, body: Any = None, query: list[tuple[str, str]] | None = None,
          content_type: str = "application/json") -> Any:
    api = api_client()
    headers = {"Content-Type": content_type, "Accept": "application/json"}
    try:
        _, url, headers, serialized, _ = api.param_serialize(
            method, path, query_params=query or [], header_params=headers, body=body,
            auth_settings=["BearerToken"])
        response = api.call_api(method, url, header_params=headers, body=serialized,
                                _request_timeout=30)
        data = response.read()
    except ApiException as exc:
        raise ApiError(exc.status or 0, _reason(exc.body, str(exc.reason))) from None
    if not 200 <= response.status < 300:
        raise ApiError(response.status, _reason(data, str(response.reason)))
    return json.loads(data) if data else None


def _reason(body: Any, fallback: str) -> str:
    try:
        return str(json.loads(body).get("message", fallback))
    except (TypeError, ValueError, AttributeError):
        return fallback


def get(kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
    """The object, or None when it does not exist."""
    try:
        found: dict[str, Any] = _call("GET", KINDS[kind].path(namespace, name))
        return found
    except ApiError as err:
        if err.status == 404:
            return None
        raise


def list_objects(kind: str, namespace: str | None = None,
                 label_selector: str | None = None) -> list[dict[str, Any]]:
    """Every object of the kind (in a namespace, or all namespaces), optionally selected."""
    query = [("labelSelector", label_selector)] if label_selector else []
    result = _call("GET", KINDS[kind].path(namespace), query=query)
    items: list[dict[str, Any]] = result.get("items", [])
    return items


def list_with_version(kind: str, label_selector: str | None = None
                      ) -> tuple[list[dict[str, Any]], str]:
    """Every object of the kind in all namespaces, and the list's resourceVersion to watch from."""
    query = [("labelSelector", label_selector)] if label_selector else []
    result = _call("GET", KINDS[kind].path(None), query=query)
    items: list[dict[str, Any]] = result.get("items", [])
    return items, str(result["metadata"].get("resourceVersion", ""))


def watch_objects(kind: str, resource_version: str, label_selector: str | None = None,
                  timeout_seconds: int = 300) -> Iterator[tuple[str, dict[str, Any]]]:
    """(type, object) events of the kind in all namespaces, from `resource_version`.

    Ends when the server closes the watch (after `timeout_seconds`); raises
    ApiError(410) when the version is too old, so the caller lists again.
    """
    query = [("watch", "true"), ("resourceVersion", resource_version),
             ("allowWatchBookmarks", "true"), ("timeoutSeconds", str(timeout_seconds))]
    if label_selector:
        query.append(("labelSelector", label_selector))
    api = api_client()
    _, url, headers, _, _ = api.param_serialize(
        "GET", KINDS[kind].path(None), query_params=query,
        header_params={"Accept": "application/json"}, auth_settings=["BearerToken"])
    try:
        response = api.call_api("GET", url, header_params=headers,
                                _request_timeout=(10, timeout_seconds + 30))
    except ApiException as exc:
        raise ApiError(exc.status or 0, _reason(exc.body, str(exc.reason))) from None
    if not 200 <= response.status < 300:
        raise ApiError(response.status, _reason(response.read(), str(response.reason)))
    buffer = b""
    for chunk in response.response.stream(65536, decode_content=True):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if not line.strip():
                continue
            event = json.loads(line)
            if event["type"] == "ERROR":
                status = event["object"]
                raise ApiError(int(status.get("code") or 0), str(status.get("message")))
            yield event["type"], event["object"]


def applied_hash(obj: Mapping[str, Any]) -> str:
    """A hash of the object as we want it, stored on it to recognise an unchanged apply."""
    return canonical_hash(obj, length=16, ensure_ascii=True)


def apply(obj: Mapping[str, Any], field_manager: str) -> dict[str, Any]:
    """Server-side apply the object, taking ownership of the fields it sets."""
    meta = obj["metadata"]
    path = KINDS[obj["kind"]].path(meta.get("namespace"), meta["name"])
    API_WRITES.labels(verb="apply", kind=obj["kind"], namespace=meta.get("namespace", "")).inc()
    result: dict[str, Any] = _call(
        "PATCH", path, body=json.dumps(obj),
        query=[("fieldManager", field_manager), ("force", "true")],
        content_type="application/apply-patch+yaml")
    return result


def apply_if_changed(obj: Mapping[str, Any], field_manager: str) -> bool:
    """Apply unless the live object was last applied from identical input. True if written.

    Comparing a hash of our own input, not the live object, keeps defaults added
    by the server and fields owned by others (the autoscaler's replicas) out of
    the comparison, so a resync of an unchanged ToolService sends no write.
    """
    digest = applied_hash(obj)
    meta = obj["metadata"]
    live = get(obj["kind"], meta.get("namespace"), meta["name"])
    if live is not None:
        annotations = (live.get("metadata") or {}).get("annotations") or {}
        if annotations.get(APPLIED_HASH_ANNOTATION) == digest:
            return False
    stamped = {**obj, "metadata": {**meta, "annotations": {
        **(meta.get("annotations") or {}), APPLIED_HASH_ANNOTATION: digest}}}
    apply(stamped, field_manager)
    return True


def delete(kind: str, namespace: str | None, name: str) -> bool:
    """Delete the object (its dependents go in the background). False if it was gone."""
    API_WRITES.labels(verb="delete", kind=kind, namespace=namespace or "").inc()
    try:
        _call("DELETE", KINDS[kind].path(namespace, name),
              body={"propagationPolicy": "Background"})
    except ApiError as err:
        if err.status == 404:
            return False
        raise
    return True


def patch_status(kind: str, namespace: str | None, name: str,
                 status: Mapping[str, Any]) -> dict[str, Any]:
    """Replace the fields of .status given (null removes one) through the status subresource."""
    API_WRITES.labels(verb="patch_status", kind=kind, namespace=namespace or "").inc()
    result: dict[str, Any] = _call(
        "PATCH", KINDS[kind].path(namespace, name, "status"), body={"status": dict(status)},
        content_type="application/merge-patch+json")
    return result


def patch_metadata(kind: str, namespace: str | None, name: str,
                   annotations: Mapping[str, str | None]) -> dict[str, Any]:
    """Set (or, with None, remove) annotations of an object."""
    API_WRITES.labels(verb="patch", kind=kind, namespace=namespace or "").inc()
    result: dict[str, Any] = _call(
        "PATCH", KINDS[kind].path(namespace, name),
        body={"metadata": {"annotations": dict(annotations)}},
        content_type="application/merge-patch+json")
    return result


def emit_event(involved: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
    """Record a core/v1 Event on an object, as `kubectl describe` shows them.

    Events are best-effort: failing to record one must not fail a reconcile.
    """
    meta = involved["metadata"]
    now = now_rfc3339()
    event = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
        "involvedObject": {"apiVersion": involved["apiVersion"], "kind": involved["kind"],
                           "name": meta["name"], "namespace": meta["namespace"],
                           "uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")},
        "type": type_, "reason": reason, "message": message[:1024],
        "firstTimestamp": now, "lastTimestamp": now, "count": 1,
        "source": {"component": "toolfleet"},
        "reportingComponent": "toolfleet", "reportingInstance": socket.gethostname(),
    }
    API_WRITES.labels(verb="create", kind="Event", namespace=meta["namespace"]).inc()
    try:
        _call("POST", KINDS["Event"].path(meta["namespace"]), body=event)
    except ApiError as err:
        log.warning("could not record event %s on %s/%s: %s", reason, meta["namespace"],
                    meta["name"], err)
