"""Fixtures for check tests: the ``slow`` marker, and a venv with the real CPU torch wheel.

The venv is cached under ``tests/.cache/`` (ignored by git), keyed by the Python version that
builds it, so only the first run pays for ``pip install torch`` (about a minute; the wheel and
its dependencies come from the machine's local wheel directory and index, as pip is configured).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers_venv import Venv, make_venv

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / "tests" / ".cache"
TORCH_CPU = "2.13.0"
"""The CPU wheel available on local disk (torch-2.13.0+cpu, cp311 only)."""
LOCAL_WHEELS = Path("/opt/wheels")
"""Where pip finds it (pip's configured find-links on the development machines)."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: builds real environments (about a minute on first run; cached)"
    )


def _usable(venv: Path) -> bool:
    torch = venv.glob("lib/python*/site-packages/torch/version.py")
    return (venv / "bin" / "python").is_file() and any(torch)


@pytest.fixture(scope="session")
def torch_cpu_venv() -> Iterator[Venv]:
    """A real venv (with pip) holding ``torch==2.13.0`` (+cpu) and its dependencies."""
    tag = f"py{sys.version_info[0]}{sys.version_info[1]}"
    final = CACHE / f"torch-{TORCH_CPU}-cpu-{tag}"
    if not _usable(final):
        building = CACHE / f"{final.name}.building-{os.getpid()}"
        shutil.rmtree(building, ignore_errors=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        make_venv(building, with_pip=True)
        proc = subprocess.run(
            [str(building / "bin" / "python"), "-m", "pip", "install", "-q", f"torch=={TORCH_CPU}"],
            check=False,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if proc.returncode != 0:
            shutil.rmtree(building, ignore_errors=True)
            wheels = list(LOCAL_WHEELS.glob(f"torch-{TORCH_CPU}+cpu-cp{tag[2:]}-*.whl"))
            if not wheels:
                pytest.skip(f"no torch {TORCH_CPU}+cpu wheel for Python {tag} in {LOCAL_WHEELS}")
            pytest.fail(f"pip install torch=={TORCH_CPU} failed:\n{proc.stdout}\n{proc.stderr}")
        # Built aside and moved into place, so an interrupted build is never taken as cached.
        # Only bin/python is used, and a venv finds its prefix from it at run time.
        shutil.rmtree(final, ignore_errors=True)
        shutil.move(str(building), str(final))
    out = subprocess.run(
        [
            str(final / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    site = Path(out.stdout.strip())
    installed = [
        d.name.removeprefix("torch-").removesuffix(".dist-info")
        for d in site.glob("torch-*.dist-info")
    ]
    if installed != [f"{TORCH_CPU}+cpu"]:
        # The index here serves the CPU wheel for this machine's Python; for other Pythons it
        # may serve the default (CUDA) build, which this test is not about.
        pytest.skip(f"the package index gave torch {installed} for Python {tag}, not the CPU wheel")
    yield Venv(root=final, python=final / "bin" / "python", site=site)
