"""Shared fixtures: the read-only ``../shared`` folder (official weights, real data, golden outputs).

Found at ``$SPLICESCORE_SHARED`` or beside the repository root; tests that need it skip with the
reason when it is absent (CI always has it).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
# the FLOP counters (benchmarks/conv_flops.py) and the benchmark scripts are importable by the tests
sys.path.insert(0, str(REPO / "benchmarks"))


def shared_dir() -> Path | None:
    env = os.environ.get("SPLICESCORE_SHARED")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared")
    for c in candidates:
        if (c / "golden").is_dir() and (c / "weights").is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def shared() -> Path:
    path = shared_dir()
    if path is None:
        pytest.skip("../shared (official weights, data, golden outputs) not found; set SPLICESCORE_SHARED")
    return path


@pytest.fixture(scope="session", autouse=True)
def _torch_threads():
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    # exact fp32 for tests that call the networks directly on a GPU too (predict and the engine turn
    # TF32 off themselves: splicescore.nn.predict.exact_math)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    yield


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@contextlib.contextmanager
def _as_home(root: Path):
    """``$SPLICESCORE_HOME`` set to ``root`` inside the block, as it was afterwards."""
    old = os.environ.get("SPLICESCORE_HOME")
    os.environ["SPLICESCORE_HOME"] = str(root)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("SPLICESCORE_HOME", None)
        else:
            os.environ["SPLICESCORE_HOME"] = old


def run_main(argv: list[str]) -> int:
    """Run the CLI in-process through :func:`splicescore.cli.main`; returns the exit code."""
    from splicescore.cli import main

    try:
        main([str(a) for a in argv])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.fixture(scope="session")
def weights_home(shared, tmp_path_factory):
    """A weight cache with SpliceAI imported from ``../shared`` (as a user's ``weights import``);
    ``SPLICESCORE_HOME`` points at it for the whole session."""
    from splicescore import weights

    root = tmp_path_factory.mktemp("splicescore_home")
    weights.import_weights(
        "spliceai",
        [shared / "weights" / "spliceai", shared / "data" / "annotation" / "spliceai_grch37.txt",
         shared / "data" / "annotation" / "spliceai_grch38.txt"],
        root,
    )
    with _as_home(root):
        yield root


class _MemoPredict:
    """``predict`` that remembers each window's output (keyed by its bytes and the model), so golden
    runs that differ only in scoring options (-M 0/1) share the network work. Used only where a test
    is about scoring, never where batching itself is tested."""

    def __init__(self):
        from splicescore.nn.predict import predict

        self._predict = predict
        self.cache: dict = {}

    def __call__(self, model, inputs, batch_size=64, device="cpu", max_positions=None, precision="fp32"):
        keys = [(id(type(model)), precision, x.shape, x.tobytes()) for x in inputs]
        todo = [i for i, k in enumerate(keys) if k not in self.cache]
        fresh = self._predict(model, [inputs[i] for i in todo], batch_size, device, max_positions, precision)
        for i, y in zip(todo, fresh):
            self.cache[keys[i]] = y
        return [self.cache[k] for k in keys]


_MEMO = _MemoPredict()


@pytest.fixture
def memo_predict(monkeypatch):
    import splicescore.pipeline

    monkeypatch.setattr(splicescore.pipeline, "predict", _MEMO)
    return _MEMO


@pytest.fixture(scope="session")
def spliceai_ensemble(shared):
    """The five official SpliceAI replicas, converted from ``../shared/weights`` (loaded once)."""
    from splicescore.models.spliceai.convert import convert_spliceai_files
    from splicescore.models.spliceai.network import SpliceAIEnsemble

    model = SpliceAIEnsemble()
    paths = [shared / "weights" / "spliceai" / f"spliceai{i}.h5" for i in range(1, 6)]
    model.load_state_dict(convert_spliceai_files(paths))
    return model.eval()


@pytest.fixture(scope="session")
def spliceai_raw(shared):
    """Official windows and per-replica outputs of the golden DEV records (``dev_raw.npz``)."""
    return np.load(shared / "golden" / "spliceai" / "dev_raw.npz")


#: GRCh38 chr17 at real coordinates, real sequence over the BRCA1 region (examples/README.md)
BUNDLED_FASTA = REPO / "examples" / "grch38_chr17_brca1.fa.gz"


@pytest.fixture(scope="session")
def spliceai_home(request):
    """A weight cache with the official SpliceAI weights and gene tables, on any machine: imported from
    ``../shared`` when it is there (:func:`weights_home`), otherwise fetched once from PyPI (the
    spliceai 1.3.1 wheel) into the user's cache (``$SPLICESCORE_HOME`` or the default), as a user's
    first run does; skipped, with the reason, when neither works."""
    if shared_dir() is not None:
        yield request.getfixturevalue("weights_home")
        return
    from splicescore import weights
    from splicescore.errors import WeightsError

    root = weights.home()
    if not (weights.is_installed("spliceai", root) and (weights.extra_dir("spliceai", root) / "grch38.txt").is_file()):
        try:
            weights.fetch_weights("spliceai", root)
        except (WeightsError, OSError) as exc:
            pytest.skip(f"no ../shared and the SpliceAI weights could not be fetched from PyPI: {exc}")
    with _as_home(root):
        yield root


# -- random-weight networks: tests of plumbing (batching, devices, reliability) without ../shared --------

#: the SpliceAI gene table row of BRCA1 (GENCODE V24 as in spliceai 1.3.1's grch38.txt), the gene of the
#: bundled example (examples/grch38_chr17_brca1.fa.gz, examples/brca1_clinvar.vcf)
BRCA1_TABLE = (
    "#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n"
    "BRCA1\t17\t-\t43045628\t43125483\t43045628,43047642,43049120,43051062,43057051,43063332,43063873,43067607,"
    "43070927,43074330,43076487,43079333,43082403,43090943,43091434,43095845,43097243,43099774,43104121,43104867,"
    "43106455,43115725,43124016,43125270,\t43045802,43047703,43049194,43051117,43057135,43063373,43063951,43067695,"
    "43071238,43074521,43076611,43079399,43082575,43091032,43094860,43095922,43097289,43099880,43104261,43104956,"
    "43106533,43115779,43124115,43125483,\n"
)
BUNDLED_VCF = REPO / "examples" / "brca1_clinvar.vcf"
RANDOM_MODELS = ("spliceai", "aparent2", "hal")


def install_random_weights(name: str, root: Path, seed: int = 0) -> None:
    """Install model ``name`` with random weights (``torch.manual_seed(seed)``) into the weight cache
    ``root``, in the cache's own format (``model.safetensors`` + ``manifest.json``, ``"verified":
    false``); SpliceAI also gets a ``grch38`` gene table with BRCA1 only."""
    import json

    from safetensors.torch import save_file

    from splicescore import models
    from splicescore.paths import sha256_file

    torch.manual_seed(seed)
    net = models.get(name).build_network()
    with torch.no_grad():  # BatchNorm statistics too, so that they are not the identity
        for key, t in net.state_dict().items():
            if key.endswith("running_var"):
                t.uniform_(0.5, 2.0)
            elif key.endswith("running_mean"):
                t.normal_(0.0, 0.1)
    target = root / name
    target.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(target / "model.safetensors"))
    if name == "spliceai":
        (target / "extra").mkdir(exist_ok=True)
        (target / "extra" / "grch38.txt").write_text(BRCA1_TABLE)
    manifest = {"model": name, "format": 1, "source": f"random weights (torch.manual_seed({seed}), tests)",
                "licence": "", "files": {}, "tensors_sha256": sha256_file(target / "model.safetensors"),
                "verified": False}
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


@pytest.fixture(scope="session")
def random_weights_root(tmp_path_factory) -> Path:
    """A weight cache with random-weight SpliceAI, APARENT2 and HAL networks (no ../shared needed)."""
    root = tmp_path_factory.mktemp("random_home")
    for name in RANDOM_MODELS:
        install_random_weights(name, root)
    return root


@pytest.fixture
def random_home(random_weights_root, monkeypatch) -> Path:
    """:func:`random_weights_root` as ``$SPLICESCORE_HOME`` for one test."""
    monkeypatch.setenv("SPLICESCORE_HOME", str(random_weights_root))
    return random_weights_root
