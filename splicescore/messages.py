"""The CLI's default stderr level: run summaries and what ``weights`` commands did (:data:`NOTICE`)."""

from __future__ import annotations

import logging

log = logging.getLogger("splicescore")

#: ``-v`` adds INFO (per-chunk timing and cache hits), ``-vv`` DEBUG; ``-q`` keeps errors only.
NOTICE = 25
logging.addLevelName(NOTICE, "NOTICE")


def notice(message: str) -> None:
    """Log ``message`` at the default level (:data:`NOTICE`)."""
    log.log(NOTICE, message)
