"""Size limits of ``splicescore serve``: request targets and bodies refused before the application sees them."""

from __future__ import annotations

import json

#: longest request target (path + query) and body accepted
MAX_URL = 4096
MAX_BODY = 16 * 1024


class BodyTooLarge(Exception):
    pass


class SizeLimits:
    """ASGI wrapper: refuses a request target longer than :data:`MAX_URL` (414) or a declared body
    larger than :data:`MAX_BODY` (413) before the application sees it."""

    def __init__(self, app):
        self.app = app
        self.state = app.state

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            target = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b""))
            length = dict(scope.get("headers") or []).get(b"content-length", b"0")
            status, message = 0, ""
            if target > MAX_URL:
                status, message = 414, f"request URL longer than {MAX_URL} bytes"
            else:
                try:
                    if int(length) > MAX_BODY:
                        status, message = 413, f"request body larger than {MAX_BODY} bytes"
                except ValueError:
                    status, message = 400, "bad Content-Length"
            if status:
                body = json.dumps({"error": message}).encode()
                await send({"type": "http.response.start", "status": status,
                            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
