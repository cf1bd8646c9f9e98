"""benchmarks/gpu_check.py (the prepared GPU run) works on the CPU in quick mode, and imports
nothing beyond torch, numpy and h5py: no VCF/FASTA/CLI libraries (a bare CUDA image has none)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BLOCKED = ("pysam", "cyvcf2", "ncls", "click", "gffutils", "pandas")


def test_quick_cpu_run_reports_every_section_without_vcf_libraries(shared, tmp_path):
    code = (
        "import sys, runpy\n"
        f"for m in {BLOCKED!r}:\n"
        "    sys.modules[m] = None  # any import of these raises ImportError\n"
        f"sys.argv = ['gpu_check.py', '--data', {str(shared)!r}, '--device', 'cpu', '--quick',"
        f" '--out', {str(tmp_path / 'rows.jsonl')!r}]\n"
        f"runpy.run_path({str(REPO / 'benchmarks/gpu_check.py')!r}, run_name='__main__')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = [json.loads(l) for l in (tmp_path / "rows.jsonl").read_text().splitlines()]
    sections = {r["section"] for r in rows}
    assert {"env", "golden", "engines", "ceiling", "speed", "oom", "total"} <= sections
    assert not [r for r in rows if "error" in r]
    golden = {r["model"]: r for r in rows if r["section"] == "golden"}
    assert golden["spliceai"]["max_abs_diff"] <= 1e-5 and golden["pangolin"]["max_abs_diff"] <= 1e-5
    (eng,) = [r for r in rows if r["section"] == "engines"]
    assert eng["batched_vs_windows"] <= 1e-6 and eng["ok"]
    speed = [r for r in rows if r["section"] == "speed"]
    assert {r["engine"] for r in speed} == {"batched", "windows"} and all(r["snv_per_s"] > 0 for r in speed)
    # the table comes last and says whether every check passed
    assert proc.stdout.rstrip().splitlines()[-1] == "checks: all ok"
