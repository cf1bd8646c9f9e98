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

Modules: :mod:`~splicescore.serve.app` (routes, errors, runner), :mod:`~splicescore.serve.worker`
(the thread that owns the session), :mod:`~splicescore.serve.params` (request parameters),
:mod:`~splicescore.serve.limits` (size limits), :mod:`~splicescore.serve.responses` (response bodies).
"""

from splicescore.serve.app import create_app, serve

__all__ = ["create_app", "serve"]
