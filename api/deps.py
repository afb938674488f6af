"""What every router shares: the app's services, the caller admitted by key and rate limit (as a
reader, staff or operator), and the loaded engine. FastAPI dependencies, so an endpoint names what it
needs in its signature."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

from api.errors import IndexUnavailable
from api.security import PUBLIC_PATHS, Caller, Unauthorized, address
from api.services import Services
from rag.retrieval.engine import Engine

STATIC = Path(__file__).with_name("static")


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def _identified(svc: Services, request: Request, identify: Callable[[Request], Caller]) -> Caller:
    try:
        return identify(request)
    except Unauthorized:
        svc.limiter.check(f"ip:{address(request)}")  # a guessed key costs the guesser's address a request
        raise


def guard(request: Request) -> Services:
    """A reader (a key of any role, or the widget on one of the blog's pages) within the rate limits."""
    svc = services(request)
    who = _identified(svc, request, svc.keys.identify)
    if who.role == "public":
        svc.public_limiter.check(who.bucket)
        if request.url.path not in PUBLIC_PATHS:
            raise Unauthorized("this endpoint needs an API key: a page of the blog may only ask, search and rate")
    else:
        svc.limiter.check(who.bucket)
    request.state.caller = who.bucket  # the queue and the model's gate share their places fairly by it
    return svc


def caller(request: Request) -> str:
    """Whom `guard` admitted: the queue and the model's gate share their places fairly by it."""
    return str(getattr(request.state, "caller", ""))


def operator(request: Request) -> Services:
    """An operator key (RAG_ADMIN_KEYS)."""
    svc = services(request)
    _identified(svc, request, svc.keys.require_admin)
    return svc


def staff(request: Request) -> Services:
    """A staff or operator key (the desk), within the rate limit."""
    svc = services(request)
    svc.limiter.check(_identified(svc, request, svc.keys.require_staff).bucket)
    return svc


Guarded = Annotated[Services, Depends(guard)]
Operator = Annotated[Services, Depends(operator)]
Staff = Annotated[Services, Depends(staff)]


def loaded_engine(svc: Services) -> Engine:
    """The engine, or a 503 before any work starts when no index is loaded yet."""
    if svc.engine is None:  # the reason, with its paths, is for the operator: the log and /readyz with a key
        raise IndexUnavailable("the index is not loaded yet: an operator must run rag ingest; try again later")
    return svc.engine
