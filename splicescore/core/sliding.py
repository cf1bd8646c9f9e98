"""The base of the scorers whose network slides over the variant (SpliceAI, Pangolin)."""

from __future__ import annotations

from splicescore.core.scorer import Scorer

#: TSV columns before the model's own with several transcripts per gene (``--transcripts mane`` ...)
TX_TSV_COLUMNS = ("transcript_id", "transcript_priority")


def gene_id_or_name(tx) -> str:
    """A transcript's gene as the official tools print and group it: its ``gene_id`` when the
    annotation has one (GTF), else the gene name (a SpliceAI table)."""
    return tx.gene_id or tx.gene


class SlidingScorer(Scorer):
    """A scorer whose network gives one output per position, each from its own ``context + 1``
    input nt, scored over POS-D .. POS+D (``distance``): its sizes follow from those two. The REF
    outputs of nearby records can come from one shared track (``plan_chunk``), ALT windows as
    incremental edits of it (``incremental``); ``multi``: several transcripts per gene."""

    #: input nt an output sees beyond itself (set by the model)
    context: int

    def __init__(self, reference, genes, distance: int, pad_ends: bool, incremental: bool, multi: bool):
        if not 0 <= distance <= 4999:
            raise ValueError("distance must be in 0..4999")
        self.reference = reference
        self.genes = genes
        self.distance = distance
        self.pad_ends = pad_ends
        self.incremental = incremental
        self.multi = multi

    def reach(self) -> int:
        return self.context // 2 + self.distance  # the window is POS +- (context/2 + D)

    def max_ref(self) -> int:
        return 2 * self.distance

    def input_length(self) -> int:
        return self.context + 2 * self.distance + 1
