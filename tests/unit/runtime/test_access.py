"""Catalog access by RBAC (operator/toolfleet/runtime/access.py): the review attributes
of each catalog name, and the reviews' caches."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import pytest
import urllib3
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.runtime.access_fakes import ALICE, FakeReviews

from toolfleet.runtime import kube
from toolfleet.runtime.access import (
    AccessReviewer,
    CatalogAttributes,
    KubeReviews,
    User,
    bearer_token,
    catalog_attributes,
)

T = TypeVar("T")
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(work: Callable[[], Awaitable[T]]) -> T:
    return anyio.run(work)


def test_a_namespaced_catalog_is_reviewed_as_its_toolcatalog_in_its_namespace() -> None:
    attributes = catalog_attributes("team-a.search")
    assert attributes == CatalogAttributes(name="search", namespace="team-a")
    assert attributes.to_spec() == {"group": "toolfleet.io", "resource": "toolcatalogs",
                                    "verb": "call", "name": "search", "namespace": "team-a"}
    assert attributes.can_i("system:serviceaccount:team-a:router") == (
        "kubectl auth can-i call toolcatalogs.toolfleet.io/search -n team-a "
        "--as system:serviceaccount:team-a:router")


def test_the_default_catalog_is_reviewed_cluster_scoped() -> None:
    attributes = catalog_attributes("default")
    assert attributes == CatalogAttributes(name="default", namespace=None)
    assert attributes.to_spec() == {"group": "toolfleet.io", "resource": "toolcatalogs",
                                    "verb": "call", "name": "default"}
    assert " -A " in attributes.can_i("someone")


def test_a_toolcatalog_name_may_hold_dots_the_namespace_may_not() -> None:
    assert catalog_attributes("team-a.v1.search") == CatalogAttributes("v1.search", "team-a")


def test_names_no_catalog_can_have_map_to_nothing() -> None:
    for name in ("", "search", "Team-a.search", ".search", "team-a.", "team-a..search",
                 "team-a.-search", "a" * 64 + ".search", "team-a." + "a" * 254,
                 "team-a/search", "default.", " default"):
        assert catalog_attributes(name) is None, name


_LABEL = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True)


@given(_LABEL, st.lists(_LABEL, min_size=1, max_size=3))
def test_every_namespaced_catalog_name_maps_back_to_itself(namespace: str,
                                                          parts: list[str]) -> None:
    name = ".".join(parts)
    attributes = catalog_attributes(f"{namespace}.{name}")
    assert attributes == CatalogAttributes(name=name, namespace=namespace)


def test_the_bearer_token_is_read_from_the_authorization_header() -> None:
    assert bearer_token("Bearer abc.def-ghi") == "abc.def-ghi"
    assert bearer_token("bearer   abc ") == "abc"
    for header in (None, "", "Bearer", "Bearer ", "Basic YWxhZGRpbjpvcGVu", "Bearer a b",
                   "abc"):
        assert bearer_token(header) is None, header


def test_no_token_is_401_asking_for_a_bearer_token() -> None:
    reviews = FakeReviews()
    verdict = run(lambda: AccessReviewer(reviews).review(None, "team-a.search"))
    assert verdict.status == 401
    assert verdict.headers["WWW-Authenticate"].startswith("Bearer")
    assert "kubectl create token" in verdict.hint
    assert reviews.token_reviews == []


def test_a_token_the_api_server_rejects_is_401() -> None:
    verdict = run(lambda: AccessReviewer(FakeReviews()).review("Bearer forged",
                                                                "team-a.search"))
    assert verdict.status == 401
    assert 'error="invalid_token"' in verdict.headers["WWW-Authenticate"]


def test_a_granted_caller_is_served_as_its_username() -> None:
    verdict = run(lambda: AccessReviewer(FakeReviews()).review("Bearer alice-token",
                                                                "team-a.search"))
    assert verdict.allowed
    assert verdict.consumer == ALICE.username


def test_a_caller_without_the_grant_is_403_with_the_grant_and_the_check_to_run() -> None:
    verdict = run(lambda: AccessReviewer(FakeReviews()).review("Bearer alice-token",
                                                                "team-b.search"))
    assert verdict.status == 403
    assert verdict.error == f"{ALICE.username} may not call catalog 'team-b.search'"
    assert "a Role in namespace 'team-b'" in verdict.hint
    assert ("kubectl auth can-i call toolcatalogs.toolfleet.io/search -n team-b "
            f"--as {ALICE.username}") in verdict.hint


def test_a_name_no_catalog_can_have_is_403_without_a_review() -> None:
    reviews = FakeReviews()
    verdict = run(lambda: AccessReviewer(reviews).review("Bearer alice-token", "search"))
    assert verdict.status == 403
    assert reviews.access_reviews == []


def test_an_api_server_that_does_not_answer_is_503_never_a_pass() -> None:
    reviews = FakeReviews()
    reviews.unavailable = True
    verdict = run(lambda: AccessReviewer(reviews).review("Bearer alice-token",
                                                         "team-a.search"))
    assert verdict.status == 503
    assert verdict.headers["Retry-After"] == "2"


def test_answers_are_reused_for_the_cache_time_then_asked_again() -> None:
    reviews, clock = FakeReviews(), Clock()
    reviewer = AccessReviewer(reviews, ttl_seconds=10, clock=clock)

    async def ask() -> int:
        return (await reviewer.review("Bearer alice-token", "team-a.search")).status

    assert [run(ask) for _ in range(3)] == [200, 200, 200]
    assert (len(reviews.token_reviews), len(reviews.access_reviews)) == (1, 1)
    clock.now += 10.5
    assert run(ask) == 200
    assert (len(reviews.token_reviews), len(reviews.access_reviews)) == (2, 2)


def test_a_rejected_token_and_a_denial_are_cached_too() -> None:
    reviews = FakeReviews()
    reviewer = AccessReviewer(reviews, ttl_seconds=10)
    for _ in range(2):
        assert run(lambda: reviewer.review("Bearer forged", "team-a.search")).status == 401
        assert run(lambda: reviewer.review("Bearer alice-token", "team-b.x")).status == 403
    assert reviews.token_reviews == ["forged", "alice-token"]
    assert len(reviews.access_reviews) == 1


def test_the_cache_keeps_a_hash_of_the_token_never_the_token() -> None:
    reviewer = AccessReviewer(FakeReviews(), ttl_seconds=10)
    run(lambda: reviewer.review("Bearer alice-token", "team-a.search"))
    assert hashlib.sha256(b"alice-token").hexdigest() in reviewer.tokens
    assert "alice-token" not in repr(vars(reviewer.tokens))
    assert "alice-token" not in repr(vars(reviewer.access))


def test_a_cache_time_of_zero_reviews_every_request() -> None:
    reviews = FakeReviews()
    reviewer = AccessReviewer(reviews, ttl_seconds=0)
    for _ in range(2):
        run(lambda: reviewer.review("Bearer alice-token", "team-a.search"))
    assert len(reviews.token_reviews) == 2
    assert len(reviewer.tokens) == 0


def test_the_caches_hold_at_most_their_bound_dropping_the_least_recently_used() -> None:
    users = {f"token-{i}": User(f"user-{i}") for i in range(3)}
    reviews = FakeReviews(users=users)
    reviewer = AccessReviewer(reviews, ttl_seconds=60, max_entries=2)

    async def authenticate(token: str) -> None:
        await reviewer.authenticate(f"Bearer {token}")

    for token in ("token-0", "token-1", "token-0", "token-2"):
        anyio.run(authenticate, token)
    assert len(reviewer.tokens) == 2
    anyio.run(authenticate, "token-0")  # used recently: kept
    anyio.run(authenticate, "token-1")  # least recently used: dropped, reviewed again
    assert reviews.token_reviews == ["token-0", "token-1", "token-2", "token-1"]


def test_concurrent_requests_with_one_token_share_one_review() -> None:
    reviews = FakeReviews()
    reviewer = AccessReviewer(reviews, ttl_seconds=10)
    statuses: list[int] = []

    async def main() -> None:
        reviews.gate = anyio.Event()

        async def ask() -> None:
            statuses.append((await reviewer.review("Bearer alice-token",
                                                   "team-a.search")).status)

        async with anyio.create_task_group() as tasks:
            for _ in range(20):
                tasks.start_soon(ask)
            await anyio.wait_all_tasks_blocked()
            reviews.gate.set()

    anyio.run(main)
    assert statuses == [200] * 20
    assert (len(reviews.token_reviews), len(reviews.access_reviews)) == (1, 1)


def test_requests_waiting_on_a_review_that_got_no_answer_all_get_503_and_none_is_kept() -> None:
    reviews = FakeReviews()
    reviewer = AccessReviewer(reviews, ttl_seconds=10)
    statuses: list[int] = []

    async def main() -> None:
        reviews.gate = anyio.Event()
        reviews.unavailable = True

        async def ask() -> None:
            statuses.append((await reviewer.authenticate("Bearer alice-token")).status)

        async with anyio.create_task_group() as tasks:
            for _ in range(5):
                tasks.start_soon(ask)
            await anyio.wait_all_tasks_blocked()
            reviews.gate.set()

    anyio.run(main)
    assert statuses == [503] * 5
    assert len(reviews.token_reviews) == 1
    reviews.unavailable, reviews.gate = False, None
    assert run(lambda: reviewer.authenticate("Bearer alice-token")).status == 200


def test_a_review_whose_asker_left_is_asked_again_by_the_one_still_waiting() -> None:
    reviews = FakeReviews()
    reviewer = AccessReviewer(reviews, ttl_seconds=10)
    statuses: list[int] = []

    async def main() -> None:
        reviews.gate = anyio.Event()
        leaver = anyio.CancelScope()

        async def leave_early() -> None:
            with leaver:
                await reviewer.authenticate("Bearer alice-token")

        async def ask() -> None:
            statuses.append((await reviewer.authenticate("Bearer alice-token")).status)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(leave_early)
            await anyio.wait_all_tasks_blocked()
            tasks.start_soon(ask)
            await anyio.wait_all_tasks_blocked()
            leaver.cancel()
            await anyio.wait_all_tasks_blocked()
            reviews.gate.set()

    anyio.run(main)
    assert statuses == [200]
    assert len(reviews.token_reviews) == 2


def test_kube_reviews_ask_the_api_server_about_the_user_and_the_catalog(
        monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[Any] = []

    def token_review(token: str) -> dict[str, Any]:
        sent.append(token)
        return {"status": {"authenticated": True, "user": {
            "username": ALICE.username, "uid": "u-1", "groups": list(ALICE.groups),
            "extra": {"authentication.kubernetes.io/pod-name": ["router-0"]}}}}

    def access_review(spec: dict[str, Any]) -> dict[str, Any]:
        sent.append(spec)
        return {"status": {"allowed": True, "reason": "RBAC: allowed by RoleBinding"}}

    monkeypatch.setattr(kube, "create_token_review", token_review)
    monkeypatch.setattr(kube, "create_subject_access_review", access_review)
    verdict = run(lambda: AccessReviewer(KubeReviews()).review("Bearer t0ken",
                                                               "team-a.search"))
    assert verdict.allowed and verdict.consumer == ALICE.username
    assert sent == ["t0ken", {
        "user": ALICE.username, "uid": "u-1", "groups": list(ALICE.groups),
        "extra": {"authentication.kubernetes.io/pod-name": ["router-0"]},
        "resourceAttributes": {"group": "toolfleet.io", "resource": "toolcatalogs",
                               "verb": "call", "name": "search", "namespace": "team-a"}}]


def test_kube_reviews_read_an_unauthenticated_token_as_rejected(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kube, "create_token_review", lambda token: {
        "status": {"authenticated": False, "error": "invalid bearer token"}})
    assert run(lambda: AccessReviewer(KubeReviews()).authenticate("Bearer x")).status == 401


def test_kube_reviews_that_fail_are_no_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(token: str) -> dict[str, Any]:
        raise kube.ApiError(0, "cannot reach the API server: MaxRetryError")

    monkeypatch.setattr(kube, "create_token_review", unreachable)
    assert run(lambda: AccessReviewer(KubeReviews()).authenticate("Bearer x")).status == 503


def test_an_unreachable_api_server_is_an_api_error_of_status_0(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: Any, **kwargs: Any) -> Any:
        raise urllib3.exceptions.MaxRetryError(None, "/", "connection refused")  # type: ignore[arg-type]

    monkeypatch.setattr(kube, "_call", refused)
    with pytest.raises(kube.ApiError) as raised:
        kube.create_token_review("s3cret-token")
    assert raised.value.status == 0
    assert str(raised.value) == "cannot reach the API server: MaxRetryError"
