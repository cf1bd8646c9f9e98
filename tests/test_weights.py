"""The weight cache: files recognised by sha256, converted once, checked when loaded."""

from __future__ import annotations

import json

import pytest
import torch

from splicescore import weights
from splicescore.models.spliceai import SPEC
from splicescore.errors import WeightsError


def test_import_writes_manifest_with_sources(weights_home):
    manifest = weights.read_manifest("spliceai", weights_home)
    assert set(manifest["files"]) == {f"spliceai{i}.h5" for i in range(1, 6)} | {"grch37.txt", "grch38.txt"}
    for name, sha in manifest["files"].items():
        assert sha == {**SPEC.files, **SPEC.extras}[name]
    assert (weights_home / "spliceai" / "extra" / "grch38.txt").is_file()


def test_loaded_model_equals_direct_conversion(shared, weights_home):
    from splicescore.models.spliceai.convert import convert_spliceai_files

    cached = weights.load_tensors("spliceai", weights_home)
    direct = convert_spliceai_files([shared / f"weights/spliceai/spliceai{i}.h5" for i in range(1, 6)])
    assert cached.keys() == direct.keys()
    assert all(torch.equal(cached[k], direct[k]) for k in cached)


def test_import_rejects_unknown_files(tmp_path):
    junk = tmp_path / "spliceai1.h5"
    junk.write_bytes(b"not the published file")
    with pytest.raises(WeightsError, match="not found among the given paths"):
        weights.import_weights("spliceai", [junk], tmp_path / "home")


def test_corrupt_cache_is_detected(shared, tmp_path):
    root = tmp_path / "home"
    weights.import_weights("spliceai", [shared / "weights/spliceai"], root)
    path = root / "spliceai" / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="checksum"):
        weights.load_tensors("spliceai", root)


def test_not_installed_says_how(tmp_path):
    with pytest.raises(WeightsError, match="weights fetch spliceai"):
        weights.load_tensors("spliceai", tmp_path)


@pytest.mark.network
def test_fetch_from_pypi(tmp_path):
    """`splicescore weights fetch spliceai` downloads the 1.3.1 wheel and converts it (needs PyPI)."""
    path = weights.fetch_weights("spliceai", tmp_path)
    assert json.loads((path / "manifest.json").read_text())["files"]["grch38.txt"] == SPEC.extras["grch38.txt"]
