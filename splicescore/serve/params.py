"""Request parameters of ``splicescore serve``: the body read within its limit, and each parameter
checked (a :class:`BadRequest` with a one-line reason otherwise)."""

from __future__ import annotations

import json

from splicescore.api import VariantError, parse_variant
from splicescore.serve.limits import MAX_BODY, BodyTooLarge
from splicescore.serve.responses import INFO_KEYS

#: SpliceAI-lookup's default distance (its API's, not `splicescore vcf`'s 50)
LOOKUP_DEFAULT_DISTANCE = 500
MAX_DISTANCE = 4999
HG_NAMES = {"37": "37", "19": "37", "hg19": "37", "grch37": "37", "38": "38", "hg38": "38", "grch38": "38"}


class BadRequest(Exception):
    """A request the service refuses with 400 and this one-line reason."""


def hg_param(params: dict, served: str) -> str:
    hg = str(params.get("hg", served)).strip().lower()
    if hg not in HG_NAMES:
        raise BadRequest(f'invalid "hg" value {short_text(hg)!r}: 37 or 38')
    if HG_NAMES[hg] != served:
        raise BadRequest(f"this server serves hg{served} only (started with --hg {served}), not hg{HG_NAMES[hg]}")
    return served


def int_param(params: dict, name: str, default: int, lo: int, hi: int) -> int:
    raw = params.get(name, default)
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise BadRequest(f'invalid "{name}" {short_text(str(raw))!r}: an integer in {lo}..{hi}') from None
    if not lo <= value <= hi:
        raise BadRequest(f'"{name}" {value} out of range: {lo}..{hi}')
    return value


def variant_param(params: dict) -> str:
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
        raise BadRequest(f"variant {short_text(variant)!r}: REF and ALT must be A/C/G/T bases")
    return f"{v.chrom}:{v.pos1}:{v.ref}:{v.alts[0]}"


def short_text(text: str) -> str:
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= 60 else text[:57] + "..."


async def read_params(request) -> dict:
    """The query parameters of a Starlette ``request``, updated by its POST body (a JSON object or a
    form) of at most :data:`MAX_BODY` bytes."""
    params = dict(request.query_params)
    if request.method == "POST":
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise BodyTooLarge()
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


def models_param(params: dict, loaded: tuple[str, ...]) -> tuple[str, ...]:
    """The ``models`` asked for (default: every ``loaded`` model), each known and loaded."""
    raw = params.get("models", ",".join(loaded))
    if not isinstance(raw, str):
        raise BadRequest('"models" must be a comma-separated string')
    names = tuple(dict.fromkeys(m.strip().lower() for m in raw.split(",") if m.strip()))
    if not names:
        raise BadRequest('"models" is empty')
    for m in names:
        if m not in INFO_KEYS:
            raise BadRequest(f"unknown model {short_text(m)!r} (known: {', '.join(INFO_KEYS)})")
        if m not in loaded:
            raise BadRequest(f"model {m} is not loaded by this server (it runs {', '.join(loaded)})")
    return names
