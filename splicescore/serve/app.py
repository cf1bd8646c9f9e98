"""The Starlette application of ``splicescore serve``: routes, error responses and the uvicorn runner."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import OrderedDict
from importlib import resources

from splicescore.api import Session, VariantError
from splicescore.errors import UsageError
from splicescore.serve.limits import MAX_BODY, MAX_URL, BodyTooLarge, SizeLimits
from splicescore.serve.params import (HG_NAMES, LOOKUP_DEFAULT_DISTANCE, MAX_DISTANCE, BadRequest, hg_param,
                                      int_param, models_param, read_params, short_text, variant_param)
from splicescore.serve.responses import lookup_response, score_response, tracks_response
from splicescore.serve.worker import Busy, Worker

log = logging.getLogger("splicescore.serve")

#: seconds a request waits for its result before a 504
REQUEST_TIMEOUT = 300.0


class ResponseMemo:
    """A small LRU of finished responses (the SQLite ``--cache`` keeps scores across restarts)."""

    def __init__(self, size: int = 2048):
        self.size = size
        self._d: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self._d:
                self._d.move_to_end(key)
                return self._d[key]
        return None

    def put(self, key, value) -> None:
        with self._lock:
            self._d[key] = value
            self._d.move_to_end(key)
            while len(self._d) > self.size:
                self._d.popitem(last=False)


def create_app(session: Session, hg: str = "38", queue_size: int = 256, start_worker: bool = True,
               timeout: float = REQUEST_TIMEOUT):
    """The Starlette application serving ``session`` as build ``hg``.

    ``app.state.worker`` is the :class:`Worker`; ``app.state.close()`` stops it (the session stays open).
    """
    try:
        from starlette.applications import Starlette
        from starlette.exceptions import HTTPException
        from starlette.requests import Request
        from starlette.responses import HTMLResponse, JSONResponse, Response
        from starlette.routing import Route
    except ImportError as exc:
        raise UsageError("splicescore serve needs the 'serve' extra: pip install 'splicescore[serve]'") from exc

    hg = HG_NAMES.get(str(hg).lower())
    if hg is None:
        raise UsageError("--hg: 37 or 38")
    worker = Worker(session, queue_size, start=start_worker)
    memo = ResponseMemo()
    page = resources.files("splicescore.serve").joinpath("page.html").read_text(encoding="utf-8")
    config = json.dumps({"models": list(session.models), "hg": hg,
                         "plot_models": [m for m in session.models if m in ("spliceai", "pangolin", "sptransformer")]})
    page = page.replace("/*SPLICESCORE_CONFIG*/null", config.replace("<", "\\u003c"))

    def error(message: str, status: int = 400, headers=None) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    async def wait(kind: str, variant: str, options: tuple):
        future = worker.submit(kind, variant, options)
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)

    async def lookup(request: Request, tool: str) -> Response:
        params = await read_params(request)
        if tool not in session.models:
            raise BadRequest(f"this server does not run {tool} (it runs {', '.join(session.models)})")
        variant = variant_param(params)
        served = hg_param(params, hg)
        distance = int_param(params, "distance", LOOKUP_DEFAULT_DISTANCE, 0, MAX_DISTANCE)
        mask = int_param(params, "mask", 0, 0, 1)
        bc = params.get("bc", "basic")
        if bc not in ("basic", "comprehensive"):
            raise BadRequest(f'invalid "bc" value {short_text(str(bc))!r}: basic or comprehensive')
        # SpliceAI-lookup's mask applies to the tool asked: SpliceAI -M, Pangolin -m
        options = ((tool,), distance, mask if tool == "spliceai" else 0, mask if tool == "pangolin" else 1)
        key = ("lookup", tool, variant, options)
        result = memo.get(key) or await wait("score", variant, options)
        memo.put(key, result)
        return JSONResponse(lookup_response(tool, result, params, served, distance, mask))

    async def spliceai(request: Request) -> Response:
        return await lookup(request, "spliceai")

    async def pangolin(request: Request) -> Response:
        return await lookup(request, "pangolin")

    async def score(request: Request) -> Response:
        params = await read_params(request)
        variant = variant_param(params)
        served = hg_param(params, hg)
        models = models_param(params, session.models)
        distance = int_param(params, "distance", 50, 0, MAX_DISTANCE)
        mask = int_param(params, "mask", 0, 0, 1)
        pangolin_mask = int_param(params, "pangolin_mask", 1, 0, 1)
        options = (models, distance, mask, pangolin_mask)
        key = ("score", variant, options)
        result = memo.get(key) or await wait("score", variant, options)
        memo.put(key, result)
        return JSONResponse(score_response(result, params, served, distance, mask, pangolin_mask, models))

    async def tracks(request: Request) -> Response:
        params = await read_params(request)
        variant = variant_param(params)
        hg_param(params, hg)
        plot_models = [m for m in session.models if m in ("spliceai", "pangolin", "sptransformer")]
        model = params.get("model", plot_models[0] if plot_models else "")
        if model not in plot_models:
            raise BadRequest(f"tracks are drawn for {', '.join(plot_models) or 'no model of this server'}, "
                             f"not {short_text(str(model))!r}")
        limit = 100 if model == "sptransformer" else MAX_DISTANCE
        distance = int_param(params, "distance", 50, 0, limit)
        fmt = params.get("format", "svg")
        if fmt not in ("svg", "json"):
            raise BadRequest('"format": svg or json')
        gene = params.get("gene") or None
        if gene is not None and (not isinstance(gene, str) or len(gene) > 100):
            raise BadRequest('"gene": a gene name')
        options = (model, distance, gene, fmt)
        key = ("tracks", variant, options)
        result = memo.get(key) or await wait("tracks", variant, options)
        memo.put(key, result)
        if fmt == "svg":
            return Response(result, media_type="image/svg+xml")
        return JSONResponse(tracks_response(result))

    async def index(request: Request) -> Response:
        return HTMLResponse(page, headers={"Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'; "
                                                                      "script-src 'unsafe-inline'; img-src 'self' data:"})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "models": list(session.models), "hg": hg,
                             "queued": worker.queue.qsize(), "queue_size": worker.queue_size})

    async def on_bad(request: Request, exc: Exception) -> Response:
        return error(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 400)

    async def on_busy(request: Request, exc: Exception) -> Response:
        return error(str(exc), 503, headers={"Retry-After": "5"})

    async def on_http(request: Request, exc: HTTPException) -> Response:
        message = {404: f"no such endpoint {short_text(request.url.path)} (see /)", 405: "method not allowed"}
        return error(message.get(exc.status_code, str(exc.detail)), exc.status_code)

    async def on_timeout(request: Request, exc: Exception) -> Response:
        return error(f"no result within {timeout:.0f} s; retry later", 504)

    async def on_too_large(request: Request, exc: Exception) -> Response:
        return error(f"request body larger than {MAX_BODY} bytes", 413)

    async def on_internal(request: Request, exc: Exception) -> Response:
        log.error("splicescore serve: internal error on %s", request.url.path, exc_info=exc)
        return error("internal error while scoring (details in the server log)", 500)

    routes = [
        Route("/", index), Route("/health", health),
        Route("/spliceai/", spliceai, methods=["GET", "POST"]), Route("/pangolin/", pangolin, methods=["GET", "POST"]),
        Route("/score/", score, methods=["GET", "POST"]), Route("/tracks/", tracks, methods=["GET", "POST"]),
    ]
    handlers = {BadRequest: on_bad, VariantError: on_bad, UsageError: on_bad, Busy: on_busy, HTTPException: on_http,
                asyncio.TimeoutError: on_timeout, BodyTooLarge: on_too_large, Exception: on_internal}
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.worker = worker

    def close() -> None:
        worker.stop()

    app.state.close = close
    return SizeLimits(app)


def serve(session: Session, hg: str = "38", host: str = "127.0.0.1", port: int = 8080, queue_size: int = 256,
          log_level: str = "info") -> None:
    """Run the service with uvicorn until interrupted."""
    try:
        import uvicorn
    except ImportError as exc:
        raise UsageError("splicescore serve needs the 'serve' extra: pip install 'splicescore[serve]'") from exc
    app = create_app(session, hg, queue_size)
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level, h11_max_incomplete_event_size=MAX_URL + 8192)
    finally:
        app.state.close()
