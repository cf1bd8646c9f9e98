"""Pure parts of the SpliceAI scorer: windows, encoding, indel alignment, masking, formatting."""

from __future__ import annotations

import numpy as np
import pytest

from splicescore.io.annotation import Transcript
from splicescore.core.encoding import one_hot, reverse_complement
from splicescore.core.encoding import one_hot_oriented as encode
from splicescore.models.spliceai.official import align_alt, delta_scores, input_span0, masked_windows

TX = Transcript("G", "1", "+", tx_start1=10_000, tx_end1=20_000, exon_starts1=(10_000, 15_000),
                exon_ends1=(12_000, 20_000))


def test_input_span0_is_centred():
    start0, end0 = input_span0(pos1=50_000, distance=50)
    assert end0 - start0 == 10_101
    # POS (1-based) is the middle base: 0-based index pos1 - 1 at offset wid // 2
    assert (50_000 - 1) - start0 == 10_101 // 2


def test_masked_windows_n_outside_transcript():
    pos1 = 10_010  # 9 nt after tx start
    seq = "A" * 10_101
    x_ref, x_alt = masked_windows(seq, "A", "G", pos1, TX, 50)
    half = 10_101 // 2
    # bases before tx_start1 are N: window index of tx_start1 is half - (pos1 - tx_start1)
    first_in_tx = half - (pos1 - TX.tx_start1)
    assert set(x_ref[:first_in_tx]) == {"N"} and x_ref[first_in_tx] == "A"
    assert x_alt[half] == "G" and len(x_alt) == len(x_ref)


def test_masked_windows_deletion_and_insertion_lengths():
    seq = "C" * 10_101
    _, x_del = masked_windows(seq, "CCC", "C", 15_000, TX, 50)
    _, x_ins = masked_windows(seq, "C", "CAAA", 15_000, TX, 50)
    assert len(x_del) == 10_101 - 2 and len(x_ins) == 10_101 + 3


def test_minus_strand_encoding_is_reverse_complement():
    s = "ACGTTNacgR"
    assert np.array_equal(encode(s, "-"), one_hot(reverse_complement(s)))
    # N, lowercase and ambiguity codes
    assert one_hot("N").sum() == 0 and one_hot("R").sum() == 0 and np.array_equal(one_hot("a"), one_hot("A"))


def test_align_alt_deletion_inserts_zero_rows():
    cov = 11
    y = np.arange((cov - 2) * 3, dtype=np.float32).reshape(cov - 2, 3) + 1
    out = align_alt(y, ref_len=3, alt_len=1, cov=cov)
    assert out.shape == (cov, 3)
    # rows cov//2 + 1 .. cov//2 + 2 are the deleted bases
    assert (out[cov // 2 + 1 : cov // 2 + 3] == 0).all()
    assert np.array_equal(out[: cov // 2 + 1], y[: cov // 2 + 1])


def test_align_alt_insertion_takes_max():
    cov = 11
    y = np.zeros((cov + 3, 3), dtype=np.float32)
    y[cov // 2 + 2] = [0.1, 0.9, 0.2]
    out = align_alt(y, ref_len=1, alt_len=4, cov=cov)
    assert out.shape == (cov, 3)
    assert np.allclose(out[cov // 2], [0.1, 0.9, 0.2])


def test_delta_scores_and_masking():
    cov = 11
    ref = np.zeros((cov, 3), dtype=np.float32)
    alt = np.zeros((cov, 3), dtype=np.float32)
    alt[7, 1] = 0.5  # acceptor gain at +2
    ref[3, 2] = 0.25  # donor loss at -2
    s = delta_scores(ref, alt, cov, boundary_offset=2, mask=False)
    assert s.dp[0] == 2 and s.dp[3] == -2
    assert s.format("G", "X") == "G|X|0.50|0.00|0.00|0.25|2|-5|-5|-2"  # ties: first index
    # -M 1: the gain sits on the annotated boundary (masked), the loss does not (masked too)
    m = delta_scores(ref, alt, cov, boundary_offset=2, mask=True)
    assert m.format("G", "X") == "G|X|0.00|0.00|0.00|0.00|2|-5|-5|-2"
    # a loss *at* the annotated boundary is kept
    k = delta_scores(ref, alt, cov, boundary_offset=-2, mask=True)
    assert k.ds[3] == pytest.approx(0.25)


def test_masked_negative_zero_prints_like_spliceai():
    cov = 3
    ref = np.full((cov, 3), 0.3, dtype=np.float32)
    alt = np.full((cov, 3), 0.2, dtype=np.float32)  # every gain is negative
    s = delta_scores(ref, alt, cov, boundary_offset=-1, mask=True)  # gain argmax at -1 == boundary
    assert s.format("A", "X").split("|")[2] == "-0.00"
