"""A stand-in for the API server's TokenReview and SubjectAccessReview, for unit tests."""

from __future__ import annotations

import anyio

from toolfleet.runtime.access import (
    Authentication,
    CatalogAttributes,
    Decision,
    ReviewUnavailable,
    User,
)

ALICE = User("system:serviceaccount:team-a:router", uid="u-1",
             groups=("system:serviceaccounts", "system:serviceaccounts:team-a"))


class FakeReviews:
    """Reviews answered from tables, counted; `gate` holds every review until it is set."""

    def __init__(self, users: dict[str, User] | None = None,
                 grants: set[tuple[str, str | None, str]] | None = None) -> None:
        self.users = users if users is not None else {"alice-token": ALICE}
        self.grants = grants if grants is not None else {(ALICE.username, "team-a", "search")}
        self.token_reviews: list[str] = []
        self.access_reviews: list[tuple[str, CatalogAttributes]] = []
        self.unavailable = False
        self.gate: anyio.Event | None = None

    async def review_token(self, token: str) -> Authentication:
        self.token_reviews.append(token)
        await self._wait()
        return Authentication(self.users.get(token))

    async def review_access(self, user: User, attributes: CatalogAttributes) -> Decision:
        self.access_reviews.append((user.username, attributes))
        await self._wait()
        return Decision((user.username, attributes.namespace, attributes.name) in self.grants)

    async def _wait(self) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.unavailable:
            raise ReviewUnavailable("the API server did not answer")
