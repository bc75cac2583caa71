"""The request guard: an ASGI middleware that refuses before the app reads a byte of the body.

- Admin requests (``/admin/...``, ``POST /documents``) must carry the admin token: checked on the
  headers, so an anonymous 150 MB upload is refused without being read.
- A body over its limit is refused at once when ``Content-Length`` says so, and otherwise the
  moment the streamed bytes pass the limit (413); the app then sees a disconnect and stops, and
  the handlers' clean-up removes what was partly saved.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from api.http.auth import check_token
from api.http.errors import error_response
from api.settings import Settings
from api.uploads import too_large
from search.errors import SchuttingError, TooLarge

Message = MutableMapping[str, Any]
FORM_OVERHEAD = 1024 * 1024  # multipart headers and small fields around a file
SMALL_BODY = 1024 * 1024  # JSON bodies and forms without files
MAX_FILES = 200  # files per admin ingest request


def needs_admin(method: str, path: str) -> bool:
    return path.startswith("/admin/") or (method == "POST" and path.rstrip("/") == "/documents")


def body_limit(method: str, path: str, settings: Settings) -> int:
    """The most bytes a request to ``path`` may send."""
    if method == "POST" and path.rstrip("/") == "/admin/ingest":
        return MAX_FILES * settings.max_upload_bytes + FORM_OVERHEAD
    if method == "POST" and path.rstrip("/") in ("/documents", "/similar", "/vergelijkbaar"):
        return settings.max_upload_bytes + FORM_OVERHEAD
    return SMALL_BODY


class RequestGuard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        limit = body_limit(method, path, self.settings)
        try:
            if needs_admin(method, path):
                check_token(self.settings.admin_token, headers.get("authorization"))
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise _too_large(int(declared), limit, self.settings.max_upload_bytes)
        except SchuttingError as exc:
            await error_response(exc)(scope, receive, send)
            return
        counting = _Counting(receive, send, scope, limit, self.settings.max_upload_bytes)
        await self.app(scope, counting, _Muted(send, scope))


class _Counting:
    """``receive`` that counts body bytes; past the limit it answers 413 and reports a disconnect."""

    def __init__(self, receive: Receive, send: Send, scope: Scope, limit: int, per_file: int) -> None:
        self.receive, self.send, self.scope, self.limit, self.per_file = receive, send, scope, limit, per_file
        self.received = 0

    async def __call__(self) -> Message:
        if self.scope.get("schutting.refused"):
            return {"type": "http.disconnect"}
        message = await self.receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                self.scope["schutting.refused"] = True
                if not self.scope.get("schutting.started"):
                    refusal = _too_large(self.received, self.limit, self.per_file)
                    await error_response(refusal)(self.scope, _nothing, self.send)
                return {"type": "http.disconnect"}
        return message


class _Muted:
    """``send`` that drops the app's answer once the guard has answered 413 itself."""

    def __init__(self, send: Send, scope: Scope) -> None:
        self.send, self.scope = send, scope

    async def __call__(self, message: Message) -> None:
        if self.scope.get("schutting.refused"):
            return
        if message["type"] == "http.response.start":
            self.scope["schutting.started"] = True
        await self.send(message)


async def _nothing() -> Message:
    return {"type": "http.disconnect"}


def _too_large(size: int, limit: int, per_file: int) -> TooLarge:
    error = too_large(f"request body of {size:,}+ bytes (limit {limit:,})", per_file)
    return error
