"""The built wheel: kyudoctor/checks and the data files inside, no top-level `checks`, and it runs."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel once, as a user or a release job would (pip, with build isolation)."""
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (built,) = out.glob("kyudoctor-*.whl")
    return built


def test_wheel_contents(wheel: Path) -> None:
    """The checks ship as kyudoctor/checks, with the catalog, policy, schema and introspection script."""
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "kyudoctor/checks/__init__.py",
        "kyudoctor/checks/gpu_driver.py",
        "kyudoctor/data/symptoms.toml",
        "kyudoctor/data/policy.toml",
        "kyudoctor/data/report.schema.json",
        "kyudoctor/data/introspect.py",
        "kyudoctor/py.typed",
    }
    assert expected <= names, sorted(expected - names)
    assert not [n for n in names if n.startswith("checks/")]
    from kyudoctor.checks import MODULES  # the source registry, to compare with the wheel

    assert {f"kyudoctor/checks/{m}.py" for m in MODULES} <= names


def test_installed_wheel_runs(wheel: Path, tmp_path: Path) -> None:
    """The wheel, installed on its own, explains a code and runs a check from its own files."""
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = dict(os.environ, PYTHONPATH=str(target))
    where = subprocess.run(
        [
            sys.executable,
            "-c",
            "import kyudoctor, kyudoctor.checks; print(kyudoctor.__file__); print(kyudoctor.checks.__file__)",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert all(line.startswith(str(target)) for line in where.stdout.split()), where.stdout
    explain = subprocess.run(
        [sys.executable, "-m", "kyudoctor", "explain", "GPU001"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert explain.returncode == 0 and "nvidia-driver-missing" in explain.stdout
    check = subprocess.run(
        [sys.executable, "-m", "kyudoctor", "check", "--only", "env.platform", "--format", "json"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert check.returncode in (0, 1), check.stderr
