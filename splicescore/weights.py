"""The local weight cache: official files are converted once into safetensors with a manifest.

Layout under ``$SPLICESCORE_HOME`` (default: the user cache dir, e.g. ``~/.cache/splicescore``)::

    <model>/model.safetensors     converted tensors
    <model>/manifest.json         source, licence, sha256 of every original file and of the tensors
    <model>/extra/...             files shipped with the weights (SpliceAI's grch37/grch38 gene tables)

Every original file is checked against the sha256 of the published artefact before conversion, and
the converted tensors against the manifest when they are loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from safetensors.torch import load_file, save_file

from splicescore import __version__
from splicescore.errors import WeightsError


@dataclass(frozen=True)
class WeightSpec:
    """The published files of one model and where they come from."""

    name: str
    files: dict[str, str]  # file name -> sha256 of the published file
    extras: dict[str, str] = field(default_factory=dict)  # shipped data files (not tensors)
    source: str = ""
    licence: str = ""
    fetch_hint: str = ""


SPLICEAI = WeightSpec(
    name="spliceai",
    files={
        "spliceai1.h5": "e1fd5adcef7489d604b10e79c40078ef790d51ef048c4ce3869c9119ac5de42b",
        "spliceai2.h5": "6ab042b82ab966b6d3582cb31b96f0859ea08a864f168d69e83aa14450a3b66e",
        "spliceai3.h5": "e2e790bde53dfdf410c6dc434a86122a7d12f3f38dc2ef45d85986e9ecf22fad",
        "spliceai4.h5": "ca88ac9e58e69ba6fdeed319b72f063f164c9abf7392eaccef903e94c1d99dd6",
        "spliceai5.h5": "791cd22c62a80a08d2ca674615a93ce8159d7b55bd157cfef2983b1bd6b41391",
    },
    extras={
        "grch37.txt": "16e495da074e965f46f60ced4e73292843e949051d2dc31dd521da3fd7615dce",
        "grch38.txt": "565c0ea83f66b2210182364c3d626fef526229e3d02f444bab247329b6695f2c",
    },
    source="PyPI spliceai==1.3.1 (spliceai/models/*.h5, spliceai/annotations/*.txt)",
    licence="CC BY-NC 4.0 (weights); annotation tables from GENCODE V24",
    fetch_hint="pip download --no-deps spliceai==1.3.1, then: splicescore weights import spliceai spliceai-1.3.1-py2.py3-none-any.whl",
)

SPECS: dict[str, WeightSpec] = {"spliceai": SPLICEAI}


def home() -> Path:
    """The cache root: ``$SPLICESCORE_HOME`` or the platform's user cache dir."""
    env = os.environ.get("SPLICESCORE_HOME")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("splicescore"))


def model_dir(name: str, root: Path | None = None) -> Path:
    return (root or home()) / name


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(name: str, root: Path | None = None) -> dict | None:
    path = model_dir(name, root) / "manifest.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def is_installed(name: str, root: Path | None = None) -> bool:
    m = read_manifest(name, root)
    return m is not None and (model_dir(name, root) / "model.safetensors").is_file()


def _collect(paths, spec: WeightSpec, workdir: Path) -> dict[str, Path]:
    """Find the spec's files among ``paths`` (files, folders, wheels/zips), checking sha256."""
    wanted = {**spec.files, **spec.extras}
    by_sha = {sha: name for name, sha in wanted.items()}
    found: dict[str, Path] = {}

    def consider(path: Path) -> None:
        if path.suffix in (".whl", ".zip") and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    base = Path(info.filename).name
                    if base in wanted:
                        target = workdir / f"{len(found)}_{base}"
                        with zf.open(info) as src, open(target, "wb") as dst:
                            shutil.copyfileobj(src, dst)
                        consider(target)
            return
        if not path.is_file():
            return
        digest = sha256_file(path)
        name = by_sha.get(digest)
        if name is not None:
            found.setdefault(name, path)

    for p in paths:
        p = Path(p)
        if not p.exists():
            raise WeightsError(f"{p}: no such file or folder")
        if p.is_dir():
            for child in sorted(p.rglob("*")):
                consider(child)
        else:
            consider(p)
    missing = sorted(set(spec.files) - set(found))
    if missing:
        raise WeightsError(
            f"{spec.name}: the published file(s) {', '.join(missing)} were not found among the given paths "
            f"(each is recognised by its sha256). {spec.fetch_hint}"
        )
    return found


def _install(spec: WeightSpec, tensors: dict[str, torch.Tensor], found: dict[str, Path], root: Path | None) -> Path:
    target = model_dir(spec.name, root)
    tmp = Path(tempfile.mkdtemp(prefix=f".{spec.name}-", dir=target.parent if target.parent.exists() else None))
    try:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp / "model.safetensors"))
        for name in spec.extras:
            if name in found:
                (tmp / "extra").mkdir(exist_ok=True)
                shutil.copyfile(found[name], tmp / "extra" / name)
        manifest = {
            "model": spec.name,
            "format": 1,
            "converted_by": f"splicescore {__version__}",
            "source": spec.source,
            "licence": spec.licence,
            "files": {name: sha256_file(path) for name, path in sorted(found.items())},
            "tensors_sha256": sha256_file(tmp / "model.safetensors"),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def import_weights(name: str, paths, root: Path | None = None) -> Path:
    """Convert the official files found among ``paths`` into the cache; returns the model folder."""
    if name not in SPECS:
        raise WeightsError(f"unknown model {name!r}; known: {', '.join(SPECS)}")
    spec = SPECS[name]
    (root or home()).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        found = _collect(paths, spec, Path(work))
        tensors = CONVERTERS[name](found)
        return _install(spec, tensors, found, root)


def fetch_weights(name: str, root: Path | None = None, log: Callable[[str], None] = lambda s: None) -> Path:
    """Download the official files from their source (SpliceAI: the PyPI wheel) and import them."""
    if name != "spliceai":
        raise WeightsError(f"{name}: no automatic download; {SPECS[name].fetch_hint if name in SPECS else ''}")
    with tempfile.TemporaryDirectory() as work:
        log("splicescore: downloading the spliceai==1.3.1 wheel from PyPI (16 MB, once) ...")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", work,
               "spliceai==1.3.1"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(work).glob("spliceai-1.3.1-*.whl"))
        if proc.returncode != 0 or not wheels:
            detail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no wheel"]
            raise WeightsError(
                f"spliceai: download failed ({detail[0]}). Download the wheel yourself "
                f"(https://pypi.org/project/spliceai/1.3.1/) and run: splicescore weights import spliceai PATH.whl"
            )
        log("splicescore: checking sha256 and converting the 5 SpliceAI models ...")
        return import_weights(name, wheels, root)


def load_tensors(name: str, root: Path | None = None) -> dict[str, torch.Tensor]:
    """Converted tensors of an installed model, checked against the manifest."""
    manifest = read_manifest(name, root)
    path = model_dir(name, root) / "model.safetensors"
    if manifest is None or not path.is_file():
        raise WeightsError(f"{name}: weights are not installed (run: splicescore weights fetch {name})")
    if sha256_file(path) != manifest.get("tensors_sha256"):
        raise WeightsError(f"{path}: checksum differs from the manifest; re-import the weights")
    return load_file(str(path))


def extra_dir(name: str, root: Path | None = None) -> Path:
    return model_dir(name, root) / "extra"


def _convert_spliceai(found: dict[str, Path]) -> dict[str, torch.Tensor]:
    from splicescore.convert.spliceai import convert_spliceai_files

    return convert_spliceai_files([found[f"spliceai{i}.h5"] for i in range(1, 6)])


CONVERTERS: dict[str, Callable[[dict[str, Path]], dict[str, torch.Tensor]]] = {"spliceai": _convert_spliceai}


def load_spliceai(root: Path | None = None):
    from splicescore.networks.spliceai import SpliceAIEnsemble

    model = SpliceAIEnsemble()
    model.load_state_dict(load_tensors("spliceai", root))
    return model.eval()
