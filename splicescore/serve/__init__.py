"""``splicescore serve``: a local lookup service (JSON API and a web page) over one :class:`~splicescore.api.Session`.

Endpoints (GET, or POST with a JSON object or form body of the same parameters):

``/spliceai/``, ``/pangolin/``
    SpliceAI-lookup's query shape and response fields (``variant``, ``hg``, ``distance``, ``mask``,
    ``bc``; ``scores`` with ``DS_AG``... / ``DS_SG``, ``DS_SL``..., ``g_name``, ``t_strand``...),
    plus each entry's INFO text as ``splicescore vcf`` writes it. Differences are listed in the README.
``/score/``
    Any of the loaded models (``models=spliceai,pangolin,...``) with ``splicescore vcf``'s options
    and defaults (``distance`` 50, ``mask`` 0, ``pangolin_mask`` 1): the record's INFO values,
    per-entry scores and skip reasons.
``/tracks/``
    Per-position REF/ALT outputs (``format=json``) or the ``splicescore plot`` figure (``format=svg``).
``/``
    The web page (inline HTML, CSS and JS; nothing is loaded from elsewhere).
``/health``
    Models, build, queue length.

Requests never name files: the FASTA, annotation, weights and cache are the server's, given on its
command line. One worker thread runs the session; requests wait in a bounded queue (a full queue is
a 503) and the worker scores what has queued up together (one ``score_many`` per option set).
Malformed input is a 400 with a one-line ``error``; an unexpected failure a 500 with a generic
message (the traceback goes to the server log only).
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass, field
from importlib import resources

from splicescore.api import Session, VariantError, parse_variant
from splicescore.errors import InputError, UsageError

log = logging.getLogger("splicescore.serve")

#: longest request target (path + query) and body accepted
MAX_URL = 4096
MAX_BODY = 16 * 1024
#: SpliceAI-lookup's default distance (its API's, not `splicescore vcf`'s 50)
LOOKUP_DEFAULT_DISTANCE = 500
MAX_DISTANCE = 4999
#: seconds a request waits for its result before a 504
REQUEST_TIMEOUT = 300.0
#: requests the worker takes from the queue at once
BATCH = 64
HG_NAMES = {"37": "37", "19": "37", "hg19": "37", "grch37": "37", "38": "38", "hg38": "38", "grch38": "38"}
INFO_KEYS = {"spliceai": "SpliceAI", "pangolin": "Pangolin", "sptransformer": "SpTransformer", "aparent2": "APARENT2",
             "hal": "HAL"}
ECHO = ("variant", "hg", "bc", "distance", "mask", "raw", "variant_consequence")


class BadRequest(Exception):
    """A request the service refuses with 400 and this one-line reason."""


# --------------------------------------------------------------------------- worker


@dataclass
class _Job:
    kind: str  # "score" or "tracks"
    variant: str
    options: tuple  # hashable: what groups jobs into one score_many
    future: Future = field(default_factory=Future)


class Worker:
    """One thread that owns the session: takes up to :data:`BATCH` queued jobs at a time, checks each
    variant against the FASTA, and scores the valid ones of one option set with one ``score_many``."""

    def __init__(self, session: Session, queue_size: int = 256, start: bool = True):
        self.session = session
        self.queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self.queue_size = queue_size
        self._thread = threading.Thread(target=self._run, name="splicescore-serve", daemon=True)
        self._stop = threading.Event()
        self.batches = 0
        if start:
            self.start()

    def start(self) -> None:
        if not self._thread.is_alive():
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        try:
            self.queue.put_nowait(None)
        except queue.Full:
            pass
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def submit(self, kind: str, variant: str, options: tuple) -> Future:
        job = _Job(kind, variant, options)
        try:
            self.queue.put_nowait(job)
        except queue.Full:
            raise Busy(self.queue_size) from None
        return job.future

    def _run(self) -> None:
        while not self._stop.is_set():
            job = self.queue.get()
            if job is None:
                continue
            jobs = [job]
            while len(jobs) < BATCH:
                try:
                    more = self.queue.get_nowait()
                except queue.Empty:
                    break
                if more is not None:
                    jobs.append(more)
            self.batches += 1
            try:
                self._process(jobs)
            except BaseException as exc:  # never leave a request waiting
                log.exception("splicescore serve: batch failed")
                for j in jobs:
                    if not j.future.done():
                        j.future.set_exception(exc)

    def _process(self, jobs: list[_Job]) -> None:
        groups: dict[tuple, list[_Job]] = {}
        for j in jobs:
            try:
                j.checked = self.session.check_variant(j.variant)
            except Exception as exc:  # VariantError: a 400
                j.future.set_exception(exc)
                continue
            if j.kind == "tracks":
                self._tracks(j)
            else:
                groups.setdefault(j.options, []).append(j)
        for options, group in groups.items():
            models, distance, mask, pangolin_mask = options
            variants = list(dict.fromkeys(j.checked for j in group))
            try:
                results = self.session.score_many(variants, distance=distance, mask=mask, models=models,
                                                  pangolin_mask=pangolin_mask)
            except Exception as exc:
                for j in group:
                    j.future.set_exception(exc)
                continue
            by_variant = dict(zip(variants, results))
            for j in group:
                j.future.set_result(by_variant[j.checked])

    def _tracks(self, j: _Job) -> None:
        model, distance, gene, fmt = j.options
        try:
            genes = self.session.tracks(j.checked, model, distance, gene)
            if fmt == "svg":
                from splicescore.plot import figure_bytes

                j.future.set_result(figure_bytes(genes, "svg"))
            else:
                j.future.set_result(genes)
        except InputError as exc:  # plot's skip errors (no gene, ...): about the variant, not the server
            j.future.set_exception(BadRequest(str(exc).split(" (annotation ")[0]))  # no server paths
        except Exception as exc:
            j.future.set_exception(exc)


class Busy(Exception):
    def __init__(self, size: int):
        super().__init__(f"server busy: {size} requests are queued; retry in a few seconds")


# --------------------------------------------------------------------------- parameters


def _hg(params: dict, served: str) -> str:
    hg = str(params.get("hg", served)).strip().lower()
    if hg not in HG_NAMES:
        raise BadRequest(f'invalid "hg" value {_short(hg)!r}: 37 or 38')
    if HG_NAMES[hg] != served:
        raise BadRequest(f"this server serves hg{served} only (started with --hg {served}), not hg{HG_NAMES[hg]}")
    return served


def _int(params: dict, name: str, default: int, lo: int, hi: int) -> int:
    raw = params.get(name, default)
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise BadRequest(f'invalid "{name}" {_short(str(raw))!r}: an integer in {lo}..{hi}') from None
    if not lo <= value <= hi:
        raise BadRequest(f'"{name}" {value} out of range: {lo}..{hi}')
    return value


def _variant_text(params: dict) -> str:
    variant = params.get("variant", "")
    if not isinstance(variant, str):
        raise BadRequest(f'"variant" must be a string, not {type(variant).__name__}')
    variant = variant.strip().strip("'\"").strip(",")
    if not variant:
        raise BadRequest('"variant" not given, e.g. variant=chr17-43045795-C-T')
    try:
        v = parse_variant(variant)
    except VariantError as exc:
        raise BadRequest(str(exc)) from None
    if len(v.alts) != 1:
        raise BadRequest(f"give one ALT allele per request, not {','.join(v.alts)}")
    if not set(v.ref) <= set("ACGT") or not set(v.alts[0]) <= set("ACGT"):
        raise BadRequest(f"variant {_short(variant)!r}: REF and ALT must be A/C/G/T bases")
    return f"{v.chrom}:{v.pos1}:{v.ref}:{v.alts[0]}"


def _short(text: str) -> str:
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------- responses


def _two(value: float) -> float:
    """A score as INFO prints it (``%.2f``), as a number."""
    return float(f"{value:.2f}")


def _spliceai_entry(s) -> dict:
    v = s.values
    out = {"DS_AG": None, "DS_AL": None, "DS_DG": None, "DS_DL": None, "DP_AG": None, "DP_AL": None, "DP_DG": None,
           "DP_DL": None}
    if v:
        out.update({k: _two(v[k]) for k in ("DS_AG", "DS_AL", "DS_DG", "DS_DL")})
        out.update({k: int(v[k]) for k in ("DP_AG", "DP_AL", "DP_DG", "DP_DL")})
    out.update(_gene_fields(s))
    return out


def _pangolin_entry(s) -> dict:
    v = s.values
    out = {"DS_SG": None, "DS_SL": None, "DP_SG": None, "DP_SL": None}
    if v:
        out.update(DS_SG=_two(v["gain"]), DS_SL=_two(v["loss"]), DP_SG=int(v["gain_pos"]), DP_SL=int(v["loss_pos"]),
                   warnings=v.get("warnings"))
    out.update(_gene_fields(s))
    return out


def _gene_fields(s) -> dict:
    gene_key = "g_id" if s.model == "pangolin" else "g_name"
    return {gene_key: s.gene, "t_strand": s.strand, "t_id": s.values.get("transcript"), "ALLELE": s.alt,
            INFO_KEYS[s.model]: s.info, "raw": {k: v for k, v in s.values.items() if k != "transcript"}}


def lookup_response(tool: str, result, params: dict, hg: str, distance: int, mask: int) -> dict:
    """SpliceAI-lookup's response for one variant and tool (``spliceai`` or ``pangolin``)."""
    out = {k: params[k] for k in ECHO if k in params and isinstance(params[k], (str, int, float))}
    entries = [s for s in result.scores if s.model == tool]
    out.update({
        "variant": out.get("variant", result.variant), "genomeVersion": hg, "chrom": result.chrom, "pos": result.pos,
        "ref": result.ref, "alt": result.alts[0], "distance": distance, "mask": mask,
        "scores": [(_spliceai_entry if tool == "spliceai" else _pangolin_entry)(s) for s in entries],
        "source": f"{tool}:model",
        "allNonZeroScores": None, "allNonZeroScoresStrand": None, "allNonZeroScoresTranscriptId": None,
        "info": {INFO_KEYS[tool]: result.info.get(tool)},
        "skips": [{"alt": k.alt, "reason": k.reason, "description": k.description} for k in result.skips
                  if k.model == tool],
    })
    if not entries:
        reasons = "; ".join(f"{k.reason}: {k.description}" for k in result.skips if k.model == tool) or "no entries"
        name = "SpliceAI" if tool == "spliceai" else "Pangolin"
        out["error"] = f"The {name} model did not return any scores for {out['variant']} ({reasons})."
    return out


def score_response(result, params: dict, hg: str, distance: int, mask: int, pangolin_mask: int, models) -> dict:
    return {
        "variant": result.variant, "genomeVersion": hg, "chrom": result.chrom, "pos": result.pos, "ref": result.ref,
        "alt": result.alts[0], "distance": distance, "mask": mask, "pangolin_mask": pangolin_mask,
        "models": list(models),
        "info": {INFO_KEYS[m]: result.info.get(m) for m in models},
        "SPLICESCORE_SKIP": result.skip_info,
        "scores": [{"model": s.model, "alt": s.alt, "gene": s.gene, "strand": s.strand, "info": s.info,
                    "values": s.values} for s in result.scores],
        "skips": [{"model": k.model, "alt": k.alt, "reason": k.reason, "description": k.description}
                  for k in result.skips],
    }


def tracks_response(genes) -> dict:
    return {"genes": [{
        "model": g.model, "gene": g.gene, "strand": g.strand, "variant": g.label,
        "positions": g.positions1.tolist(), "exon_boundaries": list(g.boundaries1),
        "tracks": [{"name": t.name, "kind": t.kind, "ref": t.ref.tolist(), "alt": t.alt.tolist(),
                    "delta": t.delta.tolist()} for t in g.tracks],
    } for g in genes]}


# --------------------------------------------------------------------------- app


class _Memo:
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
    memo = _Memo()
    page = resources.files("splicescore.serve").joinpath("page.html").read_text(encoding="utf-8")
    config = json.dumps({"models": list(session.models), "hg": hg,
                         "plot_models": [m for m in session.models if m in ("spliceai", "pangolin", "sptransformer")]})
    page = page.replace("/*SPLICESCORE_CONFIG*/null", config.replace("<", "\\u003c"))

    def error(message: str, status: int = 400, source: str | None = None, headers=None) -> JSONResponse:
        body = {"error": message}
        if source:
            body["source"] = source
        return JSONResponse(body, status_code=status, headers=headers)

    async def params_of(request: Request) -> dict:
        params = dict(request.query_params)
        if request.method == "POST":
            body = b""
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_BODY:
                    raise _TooLarge()
            if body:
                ctype = request.headers.get("content-type", "")
                if "application/x-www-form-urlencoded" in ctype:
                    from urllib.parse import parse_qsl

                    params.update(parse_qsl(body.decode("utf-8", "replace")))
                else:
                    try:
                        doc = json.loads(body)
                    except (ValueError, RecursionError):  # RecursionError: deeply nested arrays
                        raise BadRequest("the request body is not JSON (or a form)") from None
                    if not isinstance(doc, dict):
                        raise BadRequest("the JSON body must be an object of parameters")
                    params.update({k: v for k, v in doc.items() if isinstance(k, str)})
        return params

    async def wait(kind: str, variant: str, options: tuple):
        future = worker.submit(kind, variant, options)
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)

    def models_param(params: dict) -> tuple[str, ...]:
        raw = params.get("models", ",".join(session.models))
        if not isinstance(raw, str):
            raise BadRequest('"models" must be a comma-separated string')
        names = tuple(dict.fromkeys(m.strip().lower() for m in raw.split(",") if m.strip()))
        if not names:
            raise BadRequest('"models" is empty')
        for m in names:
            if m not in INFO_KEYS:
                raise BadRequest(f"unknown model {_short(m)!r} (known: {', '.join(INFO_KEYS)})")
            if m not in session.models:
                raise BadRequest(f"model {m} is not loaded by this server (it runs {', '.join(session.models)})")
        return names

    async def lookup(request: Request, tool: str) -> Response:
        params = await params_of(request)
        if tool not in session.models:
            raise BadRequest(f"this server does not run {tool} (it runs {', '.join(session.models)})")
        variant = _variant_text(params)
        served = _hg(params, hg)
        distance = _int(params, "distance", LOOKUP_DEFAULT_DISTANCE, 0, MAX_DISTANCE)
        mask = _int(params, "mask", 0, 0, 1)
        bc = params.get("bc", "basic")
        if bc not in ("basic", "comprehensive"):
            raise BadRequest(f'invalid "bc" value {_short(str(bc))!r}: basic or comprehensive')
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
        params = await params_of(request)
        variant = _variant_text(params)
        served = _hg(params, hg)
        models = models_param(params)
        distance = _int(params, "distance", 50, 0, MAX_DISTANCE)
        mask = _int(params, "mask", 0, 0, 1)
        pangolin_mask = _int(params, "pangolin_mask", 1, 0, 1)
        options = (models, distance, mask, pangolin_mask)
        key = ("score", variant, options)
        result = memo.get(key) or await wait("score", variant, options)
        memo.put(key, result)
        return JSONResponse(score_response(result, params, served, distance, mask, pangolin_mask, models))

    async def tracks(request: Request) -> Response:
        params = await params_of(request)
        variant = _variant_text(params)
        _hg(params, hg)
        plot_models = [m for m in session.models if m in ("spliceai", "pangolin", "sptransformer")]
        model = params.get("model", plot_models[0] if plot_models else "")
        if model not in plot_models:
            raise BadRequest(f"tracks are drawn for {', '.join(plot_models) or 'no model of this server'}, "
                             f"not {_short(str(model))!r}")
        limit = 100 if model == "sptransformer" else MAX_DISTANCE
        distance = _int(params, "distance", 50, 0, limit)
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
        message = {404: f"no such endpoint {_short(request.url.path)} (see /)", 405: "method not allowed"}
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
                asyncio.TimeoutError: on_timeout, _TooLarge: on_too_large, Exception: on_internal}
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.worker = worker

    def close() -> None:
        worker.stop()

    app.state.close = close
    return _Limits(app)


class _TooLarge(Exception):
    pass


class _Limits:
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
