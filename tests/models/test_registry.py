"""Model manifests: every declared model is installed and matches its checksum."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from facewise.errors import ModelError
from facewise.models import registry


def test_every_model_is_declared_with_license_and_checksum():
    manifests = registry.manifests()
    assert set(manifests) == {
        "retinaface-mnet025",
        "dlib-resnet-v1",
        "dlib-shape-predictor-5",
        "dlib-shape-predictor-68",
        "cydral-age-v1",
        "cydral-gender-v1",
    }
    for spec in manifests.values():
        assert len(spec.sha256) == 64 and spec.license and spec.version and spec.size_bytes > 0
    assert manifests["dlib-shape-predictor-68"].optional  # not for commercial use: opt-in


def test_every_installed_model_verifies():
    statuses = registry.verify_all()
    assert all(status.ok for status in statuses), [s.detail for s in statuses if not s.ok]
    for status in statuses:
        assert status.path is not None and status.path.stat().st_size > 0


def test_wrong_checksum_is_refused():
    spec = registry.manifest("cydral-gender-v1")
    tampered = dataclasses.replace(spec, sha256="0" * 64)
    with pytest.raises(ModelError, match="checksum"):
        registry._check(tampered, registry.locate(spec).read_bytes())


def test_missing_package_names_what_to_install():
    spec = dataclasses.replace(
        registry.manifest("cydral-age-v1"), package="no_such_pkg", distribution="no-such-pkg"
    )
    with pytest.raises(ModelError, match="pip install no-such-pkg"):
        registry.locate(spec)


def test_unknown_model_name():
    with pytest.raises(ModelError, match="unknown model"):
        registry.manifest("nope")


def test_importing_facewise_loads_nothing_heavy():
    code = (
        "import sys, facewise, facewise.service.options, facewise.types;"
        "heavy = {'onnxruntime', 'dlib', 'cv2', 'PIL'} & set(sys.modules);"
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
