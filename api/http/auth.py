"""The admin token check: a FastAPI dependency, run before any request body is read."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Header, Request

from api.errors import AdminClosed, Forbidden
from search.errors import NotAuthorized


def require_admin(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    """The admin check as a route dependency (documented in OpenAPI; the request guard has already
    applied the same check before the body was read)."""
    check_token(request.app.state.settings.admin_token, authorization)


def check_token(token: str, authorization: str | None) -> None:
    """Bearer ``token`` required: 401 without a token, 403 with a wrong one or while none is
    configured. Compared in constant time."""
    if not token:
        raise AdminClosed("admin endpoints are closed: set SCHUTTING_ADMIN_TOKEN to open them")
    scheme, _, sent = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not sent.strip():
        raise NotAuthorized("admin endpoints need the header Authorization: Bearer <SCHUTTING_ADMIN_TOKEN>")
    if not hmac.compare_digest(sent.strip().encode(), token.encode()):
        raise Forbidden("wrong admin token")
