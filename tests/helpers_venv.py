"""Real virtual environments for the python probe's tests, and fake distributions inside them.

A venv is made with ``python -m venv --without-pip`` (a fraction of a second). Distributions are
written the way installers write them: ``<name>-<version>.dist-info/METADATA`` with ``RECORD``
and ``INSTALLER``, or a setuptools ``.egg-info`` directory with ``PKG-INFO`` and
``requires.txt``. A fake torch package has a ``version.py`` like the real wheels' and an
``__init__.py`` that raises, so a test proves the probe never imports torch.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PYENV = Path.home() / ".pyenv" / "versions"

TORCH_IMPORTED = "kyudoctor test: torch/__init__.py was executed"


@dataclass(frozen=True)
class Venv:
    """A real virtual environment: its root, interpreter and site-packages directory."""

    root: Path
    python: Path
    site: Path


def find_python(major_minor: str) -> Path | None:
    """A real interpreter of this version on this machine (pyenv's, or the running one)."""
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == major_minor:
        return Path(sys.executable)
    for candidate in sorted(PYENV.glob(f"{major_minor}.*/bin/python")):
        if candidate.is_file():
            return candidate
    return None


def make_venv(root: Path, python: Path | str = sys.executable, *, with_pip: bool = False) -> Venv:
    """Create a venv at ``root`` with ``python``; ``with_pip`` installs pip (slower)."""
    args = [str(python), "-m", "venv", str(root)]
    if not with_pip:
        args.insert(3, "--without-pip")
    subprocess.run(args, check=True, capture_output=True, timeout=120)
    exe = root / "bin" / "python"
    out = subprocess.run(
        [str(exe), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return Venv(root=root, python=exe, site=Path(out.stdout.strip()))


def add_dist(
    site: Path,
    name: str,
    version: str,
    requires: Iterable[str] = (),
    *,
    installer: str = "uv",
) -> Path:
    """Write ``<name>-<version>.dist-info`` (METADATA, RECORD, INSTALLER) into ``site``."""
    folder = site / f"{name.replace('-', '_')}-{version}.dist-info"
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (folder / "METADATA").write_text("\n".join(lines) + "\n\n" + f"# {name}\n\nA package.\n")
    (folder / "INSTALLER").write_text(installer + "\n")
    record = [f"{folder.name}/{f},," for f in ("METADATA", "INSTALLER", "RECORD")]
    (folder / "RECORD").write_text("\n".join(record) + "\n")
    return folder


def add_egg_info(
    site: Path, name: str, version: str, requires: Mapping[str, Iterable[str]] | None = None
) -> Path:
    """Write a setuptools ``<name>-<version>-py3.X.egg-info`` with ``requires.txt`` sections."""
    folder = site / f"{name.replace('-', '_')}-{version}-py3.egg-info"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "PKG-INFO").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: old style\n"
    )
    if requires:
        chunks = []
        for section, items in requires.items():
            header = f"[{section}]\n" if section else ""
            chunks.append(header + "".join(f"{i}\n" for i in items))
        (folder / "requires.txt").write_text("\n".join(chunks))
    return folder


def add_torch(
    site: Path,
    version: str,
    cuda: str | None,
    *,
    git_version: str = "5811a8d7da873dd699ff6687092c225caffcf1bb",
    hip: str | None = None,
    requires: Iterable[str] = ("filelock", "typing-extensions>=4.10.0"),
    dist: bool = True,
) -> Path:
    """A fake torch: ``torch/version.py`` as the wheels write it, an ``__init__`` that raises."""
    package = site / "torch"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(f"raise RuntimeError({TORCH_IMPORTED!r})\n")
    (package / "version.py").write_text(
        textwrap.dedent(
            f"""\
            from typing import Optional

            __all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip', 'xpu']
            __version__ = '{version}'
            debug = False
            cuda: Optional[str] = {cuda!r}
            git_version = '{git_version}'
            hip: Optional[str] = {hip!r}
            xpu: Optional[str] = None
            """
        )
    )
    if dist:
        add_dist(site, "torch", version, requires)
    return package


def add_dists(site: Path, dists: Iterable[Mapping[str, Any]]) -> None:
    """Write every distribution of a facts-style list (``name``, ``version``, ``requires``)."""
    for item in dists:
        add_dist(site, str(item["name"]), str(item["version"]), list(item.get("requires") or []))
