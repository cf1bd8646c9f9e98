"""The local weight cache: official files are converted once into safetensors with a manifest.

Layout under ``$SPLICESCORE_HOME`` (default: the user cache dir, e.g. ``~/.cache/splicescore``)::

    <model>/model.safetensors     converted tensors
    <model>/manifest.json         source, licence, sha256 of every original file and of the tensors
    <model>/extra/...             files shipped with the weights (SpliceAI's grch37/grch38 gene tables)

Every original file is checked against the sha256 of the published artefact before conversion, and
the converted tensors against the manifest when they are loaded.

``import_weights(..., unverified=True)`` (CLI: ``weights import MODEL PATH --unverified``) is the one
way around the sha256 check, for files in the official *format* that are not the published files
(tests use random-weight checkpoints; developers their own trainings). Such files are taken by their
file name, or, for a model with a single file, as that file; the manifest then says
``"verified": false`` and ``weights list`` shows it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Callable

import torch
from safetensors.torch import load_file, save_file

from splicescore import __version__
from splicescore.errors import UsageError, WeightsError
from splicescore.models import ModelEntry, WeightSpec
from splicescore.models import get as get_model
from splicescore.paths import home, sha256_file


def model_dir(name: str, root: Path | None = None) -> Path:
    return (root or home()) / name


def read_manifest(name: str, root: Path | None = None) -> dict | None:
    path = model_dir(name, root) / "manifest.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


UNVERIFIED_WARNING = (
    "splicescore: warning: the cached {name} weights are not the published files (imported with "
    "--unverified); its scores are not the official model's"
)


def is_verified(name: str, root: Path | None = None) -> bool:
    """False when the cached weights were imported from files that are not the published ones."""
    return (read_manifest(name, root) or {}).get("verified") is not False


def is_installed(name: str, root: Path | None = None) -> bool:
    m = read_manifest(name, root)
    return m is not None and (model_dir(name, root) / "model.safetensors").is_file()


def _collect(paths, spec: WeightSpec, workdir: Path, unverified: bool = False) -> dict[str, Path]:
    """Find the spec's files among ``paths`` (files, folders, wheels/zips), checking sha256.

    With ``unverified``, files whose sha256 is not the published one still fill the spec's missing
    files: by file name, or, when one file is missing and exactly one unrecognised file was given,
    as that file.
    """
    wanted = {**spec.files, **spec.extras}
    by_sha = {sha: name for name, sha in wanted.items()}
    found: dict[str, Path] = {}
    unknown: list[Path] = []

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
        else:
            unknown.append(path)

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
    if missing and unverified:
        for name in missing:
            same = [p for p in unknown if p.name == name]
            if same:
                found[name] = same[0]
        missing = sorted(set(spec.files) - set(found))
        rest = [p for p in unknown if p not in found.values()]
        if len(missing) == 1 and len(rest) == 1:
            found[missing[0]] = rest[0]
            missing = []
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
        published = {**spec.files, **spec.extras}
        manifest["verified"] = all(published.get(n) == sha for n, sha in manifest["files"].items())
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _model(name: str) -> ModelEntry:
    try:
        return get_model(name)
    except UsageError as exc:
        raise WeightsError(str(exc)) from exc


def spec(name: str) -> WeightSpec:
    return _model(name).spec


def import_weights(name: str, paths, root: Path | None = None, unverified: bool = False) -> Path:
    """Convert the official files found among ``paths`` into the cache; returns the model folder.

    ``unverified``: also accept files in the official format that are not the published files (see
    the module docstring); the manifest records ``"verified": false``.
    """
    model = _model(name)
    (root or home()).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        found = _collect(paths, model.spec, Path(work), unverified)
        tensors = model.convert_official(found)
        return _install(model.spec, tensors, found, root)


def fetch_weights(name: str, root: Path | None = None, log: Callable[[str], None] = lambda s: None) -> Path:
    """Download the official files from their source and import them."""
    model = _model(name)
    if model.download is None:
        raise WeightsError(f"{name}: no automatic download. {model.spec.fetch_hint}")
    with tempfile.TemporaryDirectory() as work:
        paths = model.download(Path(work), log)
        log(f"splicescore: checking sha256 and converting {name} ...")
        return import_weights(name, paths, root)


def load_tensors(name: str, root: Path | None = None) -> dict[str, torch.Tensor]:
    """Converted tensors of an installed model, checked against the manifest."""
    manifest = read_manifest(name, root)
    path = model_dir(name, root) / "model.safetensors"
    if manifest is None or not path.is_file():
        raise WeightsError(f"{name}: weights are not installed. {spec(name).fetch_hint}")
    if sha256_file(path) != manifest.get("tensors_sha256"):
        raise WeightsError(f"{path}: checksum differs from the manifest (a corrupt or changed file); "
                           f"{_again(name)}")
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for a damaged file
        raise WeightsError(f"{path}: cannot read the cached weights ({exc}); {_again(name)}") from exc


def _again(name: str) -> str:
    how = "import" if _model(name).download is None else "fetch"
    return f"run `splicescore weights {how} {name}` again (`weights import/fetch` converts them anew)"


def extra_dir(name: str, root: Path | None = None) -> Path:
    return model_dir(name, root) / "extra"


def load_network(name: str, root: Path | None = None) -> torch.nn.Module:
    """The model's network with its cached weights, in eval mode."""
    net = _model(name).build_network()
    try:
        net.load_state_dict(load_tensors(name, root))
    except RuntimeError as exc:  # tensors of another shape or name: not this model's converted weights
        raise WeightsError(f"{model_dir(name, root)}: the cached weights do not fit the {name} network "
                           f"({str(exc).splitlines()[0]}); {_again(name)}") from exc
    return net.eval()
