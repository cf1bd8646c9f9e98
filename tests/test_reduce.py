"""Score reductions on the device (:mod:`splicescore.nn.reduce`) give bit for bit the values, dtypes
and indices of the host numpy formulas (SpliceAI ``delta_scores``/``align_alt``, Pangolin
``official``), on random outputs and on ties (CPU, float32; float64 where numpy promotes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from splicescore.models.pangolin import official as pg
from splicescore.models.spliceai.scorer import align_alt, delta_scores
from splicescore.nn import reduce as rd


def _same(a: torch.Tensor, b) -> bool:
    """Equal values, signs of zero, NaNs and dtype."""
    a, b = a.numpy(), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _outputs(rng, shape, ties: bool):
    y = rng.random(shape, dtype=np.float32)
    return (np.round(y * 3) / 3).astype(np.float32) if ties else y


@pytest.mark.parametrize("ties", [False, True])
def test_spliceai_delta_scores_equal_numpy(ties):
    rng = np.random.default_rng(7 + ties)
    d = 50
    cov = 2 * d + 1
    n = 64
    y_ref, y_alt = _outputs(rng, (n, cov, 3), ties), _outputs(rng, (n, cov, 3), ties)
    y_alt[:4] = y_ref[:4]  # no change at all: every delta 0, argmax 0
    offsets = rng.integers(-d - 5, d + 5, n)
    for mask in (False, True):
        want = [delta_scores(r, a, cov, int(o), mask) for r, a, o in zip(y_ref, y_alt, offsets)]
        # offsets at the argmax positions: the masked branch taken
        hit = np.array([w.dp[k % 4] for k, w in enumerate(want)])
        for offs in (offsets, hit):
            want = [delta_scores(r, a, cov, int(o), mask) for r, a, o in zip(y_ref, y_alt, offs)]
            ds, dp = rd.spliceai_delta_scores(torch.from_numpy(y_ref), torch.from_numpy(y_alt), cov,
                                              torch.from_numpy(offs), mask)
            assert _same(ds, np.array([w.ds for w in want], dtype=np.float32))
            assert dp.dtype == torch.int64 and dp.tolist() == [list(w.dp) for w in want]
    # a per-record mask tensor and leading batch dimensions
    masks = rng.random(n) < 0.5
    ds, dp = rd.spliceai_delta_scores(torch.from_numpy(y_ref).view(8, 8, cov, 3), torch.from_numpy(y_alt).view(8, 8, cov, 3),
                                      cov, torch.from_numpy(hit).view(8, 8), torch.from_numpy(masks).view(8, 8))
    want = [delta_scores(r, a, cov, int(o), bool(m)) for r, a, o, m in zip(y_ref, y_alt, hit, masks)]
    assert _same(ds.reshape(n, 4), np.array([w.ds for w in want], dtype=np.float32))
    assert dp.reshape(n, 4).tolist() == [list(w.dp) for w in want]


@pytest.mark.parametrize("ref_len,alt_len", [(1, 1), (3, 1), (1, 4), (2, 2)])
def test_spliceai_align_alt_equals_numpy(ref_len, alt_len):
    rng = np.random.default_rng(ref_len * 10 + alt_len)
    cov = 101
    y = _outputs(rng, (5, cov - ref_len + alt_len, 3), True)
    got = rd.spliceai_align_alt(torch.from_numpy(y), ref_len, alt_len, cov)
    assert _same(got, np.stack([align_alt(x, ref_len, alt_len, cov) for x in y]))


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("ref_len,alt_len", [(1, 1), (4, 1), (1, 3), (2, 2)])
def test_pangolin_reductions_equal_numpy(ties, ref_len, alt_len):
    rng = np.random.default_rng(100 * ties + 10 * ref_len + alt_len)
    d, genes = 50, 6
    lr, la = 2 * d + ref_len, 2 * d + alt_len
    ref = _outputs(rng, (genes, 3, 4, lr), ties)
    alt = _outputs(rng, (genes, 3, 4, la), ties)
    if ref_len == alt_len:
        alt[0] = ref[0]  # unchanged: every delta 0
    delta = rd.pangolin_per_tissue_delta(torch.from_numpy(ref), torch.from_numpy(alt), d)
    want = np.stack([pg.per_tissue_delta(r, a, d) for r, a in zip(ref, alt)])
    assert _same(delta, want)
    assert _same(rd.pangolin_align_alt(torch.from_numpy(alt), lr, d),
                 np.stack([pg.align_alt_to_ref(a, lr, d) for a in alt]))
    loss, gain = rd.pangolin_loss_gain(delta)
    pairs = [pg.loss_gain(x) for x in want]
    assert _same(loss, np.stack([p[0] for p in pairs])) and _same(gain, np.stack([p[1] for p in pairs]))
    # genes: sites in and around the window (duplicates), none in it, none at all
    pos = 1_000
    site_sets = [rng.integers(pos - d - 20, pos + d + 20, k) for k in (1, 5, 30)] + [[pos - d - 99], [], [pos, pos]]
    annotated = torch.from_numpy(np.stack([rd.annotated_positions(s, pos, d, lr) for s in site_sets]))
    has = torch.tensor([len(s) > 0 for s in site_sets])
    m_loss, m_gain = rd.pangolin_mask_scores(loss, gain, annotated, has)
    want_masked = [pg.mask_scores(lo, ga, s, pos, d) for (lo, ga), s in zip(pairs, site_sets)]
    assert _same(m_loss, np.stack([w[0] for w in want_masked])) and _same(m_gain, np.stack([w[1] for w in want_masked]))
    g, gv, lo, lv = rd.pangolin_extremes(m_loss, m_gain)
    for k, (wl, wg, _) in enumerate(want_masked):
        assert (int(g[k]), int(lo[k])) == (int(np.argmax(wg)), int(np.argmin(wl)))
        assert _same(gv[k], wg[np.argmax(wg)]) and _same(lv[k], wl[np.argmin(wl)])
        # the official field from the device values equals the host one
        field = pg.format_gene("G", m_loss[k].numpy(), m_gain[k].numpy(), d, "", None, "official")
        assert field == pg.format_gene("G", wl, wg, d, "", None, "official")


def test_pangolin_masking_keeps_numpy_signs_of_zero_and_nans():
    """``np.maximum(x, 0)``/``np.minimum(x, 0)`` return the ``0`` on a tie (``-0.0`` -> ``0.0``) and
    propagate NaN: the device masking does the same."""
    loss = np.array([-0.0, 0.0, -0.5, 0.25, np.nan, -0.0], dtype=np.float32)
    gain = np.array([-0.0, 0.0, -0.5, 0.25, np.nan, 0.5], dtype=np.float32)
    for sites in ([], [1000 - 2, 1000 + 1, 1000 + 2], [1000 - 2 + 5]):
        want = pg.mask_scores(loss, gain, sites, 1000, 2)
        ann = torch.from_numpy(rd.annotated_positions(sites, 1000, 2, len(loss)))
        got = rd.pangolin_mask_scores(torch.from_numpy(loss), torch.from_numpy(gain), ann, len(sites) > 0)
        assert _same(got[0], want[0]) and _same(got[1], want[1])
