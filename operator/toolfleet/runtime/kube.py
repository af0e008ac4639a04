"""The only module that talks to the API server.

Children are written by server-side apply with one field manager. Every write
is counted in `toolfleet_api_writes_total`, so tests and dashboards can see that
a reconcile which changes nothing writes nothing, and every request, reads
included, in `toolfleet_api_requests_total` by verb, resource and answer.

In the operator, ToolServices and their children are read from the watches
(`read_from`, runtime/cache.py), as controller-runtime's client reads from its
informers: a reconcile sends its writes, and no GET.

Every request of the process takes a token from one shared bucket first
(`limit_requests`, TOOLFLEET_API_QPS and TOOLFLEET_API_BURST in the operator),
as client-go's clients do, so that a resync of a large fleet does not flood the
API server; the time spent waiting for one is in
`toolfleet_api_rate_limiter_duration_seconds`.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import socket
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from toolfleet.api.common import now_rfc3339
from toolfleet.jsonschema.canonical import canonical_hash
from toolfleet.metrics import API_REQUESTS, API_WRITES, EVENTS_DROPPED, RATE_LIMITER_DURATION
from toolfleet.resources.drift import drift
from toolfleet.resources.meta import APPLIED_HASH_ANNOTATION
from toolfleet.runtime.cache import ObjectCache
from toolfleet.runtime.ratelimit import TokenBucket

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
    "Pod": Kind("v1", "pods"),
    "Deployment": Kind("apps/v1", "deployments"),
    "HorizontalPodAutoscaler": Kind("autoscaling/v2", "horizontalpodautoscalers"),
    "PodDisruptionBudget": Kind("policy/v1", "poddisruptionbudgets"),
    "NetworkPolicy": Kind("networking.k8s.io/v1", "networkpolicies"),
    "EndpointSlice": Kind("discovery.k8s.io/v1", "endpointslices"),
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


class NoCredentials(Exception):
    """Neither an in-cluster ServiceAccount nor a kubeconfig to reach the API server with."""


def load_credentials() -> None:
    """Load the API server's address and credentials now rather than on the first call.

    Raises NoCredentials saying where they were looked for.
    """
    try:
        api_client()
    except (config.ConfigException, OSError) as error:
        raise NoCredentials(f"no Kubernetes credentials: not in a pod, and no usable "
                            f"kubeconfig (KUBECONFIG or ~/.kube/config): {error}") from None


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


# The bucket every request takes a token from; None: no limit (the default of a process
# that never calls `limit_requests`, such as the gateway or a CLI command). Events have a
# bucket of their own of the same size, as client-go's event recorder has (it is a client
# of its own): a fleet's Events must not take the tokens its reconciles wait for.
_limiter: TokenBucket | None = None
_event_limiter: TokenBucket | None = None


def limit_requests(qps: float, burst: int) -> None:
    """From now on, send at most `qps` requests a second on average and `burst` at once,
    from all threads together, and as many Events again; `qps` 0 lifts the limit.

    Raises ValueError for a negative `qps` or a `burst` below 1.
    """
    global _limiter, _event_limiter
    if qps < 0:
        raise ValueError(f"qps must be 0 (no limit) or more (got {qps})")
    _limiter = TokenBucket(qps, burst) if qps > 0 else None
    _event_limiter = TokenBucket(qps, burst) if qps > 0 else None


def _throttle(event: bool = False) -> None:
    limiter = _event_limiter if event else _limiter
    if limiter is not None:
        RATE_LIMITER_DURATION.observe(limiter.take())


def _call(method: str, path: str, body: Any = None, query: list[tuple[str, str]] | None = None,
          content_type: str = "application/json", timeout: float = 30, *,
          verb: str, resource: str, event: bool = False) -> Any:
    """One request; `verb` and `resource` (plural, `/status` for that subresource) label
    its count, as the API server's apiserver_request_total does. `event`: it takes its
    token from the Events' own bucket."""
    api = api_client()
    headers = {"Content-Type": content_type, "Accept": "application/json"}
    _throttle(event)
    code = 0  # no answer: the server could not be reached
    try:
        _, url, headers, serialized, _ = api.param_serialize(
            method, path, query_params=query or [], header_params=headers, body=body,
            auth_settings=["BearerToken"])
        response = api.call_api(method, url, header_params=headers, body=serialized,
                                _request_timeout=timeout)
        code = response.status
        data = response.read()
    except ApiException as exc:
        code = exc.status or 0
        raise ApiError(code, _reason(exc.body, str(exc.reason))) from None
    finally:
        API_REQUESTS.labels(verb=verb, resource=resource, code=str(code)).inc()
    if not 200 <= response.status < 300:
        raise ApiError(response.status, _reason(data, str(response.reason)))
    return json.loads(data) if data else None


def _reason(body: Any, fallback: str) -> str:
    try:
        return str(json.loads(body).get("message", fallback))
    except (TypeError, ValueError, AttributeError):
        return fallback


# Where ToolServices and their children are read from instead of the API server; None:
# every read is a GET (a CLI command, the gateway, an operator before its watches run).
_cache: ObjectCache | None = None


def read_from(cache: ObjectCache | None) -> None:
    """From now on, read what `cache` holds from it (and tell it of every write), or, with
    None, read everything from the API server again."""
    global _cache
    _cache = cache


def _noted(answer: dict[str, Any]) -> dict[str, Any]:
    if _cache is not None:
        _cache.wrote(answer)
    return answer


def get(kind: str, namespace: str | None, name: str,
        labels: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """The object, or None when it does not exist.

    A ToolService, or one of its children (`labels`, when known, say which), in a
    namespace the operator watches is read from the watches (`read_from`), not
    the API server.
    """
    cache = _cache
    if cache is not None and namespace is not None and cache.covers(kind, namespace, labels):
        return cache.get(kind, namespace, name)
    try:
        found: dict[str, Any] = _call("GET", KINDS[kind].path(namespace, name), verb="get",
                                      resource=KINDS[kind].plural)
        return found
    except ApiError as err:
        if err.status == 404:
            return None
        raise


def list_objects(kind: str, namespace: str | None = None,
                 label_selector: str | None = None) -> list[dict[str, Any]]:
    """Every object of the kind (in a namespace, or all namespaces), optionally selected."""
    query = [("labelSelector", label_selector)] if label_selector else []
    result = _call("GET", KINDS[kind].path(namespace), query=query, verb="list",
                   resource=KINDS[kind].plural)
    items: list[dict[str, Any]] = result.get("items", [])
    return items


def list_with_version(kind: str, label_selector: str | None = None
                      ) -> tuple[list[dict[str, Any]], str]:
    """Every object of the kind in all namespaces, and the list's resourceVersion to watch from."""
    query = [("labelSelector", label_selector)] if label_selector else []
    result = _call("GET", KINDS[kind].path(None), query=query, verb="list",
                   resource=KINDS[kind].plural)
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
    _throttle()
    code = 0
    try:
        response = api.call_api("GET", url, header_params=headers,
                                _request_timeout=(10, timeout_seconds + 30))
        code = response.status
    except ApiException as exc:
        code = exc.status or 0
        raise ApiError(code, _reason(exc.body, str(exc.reason))) from None
    finally:
        API_REQUESTS.labels(verb="watch", resource=KINDS[kind].plural, code=str(code)).inc()
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
        content_type="application/apply-patch+yaml", verb="apply",
        resource=KINDS[obj["kind"]].plural)
    return _noted(result)


def apply_if_changed(obj: Mapping[str, Any], field_manager: str) -> bool:
    """Apply unless the live object holds what we want. True if written.

    Two checks, both needed: the hash of our last input (stored on the object)
    notices a field we stopped setting, which server-side apply then removes;
    `resources.drift.drift` notices another writer's change to a field we set
    (`kubectl scale` of a canary, an edited selector). Neither looks at fields
    we do not set (server defaults, the autoscaler's replicas), so a resync of
    an unchanged ToolService over unchanged children sends no write.
    """
    digest = applied_hash(obj)
    meta = obj["metadata"]
    live = get(obj["kind"], meta.get("namespace"), meta["name"], meta.get("labels"))
    annotations = ((live or {}).get("metadata") or {}).get("annotations") or {}
    # A different hash is our own change, written whatever is live; only an unchanged
    # one needs the live fields compared, for another writer's change.
    if live is not None and annotations.get(APPLIED_HASH_ANNOTATION) == digest:
        drifted = drift(obj, live)
        if not drifted:
            return False
        log.info("%s %s/%s drifted from what was applied at %s: applying again",
                     obj["kind"], meta.get("namespace"), meta["name"], ", ".join(drifted[:5]))
    stamped = {**obj, "metadata": {**meta, "annotations": {
        **(meta.get("annotations") or {}), APPLIED_HASH_ANNOTATION: digest}}}
    apply(stamped, field_manager)
    return True


def scale(kind: str, namespace: str, name: str, replicas: int, field_manager: str) -> None:
    """Set spec.replicas of a scalable object (an update, as `kubectl scale` makes: the
    field is not taken into the manager's applied set, so the autoscaler keeps it)."""
    API_WRITES.labels(verb="patch", kind=kind, namespace=namespace).inc()
    _noted(_call("PATCH", KINDS[kind].path(namespace, name),
                 body={"spec": {"replicas": replicas}}, query=[("fieldManager", field_manager)],
                 content_type="application/merge-patch+json", verb="patch",
                 resource=KINDS[kind].plural))


def delete(kind: str, namespace: str | None, name: str) -> bool:
    """Delete the object (its dependents go in the background). False if it was gone."""
    API_WRITES.labels(verb="delete", kind=kind, namespace=namespace or "").inc()
    try:
        _call("DELETE", KINDS[kind].path(namespace, name),
              body={"propagationPolicy": "Background"}, verb="delete",
              resource=KINDS[kind].plural)
    except ApiError as err:
        if err.status == 404:
            _forget(kind, namespace, name)
            return False
        raise
    _forget(kind, namespace, name)
    return True


def _forget(kind: str, namespace: str | None, name: str) -> None:
    if _cache is not None and namespace is not None:
        _cache.deleted(kind, namespace, name)


def patch_status(kind: str, namespace: str | None, name: str,
                 status: Mapping[str, Any]) -> dict[str, Any]:
    """Replace the fields of .status given (null removes one) through the status subresource."""
    API_WRITES.labels(verb="patch_status", kind=kind, namespace=namespace or "").inc()
    result: dict[str, Any] = _call(
        "PATCH", KINDS[kind].path(namespace, name, "status"), body={"status": dict(status)},
        content_type="application/merge-patch+json", verb="patch",
        resource=f"{KINDS[kind].plural}/status")
    return _noted(result)


def patch_metadata(kind: str, namespace: str | None, name: str,
                   annotations: Mapping[str, str | None]) -> dict[str, Any]:
    """Set (or, with None, remove) annotations of an object."""
    API_WRITES.labels(verb="patch", kind=kind, namespace=namespace or "").inc()
    result: dict[str, Any] = _call(
        "PATCH", KINDS[kind].path(namespace, name),
        body={"metadata": {"annotations": dict(annotations)}},
        content_type="application/merge-patch+json", verb="patch",
        resource=KINDS[kind].plural)
    return _noted(result)


# Events this process recorded, by what makes two of them the same
# (namespace, object uid, type, reason, message): (Event name, count). As
# client-go's EventCorrelator does, a repeat raises the count of the first
# instead of adding an Event; a restart forgets, and starts a new one.
_recorded: dict[tuple[str, str, str, str, str], tuple[str, int]] = {}
_recorded_lock = threading.Lock()
_RECORDED_LIMIT = 4096


# Events waiting to be sent, oldest first, and the thread that sends them.
_EVENT_QUEUE_LIMIT = 4096
_events: queue.Queue[tuple[dict[str, Any], str, str, str, str]] = queue.Queue(_EVENT_QUEUE_LIMIT)
_sender_lock = threading.Lock()
_sender: threading.Thread | None = None


def emit_event(involved: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
    """Record a core/v1 Event on an object, as `kubectl describe` shows them; returns at once.

    Events are best-effort and never hold up a reconcile: a thread of their own
    sends them in order, under a rate limit of their own (client-go's recorder
    sends them in the background too, through a client of its own).
    Stamped with the time of the call; an Event the full queue (4096) cannot take
    is dropped and counted in `toolfleet_events_dropped_total`. See `record_event`
    for what is sent.
    """
    meta = involved["metadata"]
    # Only what the Event names: the queue must not keep whole objects alive.
    subject = {"apiVersion": involved["apiVersion"], "kind": involved["kind"],
               "metadata": {k: meta.get(k) for k in ("name", "namespace", "uid",
                                                     "resourceVersion")}}
    try:
        _events.put_nowait((subject, type_, reason, message, now_rfc3339()))
    except queue.Full:
        EVENTS_DROPPED.inc()
        return
    _start_sender()


def _start_sender() -> None:
    global _sender
    with _sender_lock:
        if _sender is None or not _sender.is_alive():
            _sender = threading.Thread(target=_send_events, name="events", daemon=True)
            _sender.start()


def _send_events() -> None:
    while True:
        involved, type_, reason, message, at = _events.get()
        try:
            record_event(involved, type_, reason, message, at)
        except Exception:
            # A bug or a broken connection must not stop the Events after it.
            log.exception("recording event %s failed", reason)


def record_event(involved: Mapping[str, Any], type_: str, reason: str, message: str,
                 at: str | None = None) -> None:
    """Send one Event now (`emit_event` queues them for this), stamped `at` (default: now).

    An Event identical to one recorded before (same object, type, reason and
    message) is counted on it (`count`, `lastTimestamp`) rather than written
    again. A failure is logged, never raised: it must not fail a reconcile.
    """
    meta = involved["metadata"]
    now = at or now_rfc3339()
    text = message[:1024]
    key = (meta["namespace"], str(meta.get("uid")), type_, reason, text)
    with _recorded_lock:
        seen = _recorded.get(key)
    try:
        if seen is not None and _count_again(meta["namespace"], seen, now):
            with _recorded_lock:
                _recorded[key] = (seen[0], seen[1] + 1)
            return
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {"apiVersion": involved["apiVersion"], "kind": involved["kind"],
                               "name": meta["name"], "namespace": meta["namespace"],
                               "uid": meta.get("uid"),
                               "resourceVersion": meta.get("resourceVersion")},
            "type": type_, "reason": reason, "message": text,
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "source": {"component": "toolfleet"},
            "reportingComponent": "toolfleet", "reportingInstance": socket.gethostname(),
        }
        API_WRITES.labels(verb="create", kind="Event", namespace=meta["namespace"]).inc()
        created = _call("POST", KINDS["Event"].path(meta["namespace"]), body=event,
                        verb="create", resource="events", event=True)
    except ApiError as err:
        log.warning("could not record event %s on %s/%s: %s", reason, meta["namespace"],
                    meta["name"], err)
        return
    with _recorded_lock:
        if len(_recorded) >= _RECORDED_LIMIT:
            _recorded.clear()
        _recorded[key] = (str(((created or {}).get("metadata") or {}).get("name")), 1)


def _count_again(namespace: str, seen: tuple[str, int], now: str) -> bool:
    """Raise the count of a recorded Event; False when it is gone (expired, deleted)."""
    API_WRITES.labels(verb="patch", kind="Event", namespace=namespace).inc()
    try:
        _call("PATCH", KINDS["Event"].path(namespace, seen[0]),
              body={"count": seen[1] + 1, "lastTimestamp": now},
              content_type="application/merge-patch+json", verb="patch", resource="events",
              event=True)
    except ApiError as err:
        if err.status == 404:
            return False
        raise
    return True


# The authentication and authorization APIs: each create answers at once in the
# object's status and stores nothing.
_TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
_SUBJECT_ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
# A review is on a caller's request path: it gets a few seconds, not the usual 30.
REVIEW_TIMEOUT_SECONDS = 5.0


def create_token_review(token: str) -> dict[str, Any]:
    """POST a TokenReview of a bearer token; the answered object (its `status` says
    `authenticated` and `user`: username, uid, groups, extra).

    Raises ApiError, status 0 when the API server cannot be reached.
    """
    return _review(_TOKEN_REVIEWS, {"apiVersion": "authentication.k8s.io/v1",
                                    "kind": "TokenReview", "spec": {"token": token}})


def create_subject_access_review(spec: Mapping[str, Any]) -> dict[str, Any]:
    """POST a SubjectAccessReview with `spec` (user, uid, groups, extra,
    resourceAttributes); the answered object (`status.allowed`, `status.reason`).

    Raises ApiError, status 0 when the API server cannot be reached.
    """
    return _review(_SUBJECT_ACCESS_REVIEWS, {"apiVersion": "authorization.k8s.io/v1",
                                             "kind": "SubjectAccessReview",
                                             "spec": dict(spec)})


def _review(path: str, body: Mapping[str, Any]) -> dict[str, Any]:
    try:
        answered: dict[str, Any] = _call("POST", path, body=dict(body),
                                         timeout=REVIEW_TIMEOUT_SECONDS, verb="create",
                                         resource=path.rsplit("/", 1)[1])
    except (urllib3.exceptions.HTTPError, OSError) as error:
        # Connection refused, reset or timed out: no answer, which a caller must not
        # read as a denial or an approval.
        raise ApiError(0, f"cannot reach the API server: {type(error).__name__}") from None
    return answered
