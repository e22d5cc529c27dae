"""The schema ships inside the package (and the test support does not): a non-editable install, used
from another directory, validates."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile

from helpers import MINIMAL, REPO


def test_wheel_carries_the_schema_and_validates_from_elsewhere(tmp_path):
    wheel_dir, site = tmp_path / "wheel", tmp_path / "site"
    # Built from a copy of the sources: an in-tree build writes build/ into the checkout, where files
    # left by an older build (a module since removed) would end up in the wheel.
    source = tmp_path / "source"
    for folder in ("compiler", "spec"):
        shutil.copytree(REPO / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, source / name)
    # --no-build-isolation: build with the installed setuptools (the test extra), without the network.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "--no-build-isolation", "-w", str(wheel_dir), str(source)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = wheel_dir.glob("charter_spec-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert "charter/_spec/charter.schema.json" in names
        assert archive.read("charter/_spec/charter.schema.json") == (REPO / "spec" / "charter.schema.json").read_bytes()
        # The fake model server is test support: it lives in tests/fakeserver and never ships.
        assert not [n for n in names if "fakeserver" in n or n.startswith(("charter/testing/", "tests/"))], names
        archive.extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "spec.yaml").write_text(MINIMAL)
    (elsewhere / "bad.yaml").write_text(MINIMAL.replace("strength: hard", "strength: firm"))
    env = {**os.environ, "PYTHONPATH": str(site)}
    code = ("import charter, sys; print(charter.__file__); "
            "from charter.cli import main; main(['validate', 'spec.yaml', 'bad.yaml'], prog_name='charter')")
    result = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.splitlines()[0].startswith(str(site))
    assert result.returncode == 1
    assert "bad.yaml:10:15: error: rules[0].strength: 'firm' is not one of" in result.stdout
