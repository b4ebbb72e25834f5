"""Shared fixtures: fake executables on a private PATH, and probe contexts that use it."""

from __future__ import annotations

import os
import stat
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from kyudoctor.probes import ProbeContext
from kyudoctor.probes._proc import ProcessRunner


def pytest_configure(config: pytest.Config) -> None:
    """Python 3.10's asyncio leaks the SSL transport of a failed TLS handshake (the transport is
    never handed to the caller, so nothing can close it; 3.11 rewrote sslproto and fixed it):
    ignore that one ResourceWarning there, keep every other warning an error."""
    if sys.version_info < (3, 11):
        config.addinivalue_line(
            "filterwarnings",
            "ignore:unclosed transport <asyncio.sslproto._SSLProtocolTransport:ResourceWarning",
        )


REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


class FakeBin:
    """A temp directory of fake executables, used as the whole PATH of a probe."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def add(self, name: str, script: str, *, shebang: str = "#!/bin/sh") -> Path:
        """Write an executable ``name`` whose body is ``script`` (dedented)."""
        path = self.root / name
        path.write_text(f"{shebang}\n{textwrap.dedent(script).lstrip()}")
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return path

    def add_printer(self, name: str, stdout: str = "", *, stderr: str = "", code: int = 0) -> Path:
        """An executable that prints fixed output (any arguments) and exits with ``code``."""
        out = self.root / f".{name}.stdout"
        err = self.root / f".{name}.stderr"
        out.write_text(stdout)
        err.write_text(stderr)
        return self.add(name, f'cat "{out}"\ncat "{err}" >&2\nexit {code}\n')

    def link(self, name: str, target: str) -> Path:
        """A symlink ``name`` to a real executable (e.g. the real ``ldd``)."""
        path = self.root / name
        path.symlink_to(target)
        return path

    @property
    def path(self) -> str:
        return str(self.root)


@pytest.fixture
def fakebin(tmp_path: Path) -> FakeBin:
    """A fresh directory of fake executables."""
    return FakeBin(tmp_path / "bin")


MakeCtx = Callable[..., ProbeContext]


@pytest.fixture
def make_ctx(tmp_path: Path) -> Iterator[MakeCtx]:
    """Build a ProbeContext: ``make_ctx(env={...}, options={...}, timeout=5)``.

    The environment is exactly what is given (plus HOME in tmp_path unless set), so a probe sees
    only the fake executables the test put on PATH. Runners are cancelled at teardown.
    """
    runners: list[ProcessRunner] = []

    def build(
        env: Mapping[str, str] | None = None,
        options: Mapping[str, Any] | None = None,
        timeout: float = 10.0,
        cwd: Path | None = None,
    ) -> ProbeContext:
        full_env = {"HOME": str(tmp_path / "home"), "PATH": os.defpath}
        full_env.update(env or {})
        runner = ProcessRunner(full_env, time.monotonic() + timeout)
        runners.append(runner)
        return ProbeContext(
            env=full_env,
            runner=runner,
            options=dict(options or {"python": sys.executable}),
            cwd=cwd or tmp_path,
        )

    yield build
    for runner in runners:
        runner.cancel()
