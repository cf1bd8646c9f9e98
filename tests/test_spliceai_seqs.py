"""``splicescore seqs --model spliceai`` on the official windows of the golden raw records (``dev_raw.npz``:
32 BRCA1 records on the minus strand, SNVs and indels; ``dev_supp_raw.npz``: designed records on both
strands) equals the delta scores of the official per-replica mean to 1e-6, with the official positions
(every 4th record in the default suite, all with ``-m slow``)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from conftest import run_main

TOL = 1e-6
COLUMNS = ("DS_AG", "DS_AL", "DS_DG", "DS_DL")


def _decode(x: np.ndarray) -> str:
    """Official int8 one-hot ``(L, 4)`` -> the window it encodes (all-zero rows are N)."""
    letters = np.array(list("ACGT"))[x.argmax(axis=1)]
    letters[x.sum(axis=1) == 0] = "N"
    return "".join(letters)


def _official_scores(raw, key: str, strand: str, ref_len: int, alt_len: int) -> tuple[list[float], list[int]]:
    """Unmasked DS and DP from the mean of the official replicas' outputs, computed here step by step as
    ``spliceai.utils.get_delta_scores`` describes them: genomic orientation, indel alignment, first arg-max."""
    y_ref = np.mean([raw[f"{key}_y_ref_model{m}"] for m in range(1, 6)], axis=0)
    y_alt = np.mean([raw[f"{key}_y_alt_model{m}"] for m in range(1, 6)], axis=0)
    assert np.abs(y_ref - raw[f"{key}_y_ref_mean"]).max() <= TOL  # the stored mean is the replicas' mean
    if strand == "-":
        y_ref, y_alt = y_ref[::-1], y_alt[::-1]
    cov = y_ref.shape[0]
    if ref_len > 1 and alt_len == 1:
        cut = cov // 2 + alt_len
        y_alt = np.concatenate([y_alt[:cut], np.zeros((ref_len - 1, 3), y_alt.dtype), y_alt[cut:]])
    elif ref_len == 1 and alt_len > 1:
        mid = cov // 2
        y_alt = np.concatenate([y_alt[:mid], y_alt[mid : mid + alt_len].max(axis=0, keepdims=True), y_alt[mid + alt_len :]])
    diffs = [y_alt[:, 1] - y_ref[:, 1], y_ref[:, 1] - y_alt[:, 1], y_alt[:, 2] - y_ref[:, 2], y_ref[:, 2] - y_alt[:, 2]]
    idx = [int(np.argmax(d)) for d in diffs]
    return [float(d[i]) for d, i in zip(diffs, idx)], [i - cov // 2 for i in idx]


@pytest.mark.parametrize("name,step", [
    ("dev_raw", 4), ("dev_supp_raw", 4),  # every 4th record (deletions, SNVs, both strands) in the default suite
    pytest.param("dev_raw", 1, marks=pytest.mark.slow), pytest.param("dev_supp_raw", 1, marks=pytest.mark.slow),
])
def test_seqs_equal_the_official_replica_mean(shared, weights_home, tmp_path, name, step):
    golden = shared / "golden" / "spliceai"
    raw = np.load(golden / f"{name}.npz")
    with open(golden / f"{name}_index.tsv", newline="") as fh:
        index = list(csv.DictReader(fh, delimiter="\t"))[::step]
    pairs = tmp_path / "pairs.tsv"
    with open(pairs, "w") as fh:
        fh.write("id\tref\talt\tstrand\n")
        for r in index:
            fh.write(f"{r['key']}\t{_decode(raw[r['key'] + '_x_ref'])}\t{_decode(raw[r['key'] + '_x_alt'])}\t{r['strand']}\n")
    out = tmp_path / "scores.tsv"
    assert run_main(["seqs", "--model", "spliceai", "-i", pairs, "-o", out, "--device", "cpu"]) == 0
    with open(out, newline="") as fh:
        got = {row["id"]: row for row in csv.DictReader(fh, delimiter="\t")}
    assert list(got) == [r["key"] for r in index]
    for r in index:
        row = got[r["key"]]
        ds, dp = _official_scores(raw, r["key"], r["strand"], int(r["ref_len"]), int(r["alt_len"]))
        assert [abs(float(row[c]) - v) <= TOL for c, v in zip(COLUMNS, ds)] == [True] * 4, (r["key"], row, ds)
        # the official unrounded DS (8 decimals) and positions of the same record
        assert [abs(float(row[c]) - float(r[f"{c}_raw"])) <= TOL for c in COLUMNS] == [True] * 4, (r["key"], row)
        official_dp = [int(v) for v in r["cli_spliceai"].split("|")[6:10]]
        assert [int(row[f"DP_{c[3:]}"]) for c in COLUMNS] == dp == official_dp, (r["key"], row)


def test_seqs_refuses_windows_that_are_not_spliceai_windows(weights_home, tmp_path, capsys):
    pairs = tmp_path / "pairs.tsv"
    window = "A" * 10_101
    for ref, alt, strand in ((window[:-1], window[:-1], "+"), (window, window[:10_001], "+"), (window, window, "x")):
        pairs.write_text(f"id\tref\talt\tstrand\np\t{ref}\t{alt}\t{strand}\n")
        assert run_main(["seqs", "-m", "spliceai", "-i", pairs, "-o", tmp_path / "o.tsv"]) == 3
        assert "pairs.tsv:2:" in capsys.readouterr().err
