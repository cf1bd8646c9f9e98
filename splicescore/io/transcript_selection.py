"""The run's transcripts (``--transcripts``, ``--transcript-types``) chosen from the arrays of a
compiled annotation index (:mod:`splicescore.io.gtfindex`): one per gene or several, ranked by
MANE / canonical tags, exonic length, span and file order."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from splicescore.errors import InputError
from splicescore.io.gene_index import GeneIndex, Transcript
from splicescore.io.gtf_reader import BASIC, CANONICAL, MANE_PLUS_CLINICAL, MANE_SELECT

#: ``--transcripts`` modes that keep one transcript per gene (the SpliceAI convention) ...
SINGLE_MODES = ("auto", "longest")
#: ... and those that keep several (each scored with its own boundaries and exons)
MULTI_MODES = ("mane", "canonical", "basic", "all")
#: transcript types kept by ``--transcripts all`` unless ``--transcript-types`` says otherwise
DEFAULT_TYPES = ("protein_coding", "lncRNA")
PRIORITY_CODES = ("MS", "MP", "C", "N")  # as SpliceAI-lookup prints them


def is_multi(mode: str) -> bool:
    """Whether ``--transcripts mode`` keeps several transcripts per gene."""
    return mode in MULTI_MODES


def _strings(names: np.ndarray) -> list[str]:
    """A bytes array of the index as ``str`` (UTF-8; undecodable bytes replaced)."""
    return [n.decode("utf-8", "replace") for n in names.tolist()]


class _LazyTranscripts(Sequence):
    """The selected transcripts of a compiled index, made into :class:`Transcript` on first use."""

    def __init__(self, a: dict, idx: np.ndarray, order: np.ndarray, rank: np.ndarray, prio: np.ndarray):
        self._a, self._idx, self._order, self._rank, self._prio = a, idx, order, rank, prio
        self._made: dict[int, Transcript] = {}
        self._chroms = _strings(a["chrom_names"])
        self._types = _strings(a["type_names"])

    def __len__(self) -> int:
        return len(self._idx)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        t = self._made.get(i)
        if t is None:
            a, k = self._a, int(self._idx[i])
            lo, hi = int(a["ex_off"][k]), int(a["ex_off"][k + 1])
            t = Transcript(
                gene=a["tx_gene"][k].decode("utf-8", "replace"), chrom=self._chroms[a["tx_chrom"][k]],
                strand="-" if a["tx_strand"][k] else "+",
                tx_start1=int(a["tx_start"][k]), tx_end1=int(a["tx_end"][k]),
                exon_starts1=tuple(a["ex_start"][lo:hi].tolist()), exon_ends1=tuple(a["ex_end"][lo:hi].tolist()),
                transcript_id=a["tx_id"][k].decode("utf-8", "replace"), order=int(self._order[i]),
                gene_id=a["tx_gene_id"][k].decode("utf-8", "replace"),
                priority=PRIORITY_CODES[int(self._prio[i])], rank=int(self._rank[i]),
                transcript_type=self._types[a["tx_type"][k]],
            )
            self._made[i] = t
        return t

    def __iter__(self):
        return (self[i] for i in range(len(self)))


def read_transcript_ids(transcripts: str) -> set[str]:
    """The transcript IDs of a ``--transcripts FILE`` (the first word of each non-blank line)."""
    try:
        return {line.split()[0] for line in Path(transcripts).read_text().splitlines() if line.strip()}
    except OSError as exc:
        raise InputError(f"cannot read transcript list: {exc}", transcripts) from exc


def select_transcripts(a: dict, mode: str = "auto", types: tuple[str, ...] | None = None, source: str = "") -> GeneIndex:
    """The run's :class:`GeneIndex` from a compiled index's arrays (:mod:`splicescore.io.gtfindex`).

    One transcript per gene (``auto``, ``longest``, a file of IDs: the rules of
    :func:`load_gtf_lines`), or several (``mane``: MANE Select and MANE Plus Clinical;
    ``canonical``: Ensembl_canonical; ``basic``: tag basic; ``all``), filtered by transcript type
    (``types``; default for ``all``: protein_coding and lncRNA; transcripts without a type are kept).
    Within a gene, transcripts are ranked MANE Select > MANE Plus Clinical > canonical > the others,
    then by exonic length, span and file order; every transcript of a gene takes the gene's place
    in the file (its first kept transcript), so genes keep the order of today's one-per-gene output.
    """
    n = len(a["tx_id"])
    flags = a["tx_flags"]
    keep = np.ones(n, bool)
    multi = is_multi(mode)
    if mode not in SINGLE_MODES and not multi:  # a file of transcript IDs
        ids = read_transcript_ids(mode)
        tids = _strings(a["tx_id"])
        keep = np.array([t in ids or t.split(":")[-1] in ids for t in tids], bool)
    if mode == "mane":
        keep &= (flags & (MANE_SELECT | MANE_PLUS_CLINICAL)) > 0
    elif mode == "canonical":
        keep &= (flags & CANONICAL) > 0
    elif mode == "basic":
        keep &= (flags & BASIC) > 0
    if types is None and mode == "all":
        types = DEFAULT_TYPES
    if types is not None:
        names = _strings(a["type_names"])
        ok = np.array([t == "" or t in types for t in names], bool)
        keep &= ok[a["tx_type"]]
    idx = np.flatnonzero(keep)
    if not len(idx):
        raise InputError(f"no transcript of the annotation is kept by --transcripts {mode}"
                         + (f" --transcript-types {','.join(types)}" if types else ""), source)
    f = flags[idx]
    prio = np.where(f & MANE_SELECT, 0, np.where(f & MANE_PLUS_CLINICAL, 1, np.where(f & CANONICAL, 2, 3)))
    if mode == "auto":
        cls = np.where(f & MANE_SELECT, 0, np.where(f & CANONICAL, 1, 2))
    elif multi:
        cls = prio
    else:
        cls = np.zeros(len(idx), np.int64)
    group = a["tx_group"][idx]
    order = a["tx_order"][idx]
    span = a["tx_end"][idx] - a["tx_start"][idx]
    srt = np.lexsort((order, -span, -a["tx_exonic"][idx], cls, group))
    g_sorted = group[srt]
    first_of_group = np.concatenate([[True], g_sorted[1:] != g_sorted[:-1]])
    group_start = np.flatnonzero(first_of_group)
    rank = np.arange(len(srt)) - np.repeat(group_start, np.diff(np.concatenate([group_start, [len(srt)]])))
    gmin = np.full(int(group.max()) + 1, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(gmin, group, order)
    if not multi:
        srt = srt[first_of_group]
        rank = rank[first_of_group]
    sel = srt
    out_order = gmin[group[sel]]
    final = np.lexsort((rank, out_order))
    sel, rank, out_order = sel[final], rank[final], out_order[final]
    k = idx[sel]
    txs = _LazyTranscripts(a, k, out_order, rank, prio[sel])
    chroms = _strings(a["chrom_names"])
    return GeneIndex(txs, source, _arrays=(a["tx_chrom"][k], chroms, a["tx_start"][k], a["tx_end"][k]))
