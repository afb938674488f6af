"""Who may call: keys in two roles, public readers from the widget's pages, and rate limits.

- Readers and API clients hold a key of `RAG_API_KEYS`; the publisher's staff one of `RAG_STAFF_KEYS` (the
  desk, research and reports, besides what readers may); operators one of `RAG_ADMIN_KEYS` (everything:
  admin endpoints, and `/metrics` once keys are set). A key below the role an endpoint needs is a 403,
  no key a 401.
- The widget holds no secret: with keys set, a request whose `Origin` is one of `RAG_CORS_ORIGINS` is
  admitted as a public reader, to what the widget uses only (ask, search, feedback), at its own lower
  rate per client address. Any program can send that header: it proves nothing (docs/security.md).
- Keys are compared in constant time and counted in buckets by a hash of the whole key; a failed
  key counts against the client address's limit, so guessing is throttled like anything else."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from fastapi import Request

Role = Literal["admin", "staff", "reader", "public", "open"]


class Unauthorized(Exception):
    pass


class Forbidden(Exception):
    pass


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limit reached; retry after {retry_after} s")
        self.retry_after = retry_after


# What the widget calls; a keyless page visitor reaches nothing else.
PUBLIC_PATHS = frozenset({"/v1/ask", "/v1/search", "/v1/feedback", "/v1/suggestions"})


@dataclass(frozen=True)
class Caller:
    bucket: str  # what the rate limit counts: a key's hash, or a client address
    role: Role


def address(request: Request) -> str:
    """The client address; behind a proxy, uvicorn's --forwarded-allow-ips makes it the real client's."""
    return request.client.host if request.client else "unknown"


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "replace")).digest()


class Keys:
    def __init__(
        self, readers: Iterable[str], admins: Iterable[str], origins: Iterable[str], staff: Iterable[str] = ()
    ) -> None:
        self._readers = [_digest(k) for k in readers]
        self._staff = [_digest(k) for k in staff]
        self._admins = [_digest(k) for k in admins]
        self._origins = frozenset(origins)
        self.required = bool(self._readers or self._admins or self._staff)
        self.admin_configured = bool(self._admins)
        self.desk_configured = bool(self._admins or self._staff)

    @staticmethod
    def supplied(request: Request) -> str:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return request.headers.get("x-api-key", "")

    def _role_of(self, d: bytes) -> Role | None:
        # compare against every key (a list, not a generator: any() must not stop at the first match), so
        # the time taken says nothing about which key, if any, matched
        admin = any([hmac.compare_digest(d, k) for k in self._admins])
        staff = any([hmac.compare_digest(d, k) for k in self._staff])
        reader = any([hmac.compare_digest(d, k) for k in self._readers])
        return "admin" if admin else "staff" if staff else "reader" if reader else None

    def identify(self, request: Request) -> Caller:
        """Who is calling; raises `Unauthorized` for a wrong key, or no key where one is needed."""
        if not self.required:  # an open service: a key sent anyway (OpenAI clients always send one) is ignored
            return Caller(f"ip:{address(request)}", "open")
        key = self.supplied(request)
        if key:
            digest = _digest(key)
            role = self._role_of(digest)
            if role is None:
                raise Unauthorized("unknown API key: send a key of RAG_API_KEYS as Authorization: Bearer KEY")
            return Caller("key:" + digest.hex()[:32], role)
        if request.headers.get("origin", "") in self._origins:
            return Caller(f"ip:{address(request)}", "public")  # the widget on one of the blog's pages
        raise Unauthorized("an API key is required: send Authorization: Bearer KEY or X-API-Key: KEY")

    def require_staff(self, request: Request) -> Caller:
        """The desk and its data: a staff or operator key, always (the desk is never open)."""
        return self._require(
            request, ("staff", "admin"), self.desk_configured,
            off="the desk is off: set RAG_STAFF_KEYS (or RAG_ADMIN_KEYS) to enable it",
            missing="a staff key (RAG_STAFF_KEYS) is required",
            below="this key may not use the desk: use a staff key (RAG_STAFF_KEYS)",
        )  # fmt: skip

    def require_admin(self, request: Request) -> Caller:
        """Admin endpoints: an operator key."""
        return self._require(
            request, ("admin",), self.admin_configured,
            off="admin endpoints are off: set RAG_ADMIN_KEYS to enable them",
            missing="an operator key (RAG_ADMIN_KEYS) is required",
            below="this key may not call admin endpoints: use an operator key (RAG_ADMIN_KEYS)",
        )  # fmt: skip

    def _require(
        self, request: Request, roles: tuple[str, ...], configured: bool, off: str, missing: str, below: str
    ) -> Caller:
        """A key of one of `roles`: a 403 while no such key is configured, a 401 without a key (or with an
        unknown one), a 403 for a key of a lower role."""
        if not configured:
            raise Forbidden(off)
        if not self.supplied(request):
            raise Unauthorized(missing)
        caller = self.identify(request)
        if caller.role not in roles:
            raise Forbidden(below)
        return caller


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token bucket per caller: `per_minute` requests a minute, with bursts up to the same number.

    The table keeps the `max_callers` most recently seen callers (least recently seen forgotten first),
    so rotating client addresses cannot grow it, and each request costs O(1)."""

    def __init__(self, per_minute: int, max_callers: int = 50_000) -> None:
        self.per_minute = per_minute
        self.max_callers = max_callers
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def check(self, who: str) -> None:
        if self.per_minute <= 0:
            return
        rate = self.per_minute / 60.0
        now = time.monotonic()
        with self._lock:
            b = self._buckets.get(who)
            if b is None:
                b = self._buckets[who] = _Bucket(float(self.per_minute), now)
                if len(self._buckets) > self.max_callers:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(who)
            b.tokens = min(float(self.per_minute), b.tokens + (now - b.updated) * rate)
            b.updated = now
            if b.tokens < 1.0:
                raise RateLimited(max(1, round((1.0 - b.tokens) / rate)))
            b.tokens -= 1.0
