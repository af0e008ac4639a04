"""Who may read and call which catalog: Kubernetes RBAC, asked as kube-rbac-proxy asks it.

A caller sends `Authorization: Bearer <token>`: a ServiceAccount token, or any
token the API server accepts. A TokenReview authenticates it; a
SubjectAccessReview of the user it names then decides, with these attributes:

    catalog `<namespace>.<toolcatalog>`:
        group toolfleet.io, resource toolcatalogs, verb call,
        name <toolcatalog>, namespace <namespace>
    the built-in catalog `default`:
        the same, name default, no namespace (cluster-scoped)

so that a Role + RoleBinding with `resourceNames: [<toolcatalog>]` grants one
namespaced catalog, a ClusterRole + ClusterRoleBinding with
`resourceNames: [default]` grants `default`, and
`kubectl auth can-i call toolcatalogs.toolfleet.io/<toolcatalog> -n <namespace> --as <user>`
(`-A` for `default`) gives the same answer.

Both answers are cached for a short time, keyed by a SHA-256 of the token (the
token itself is never kept or logged) and by the user and attributes; each
cache is bounded, and one review per key is in flight at a time, however many
requests wait on it. A review the API server did not answer is never cached
and never read as an answer: the caller gets 503 with Retry-After.

This module knows no web framework: the gateway (Starlette) and the operator's
catalog endpoint (aiohttp) turn a `Verdict` into an answer in their protocol.
"""

from __future__ import annotations

import collections
import hashlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import anyio
import anyio.to_thread

from toolfleet.api import toolcatalog
from toolfleet.api.common import GROUP
from toolfleet.catalog.selection import DEFAULT_CATALOG_NAME
from toolfleet.runtime import kube

log = logging.getLogger(__name__)

API_GROUP = GROUP
RESOURCE = toolcatalog.PLURAL
VERB = "call"
# Who the audit log names when authorization is off.
ANONYMOUS = "anonymous"
# Entries each cache holds at most; past it the least recently used goes.
MAX_CACHE_ENTRIES = 10_000
DEFAULT_CACHE_SECONDS = 10.0
# What a caller is told to wait after a review the API server did not answer.
RETRY_AFTER_SECONDS = 2
# While the API server does not answer, every request fails its review: say so once a while.
_FAILURE_LOG_SECONDS = 10.0

# RFC 1123 label (a namespace) and subdomain (a ToolCatalog's name), as Kubernetes checks.
_LABEL = r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"
_NAMESPACED = re.compile(rf"({_LABEL})\.({_LABEL}(?:\.{_LABEL})*)")
_MAX_NAME_LENGTH = 253
_BEARER = re.compile(r"bearer[ \t]+(\S+)[ \t]*", re.IGNORECASE)
_CATALOG_NAMES = "'default' or '<namespace>.<toolcatalog>'"

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True)
class CatalogAttributes:
    """The resourceAttributes a catalog's SubjectAccessReview asks about."""

    name: str
    namespace: str | None

    def to_spec(self) -> dict[str, str]:
        """`spec.resourceAttributes` of a SubjectAccessReview (authorization.k8s.io/v1)."""
        spec = {"group": API_GROUP, "resource": RESOURCE, "verb": VERB, "name": self.name}
        if self.namespace is not None:
            spec["namespace"] = self.namespace
        return spec

    def can_i(self, username: str) -> str:
        """The `kubectl auth can-i` command that gives the same answer for `username`."""
        where = "-A" if self.namespace is None else f"-n {self.namespace}"
        return f"kubectl auth can-i {VERB} {RESOURCE}.{API_GROUP}/{self.name} {where} " \
               f"--as {username}"


def catalog_attributes(catalog: str) -> CatalogAttributes | None:
    """The review attributes of catalog `catalog`; None for a name no catalog can have
    (neither `default` nor `<namespace>.<toolcatalog>` with Kubernetes names)."""
    if catalog == DEFAULT_CATALOG_NAME:
        return CatalogAttributes(name=DEFAULT_CATALOG_NAME, namespace=None)
    match = _NAMESPACED.fullmatch(catalog)
    if match is None or len(match.group(2)) > _MAX_NAME_LENGTH:
        return None
    return CatalogAttributes(name=match.group(2), namespace=match.group(1))


@dataclass(frozen=True)
class User:
    """An authenticated user, as TokenReview `status.user` names it."""

    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def from_status(cls, user: Mapping[str, Any]) -> User:
        """From TokenReview `status.user` (username, uid, groups, extra)."""
        extra = user.get("extra") or {}
        return cls(username=str(user.get("username", "")), uid=str(user.get("uid", "")),
                   groups=tuple(str(g) for g in user.get("groups") or ()),
                   extra=tuple(sorted((str(k), tuple(str(v) for v in values or ()))
                                      for k, values in extra.items())))

    def to_spec(self) -> dict[str, Any]:
        """The user fields of a SubjectAccessReview spec."""
        spec: dict[str, Any] = {"user": self.username, "groups": list(self.groups)}
        if self.uid:
            spec["uid"] = self.uid
        if self.extra:
            spec["extra"] = {k: list(v) for k, v in self.extra}
        return spec


@dataclass(frozen=True)
class Authentication:
    """A TokenReview's answer: the user, or None when the token was not accepted."""

    user: User | None


@dataclass(frozen=True)
class Decision:
    """A SubjectAccessReview's answer."""

    allowed: bool
    reason: str = ""


class ReviewUnavailable(Exception):
    """The API server gave no answer to a review (unreachable, timed out, failed)."""


class Reviews(Protocol):
    """Whoever carries out the reviews: `KubeReviews`, or a fake in tests."""

    async def review_token(self, token: str) -> Authentication:
        """Authenticate a bearer token; raises ReviewUnavailable."""
        ...

    async def review_access(self, user: User, attributes: CatalogAttributes) -> Decision:
        """May `user` call the catalog of `attributes`; raises ReviewUnavailable."""
        ...


class KubeReviews:
    """TokenReview and SubjectAccessReview against the API server (runtime/kube.py), on a
    worker thread so the event loop keeps serving while the API server answers."""

    def __init__(self) -> None:
        self._last_failure_logged = -_FAILURE_LOG_SECONDS

    async def review_token(self, token: str) -> Authentication:
        """POST a TokenReview; raises ReviewUnavailable when it gets no answer."""
        answered = await self._create(kube.create_token_review, token, "TokenReview")
        status = answered.get("status") or {}
        if status.get("authenticated") is True and (status.get("user") or {}).get("username"):
            return Authentication(User.from_status(status["user"]))
        return Authentication(None)

    async def review_access(self, user: User, attributes: CatalogAttributes) -> Decision:
        """POST a SubjectAccessReview; raises ReviewUnavailable when it gets no answer."""
        spec = {**user.to_spec(), "resourceAttributes": attributes.to_spec()}
        answered = await self._create(kube.create_subject_access_review, spec,
                                      "SubjectAccessReview")
        status = answered.get("status") or {}
        return Decision(allowed=status.get("allowed") is True,
                        reason=str(status.get("reason") or ""))

    async def _create(self, create: Callable[[Any], dict[str, Any]], argument: Any,
                      kind: str) -> dict[str, Any]:
        try:
            return await anyio.to_thread.run_sync(create, argument)
        except kube.ApiError as error:
            now = time.monotonic()
            if now - self._last_failure_logged >= _FAILURE_LOG_SECONDS:
                self._last_failure_logged = now
                hint = " (grant this component `create` on it)" if error.status == 403 else ""
                log.warning("%s got no answer, callers get 503 meanwhile: %s %s%s", kind,
                            error.status or "", error, hint)
            raise ReviewUnavailable(f"{kind} got no answer from the API server") from None


@dataclass
class _Flight(Generic[V]):
    done: anyio.Event = field(default_factory=anyio.Event)
    # (the answer,) once loaded; the message of ReviewUnavailable when it failed so.
    answer: tuple[V] | None = None
    unavailable: str | None = None


class ReviewCache(Generic[K, V]):
    """Answers kept for `ttl_seconds`, at most `max_entries` (least recently used go
    first), with one load in flight per key: concurrent askers wait for its answer.

    ReviewUnavailable is never kept: every waiter of that load gets it, and the
    next ask loads again.
    """

    def __init__(self, ttl_seconds: float, max_entries: int = MAX_CACHE_ENTRIES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.clock = clock
        self._entries: collections.OrderedDict[K, tuple[float, V]] = collections.OrderedDict()
        self._flights: dict[K, _Flight[V]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The answer for `key`: kept, awaited from the load in flight, or loaded now."""
        while True:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > self.clock():
                self._entries.move_to_end(key)
                return entry[1]
            flight = self._flights.get(key)
            if flight is None:
                return await self._load(key, load)
            await flight.done.wait()
            if flight.answer is not None:
                return flight.answer[0]
            if flight.unavailable is not None:
                raise ReviewUnavailable(flight.unavailable)
            # The loading request was cancelled (its caller left): load again.

    async def _load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        flight: _Flight[V] = _Flight()
        self._flights[key] = flight
        try:
            value = await load()
        except ReviewUnavailable as error:
            flight.unavailable = str(error)
            raise
        else:
            flight.answer = (value,)
            self._keep(key, value)
            return value
        finally:
            del self._flights[key]
            flight.done.set()

    def _keep(self, key: K, value: V) -> None:
        if self.ttl_seconds <= 0:
            return
        self._entries[key] = (self.clock() + self.ttl_seconds, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


@dataclass(frozen=True)
class Verdict:
    """What to answer a request: `status` 200 (serve it, as `consumer`), or 401, 403 or
    503 with `error`, `hint` and `headers` (WWW-Authenticate, Retry-After)."""

    status: int
    consumer: str = ANONYMOUS
    user: User | None = None
    error: str = ""
    hint: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        """Serve the request."""
        return self.status == 200


OPEN = Verdict(200)

_MISSING_TOKEN = Verdict(
    401, error="no bearer token", headers={"WWW-Authenticate": 'Bearer realm="toolfleet"'},
    hint="send 'Authorization: Bearer <token>' with a ServiceAccount token "
         "(kubectl create token <serviceaccount> -n <namespace>) or any token the "
         "cluster's API server accepts")
_REJECTED_TOKEN = Verdict(
    401, error="the bearer token was not accepted",
    headers={"WWW-Authenticate": 'Bearer realm="toolfleet", error="invalid_token"'},
    hint="the API server did not authenticate it (expired, revoked, or meant for another "
         "audience); get a fresh one: kubectl create token <serviceaccount> -n <namespace>")
_UNAVAILABLE = Verdict(
    503, error="the caller's access could not be reviewed: the API server did not answer",
    headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    hint=f"retry after {RETRY_AFTER_SECONDS} seconds; a caller whose access cannot be "
         "reviewed is never served")


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (RFC 6750), or None."""
    if not authorization:
        return None
    match = _BEARER.fullmatch(authorization.strip())
    return match.group(1) if match else None


def token_key(token: str) -> str:
    """What the token cache is keyed by: a SHA-256 of the token, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


class AccessReviewer:
    """Decides, with cached reviews, whether a request may read and call a catalog."""

    def __init__(self, reviews: Reviews, *, ttl_seconds: float = DEFAULT_CACHE_SECONDS,
                 max_entries: int = MAX_CACHE_ENTRIES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.reviews = reviews
        self.tokens: ReviewCache[str, Authentication] = ReviewCache(ttl_seconds, max_entries,
                                                                    clock)
        self.access: ReviewCache[tuple[User, CatalogAttributes], Decision] = ReviewCache(
            ttl_seconds, max_entries, clock)

    async def authenticate(self, authorization: str | None) -> Verdict:
        """Who sent `authorization` (the header's value): 200 with the user, or 401/503."""
        token = bearer_token(authorization)
        if token is None:
            return _MISSING_TOKEN
        try:
            answer = await self.tokens.get(token_key(token),
                                           lambda: self.reviews.review_token(token))
        except ReviewUnavailable:
            return _UNAVAILABLE
        if answer.user is None:
            return _REJECTED_TOKEN
        return Verdict(200, consumer=answer.user.username, user=answer.user)

    async def authorize(self, caller: Verdict, catalog: str) -> Verdict:
        """May the authenticated `caller` read and call `catalog`: `caller`, or 403/503."""
        if caller.user is None:
            return caller
        attributes = catalog_attributes(catalog)
        if attributes is None:
            return Verdict(403, error=f"{caller.consumer} may not call catalog "
                                      f"{catalog[:_MAX_NAME_LENGTH]!r}",
                           hint=f"catalog names are {_CATALOG_NAMES}; no other name can be "
                                "granted")
        user = caller.user
        try:
            decision = await self.access.get(
                (user, attributes), lambda: self.reviews.review_access(user, attributes))
        except ReviewUnavailable:
            return _UNAVAILABLE
        if decision.allowed:
            return caller
        return Verdict(403, error=f"{user.username} may not call catalog {catalog!r}",
                       hint=_grant_hint(attributes, user.username))

    async def review(self, authorization: str | None, catalog: str) -> Verdict:
        """authenticate, then authorize: 200 (serve as `consumer`), 401, 403 or 503."""
        caller = await self.authenticate(authorization)
        if not caller.allowed:
            return caller
        return await self.authorize(caller, catalog)


def _grant_hint(attributes: CatalogAttributes, username: str) -> str:
    if attributes.namespace is None:
        grant = (f"a ClusterRole with verb '{VERB}' on {RESOURCE}.{API_GROUP} "
                 f"resourceNames ['{attributes.name}'] and a ClusterRoleBinding")
    else:
        grant = (f"a Role in namespace '{attributes.namespace}' with verb '{VERB}' on "
                 f"{RESOURCE}.{API_GROUP} resourceNames ['{attributes.name}'] and a "
                 "RoleBinding")
    return f"{grant} to {username} grant it; check with: {attributes.can_i(username)}"


async def review_request(reviewer: AccessReviewer | None, authorization: str | None,
                         catalog: str) -> Verdict:
    """`reviewer.review`, or OPEN (anyone, as `anonymous`) when authorization is off."""
    if reviewer is None:
        return OPEN
    return await reviewer.review(authorization, catalog)
