"""``splicescore serve``: a real uvicorn server on 127.0.0.1 (a free port) and plain HTTP clients.

Expected SpliceAI strings are the official SpliceAI 1.3.1 outputs (``../shared/golden/spliceai``),
Pangolin's those of ``splicescore vcf --model pangolin`` (itself tested against the official CLI).
The page is loaded in Debian's headless ``chromium`` when it is installed (skipped otherwise).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("starlette", reason="splicescore[serve] (starlette) not installed")
uvicorn = pytest.importorskip("uvicorn", reason="splicescore[serve] (uvicorn) not installed")

from conftest import REPO, run_main  # noqa: E402
from splicescore import weights  # noqa: E402
from splicescore.api import Session  # noqa: E402
from splicescore.serve import create_app  # noqa: E402
from test_spliceai_golden import records  # noqa: E402

FASTA = "data/grch38/chr17_brca1_region.fa.gz"
#: where the page test leaves its screenshot for review (ignored by git)
SCREENSHOT = REPO / "tests" / "artifacts" / "serve_page.png"


@pytest.fixture(scope="module")
def official(shared) -> dict:
    """``chrom-pos-ref-alt`` -> the official SpliceAI= value (-D 50 -M 0) of the DEV records."""
    out = {}
    for c, p, r, a, info in records(shared / "golden" / "spliceai" / "dev.D50.M0.official.vcf"):
        out[f"{c}-{p}-{r}-{a}"] = info
    return out


@pytest.fixture(scope="module")
def home(shared, weights_home, tmp_path_factory):
    root = tmp_path_factory.mktemp("serve_home")
    shutil.copytree(weights.model_dir("spliceai", weights_home), weights.model_dir("spliceai", root))
    weights.import_weights("pangolin", [shared / "weights" / "pangolin"], root)
    weights.import_weights("hal", [shared / "weights" / "hal" / "HAL_mer_scores.npz"], root)
    return root


@pytest.fixture(scope="module")
def session(shared, home, tmp_path_factory):
    db = tmp_path_factory.mktemp("serve_cache") / "lookup.sqlite"
    s = Session(shared / FASTA, "grch38", ["spliceai", "pangolin", "hal"], device="cpu", weights_home=home, cache=db)
    yield s
    s.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Server:
    def __init__(self, app):
        self.app = app
        self.port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            assert time.time() < deadline, "server did not start"
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.app.state.close()


@pytest.fixture(scope="module")
def server(session):
    srv = _Server(create_app(session, "38"))
    yield srv
    srv.stop()


def get(server, path: str, data: bytes | None = None, method: str | None = None, headers=None):
    """(status, parsed JSON or bytes, content type)."""
    req = urllib.request.Request(server.url + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            body, status, ctype = resp.read(), resp.status, resp.headers.get("content-type", "")
    except urllib.error.HTTPError as exc:
        body, status, ctype = exc.read(), exc.code, exc.headers.get("content-type", "")
    return status, (json.loads(body) if ctype.startswith("application/json") else body), ctype


# --------------------------------------------------------------------------- JSON API


@pytest.mark.parametrize("variant", ["chr17-43045795-C-T", "17-43045792-CTGCCCAAT-C", "chr17-43047645-T-TA"])
def test_spliceai_lookup_shape_and_strings(server, official, variant):
    status, body, ctype = get(server, f"/spliceai/?hg=38&variant={variant}&distance=50&mask=0")
    assert status == 200 and ctype.startswith("application/json")
    for key in ("variant", "genomeVersion", "chrom", "pos", "ref", "alt", "distance", "mask", "scores", "source",
                "allNonZeroScores"):
        assert key in body
    assert body["variant"] == variant and body["genomeVersion"] == "38" and body["distance"] == 50
    expected = official["17-" + variant.split("-", 1)[1]]
    assert ",".join(s["SpliceAI"] for s in body["scores"]) == expected == body["info"]["SpliceAI"]
    for s in body["scores"]:
        fields = s["SpliceAI"].split("|")
        assert s["g_name"] == fields[1] and s["t_strand"] in "+-"
        assert [f"{s[k]:.2f}" for k in ("DS_AG", "DS_AL", "DS_DG", "DS_DL")] == fields[2:6]
        assert [str(s[k]) for k in ("DP_AG", "DP_AL", "DP_DG", "DP_DL")] == fields[6:10]


def test_pangolin_lookup_is_the_cli(server, shared, home, tmp_path, monkeypatch):
    """``/pangolin/?mask=0`` = ``splicescore vcf --model pangolin --pangolin-mask 0 -D 50``."""
    vcf = tmp_path / "in.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=17>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   "17\t43045792\t.\tCTGCCCAAT\tC\t.\t.\t.\n")
    monkeypatch.setenv("SPLICESCORE_HOME", str(home))
    out = tmp_path / "out.vcf"
    assert run_main(["vcf", "--model", "pangolin", "--pangolin-mask", "0", "-D", "50", "-i", vcf, "-o", out,
                     "-r", shared / FASTA, "-a", "grch38"]) == 0
    line = [l for l in out.read_text().splitlines() if not l.startswith("#")][0]
    expected = dict(kv.split("=", 1) for kv in line.split("\t")[7].split(";") if "=" in kv)["Pangolin"]
    status, body, _ = get(server, "/pangolin/?hg=38&variant=17-43045792-CTGCCCAAT-C&distance=50&mask=0")
    assert status == 200 and body["source"] == "pangolin:model"
    assert ",".join(s["Pangolin"] for s in body["scores"]) == expected
    [s] = body["scores"]
    assert s["DS_SG"] == pytest.approx(0.79, abs=0.005) and s["DP_SG"] == -1 and s["DS_SL"] <= 0
    assert {"DS_SG", "DS_SL", "DP_SG", "DP_SL", "g_id", "t_strand"} <= set(s)


def test_score_endpoint_models(server, official):
    status, body, _ = get(server, "/score/?variant=chr17:43045795:C:T&models=spliceai,hal&distance=50")
    assert status == 200
    assert body["models"] == ["spliceai", "hal"]
    assert body["info"]["SpliceAI"] == official["17-43045795-C-T"]
    assert set(body["info"]) == {"SpliceAI", "HAL"}
    hal = [k for k in body["skips"] if k["model"] == "hal"] + [s for s in body["scores"] if s["model"] == "hal"]
    assert hal, "HAL gives an entry or a skip reason"
    # POST with a JSON body, SpliceAI-lookup's other way of asking
    status, posted, _ = get(server, "/score/", json.dumps({"variant": "chr17:43045795:C:T", "models": "spliceai,hal"})
                            .encode(), headers={"content-type": "application/json"})
    assert status == 200 and posted["info"] == body["info"]


def test_no_gene_is_an_error_field(server):
    """A variant between genes (golden supp48, no SpliceAI= in the official output): 200 with
    SpliceAI-lookup's ``error`` field and the skip reason."""
    status, body, _ = get(server, "/spliceai/?hg=38&variant=chr17-43300000-C-T&distance=50")
    assert status == 200 and body["scores"] == [] and "no_gene" in body["error"]


BAD = [
    ("/spliceai/?hg=38&variant=chrZZ-100-A-C", "not in the reference FASTA"),
    ("/spliceai/?hg=38&variant=chr17-43045795-G-T", "does not match the reference FASTA"),
    ("/spliceai/?hg=38&variant=chr17-43045795-C", "expected CHROM:POS:REF:ALT"),
    ("/spliceai/?hg=38&variant=chr17-x-C-T", "POS must be a positive integer"),
    ("/spliceai/?hg=38", '"variant" not given'),
    ("/spliceai/?hg=38&variant=chr17-43045795-C-T&distance=5000", "out of range"),
    ("/spliceai/?hg=38&variant=chr17-43045795-C-T&distance=-1", "out of range"),
    ("/spliceai/?hg=38&variant=chr17-43045795-C-T&distance=ten", "an integer"),
    ("/spliceai/?hg=38&variant=chr17-43045795-C-T&mask=2", "out of range"),
    ("/spliceai/?hg=37&variant=chr17-43045795-C-T", "serves hg38 only"),
    ("/spliceai/?hg=99&variant=chr17-43045795-C-T", "37 or 38"),
    ("/spliceai/?hg=38&variant=chr17-43045795-C-T&bc=everything", "basic or comprehensive"),
    ("/spliceai/?hg=38&variant=chr17-43045795-C-T,G", "one ALT"),
    ("/spliceai/?hg=38&variant=chr17-43045795-C-N", "A/C/G/T"),
    ("/spliceai/?hg=38&variant=chr17-43045795-C-<DEL>", "expected CHROM"),
    ("/spliceai/?hg=38&variant=chr17-999999999-C-T", "past the end"),
    ("/spliceai/?hg=38&variant=..%2F..%2Fetc%2Fpasswd-1-A-C", "contig name"),
    ("/spliceai/?hg=38&variant=%2Fetc%2Fpasswd", "expected CHROM"),
    ("/spliceai/?hg=38&variant=chr17-1-A-T%3Brm%20-rf", "expected CHROM"),
    ("/spliceai/?hg=38&variant=chr17:1:A:T%24(reboot)", "ALT"),
    ("/score/?variant=chr17-43045795-C-T&models=nosuchmodel", "unknown model"),
    ("/score/?variant=chr17-43045795-C-T&models=sptransformer", "not loaded by this server"),
    ("/score/?variant=chr17-43045795-C-T&models=", '"models" is empty'),
    ("/tracks/?variant=chr17-43045795-C-T&model=hal", "tracks are drawn for"),
    ("/tracks/?variant=chr17-43045795-C-T&format=exe", "svg or json"),
    ("/tracks/?variant=chr17-43300000-C-T&model=spliceai", "no annotated gene at the variant"),
    ("/tracks/?variant=chr17-43045795-C-T&model=spliceai&gene=NOPE", "not a gene at the variant"),
]


@pytest.mark.parametrize("path, reason", BAD, ids=[p for p, _ in BAD])
def test_bad_requests_are_400(server, path, reason):
    status, body, ctype = get(server, path)
    assert status == 400 and ctype.startswith("application/json"), (status, body)
    assert reason in body["error"] and "\n" not in body["error"] and "Traceback" not in body["error"]
    assert "/tmp" not in body["error"] and "splicescore_home" not in body["error"]  # no server paths


@pytest.mark.parametrize("path, data, headers, status", [
    ("/spliceai/?variant=" + "A" * 5000, None, {}, 414),
    ("/spliceai/", b"{" + b" " * 20000 + b"}", {"content-type": "application/json"}, 413),
    ("/spliceai/", b"not json", {"content-type": "application/json"}, 400),
    ("/spliceai/", b"[1, 2]", {"content-type": "application/json"}, 400),
    ("/spliceai/", b'{"variant": 17}', {"content-type": "application/json"}, 400),
    ("/spliceai/", b"[" * 5000 + b"]" * 5000, {"content-type": "application/json"}, 400),
    ("/spliceai/", b"\xff\xfe", {"content-type": "application/json"}, 400),
    ("/nothing/here", None, {}, 404),
    ("/etc/passwd", None, {}, 404),
])
def test_limits_and_unknown_paths(server, path, data, headers, status):
    got, body, ctype = get(server, path, data, headers=headers)
    assert got == status and ctype.startswith("application/json") and body["error"]


def test_internal_error_is_json_without_traceback(server, session, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("secret internal detail /path/to/file")

    monkeypatch.setattr(session, "score_many", boom)
    status, body, _ = get(server, "/score/?variant=chr17-43045803-C-T&models=spliceai&distance=7")
    assert status == 500
    assert "secret" not in body["error"] and "Traceback" not in json.dumps(body)


def test_fifty_parallel_requests(server, official):
    """50 concurrent requests over 5 variants: every one answered, with its own variant's strings."""
    variants = ["chr17-43045793-T-A", "chr17-43045803-C-T", "chr17-43045812-G-A", "chr17-43045820-A-T",
                "chr17-43047635-C-A"]
    before = server.app.state.worker.batches
    paths = [f"/spliceai/?hg=38&variant={variants[i % 5]}&distance=50&mask=0&i={i}" for i in range(50)]
    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(lambda p: get(server, p), paths))
    assert len(answers) == 50
    for i, (status, body, _) in enumerate(answers):
        assert status == 200, body
        assert body["variant"] == variants[i % 5]
        assert body["info"]["SpliceAI"] == official["17-" + variants[i % 5].split("-", 1)[1]]
    assert server.app.state.worker.batches - before < 50  # requests were batched, not scored one by one


def test_full_queue_is_503(session):
    """With the worker held, the queue fills: the next request gets 503, the queued ones an answer."""
    app = create_app(session, "38", queue_size=2, start_worker=False)
    srv = _Server(app)
    try:
        with ThreadPoolExecutor(2) as pool:
            queued = [pool.submit(get, srv, f"/score/?variant=chr17-43045795-C-T&models=spliceai&distance={d}")
                      for d in (3, 4)]
            deadline = time.time() + 20
            while app.state.worker.queue.qsize() < 2:
                assert time.time() < deadline
                time.sleep(0.02)
            status, body, _ = get(srv, "/score/?variant=chr17-43045795-C-T&models=spliceai&distance=5")
            assert status == 503 and "busy" in body["error"]
            app.state.worker.start()
            assert [f.result()[0] for f in queued] == [200, 200]
    finally:
        srv.stop()


def test_cache_file_holds_the_served_results(server, session, home, shared):
    """The ``--cache`` SQLite file: a new session over it takes a served variant from the file."""
    assert get(server, "/spliceai/?hg=38&variant=chr17-43047639-T-C&distance=50&mask=0")[0] == 200
    with Session(shared / FASTA, "grch38", ["spliceai"], device="cpu", weights_home=home,
                 cache=session.config.cache) as again:
        again.score("chr17:43047639:T:C", distance=50, mask=False)
        assert again.last_statistics.cache_hits == 1 and again.last_statistics.windows == 0


def test_tracks_svg_and_json(server):
    status, svg, ctype = get(server, "/tracks/?variant=chr17-43045792-CTGCCCAAT-C&model=spliceai&distance=50")
    assert status == 200 and ctype.startswith("image/svg+xml") and b"<svg" in svg
    status, body, _ = get(server, "/tracks/?variant=chr17-43045792-CTGCCCAAT-C&model=spliceai&distance=50&format=json")
    [g] = body["genes"]
    assert g["gene"] == "BRCA1" and len(g["positions"]) == 101
    acc = g["tracks"][0]
    assert acc["name"] == "acceptor" and max(acc["delta"]) == pytest.approx(0.98, abs=0.005)


def test_serve_help():
    assert run_main(["serve", "--help"]) == 0


def test_serve_command_builds_the_session(shared, home, monkeypatch):
    """``splicescore serve`` loads the models it is given once and hands the session to the server."""
    import splicescore.serve

    calls = []
    monkeypatch.setenv("SPLICESCORE_HOME", str(home))
    monkeypatch.setattr(splicescore.serve, "serve", lambda session, *a: calls.append((session.models, a)))
    assert run_main(["serve", "-r", shared / FASTA, "-a", "grch38", "--models", "spliceai", "--port", "18999",
                     "--device", "cpu"]) == 0
    assert calls == [(("spliceai",), ("38", "127.0.0.1", 18999, 256))]
    assert run_main(["serve", "-r", shared / FASTA, "--hg", "19"]) == 2  # --hg is 37 or 38


# --------------------------------------------------------------------------- the page in a browser


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_page_is_self_contained(server):
    status, html, ctype = get(server, "/")
    assert status == 200 and ctype.startswith("text/html")
    text = html.decode()
    assert 'id="variant"' in text and 'id="scores"' in text and 'id="figure"' in text
    for remote in ("http://", "https://", "//cdn", "src=\"//"):
        assert remote not in text.replace("http://127.0.0.1", ""), remote


def test_page_in_headless_chromium(server, official):
    """The page, given the variant in its URL, fills the box and submits it (as typing and pressing
    Score does); the DOM then holds the scores table with the official string and the SVG figure."""
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    variant = "chr17-43045792-CTGCCCAAT-C"
    url = f"{server.url}/?variant={variant}&distance=50"
    with tempfile.TemporaryDirectory() as profile:
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--window-size=1250,1080", "--hide-scrollbars",
                 "--virtual-time-budget=120000", "--run-all-compositor-stages-before-draw"]
        dom = subprocess.run([browser, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=180).stdout
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([browser, *flags, f"--screenshot={SCREENSHOT}", url], capture_output=True, timeout=180)
    assert 'id="scores"' in dom and "<tbody><tr>" in dom, dom[-2000:]
    assert official["17-43045792-CTGCCCAAT-C"] in dom  # the INFO entry cell
    assert dom.count("<svg") >= 1 and 'id="status" class="error"' not in dom
    assert SCREENSHOT.is_file() and SCREENSHOT.stat().st_size > 10_000
