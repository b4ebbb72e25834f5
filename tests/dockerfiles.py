"""Helpers for the DOCKER checks' tests: write a project, run the real ``files`` probe on it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kyudoctor.model import Check, Outcome
from kyudoctor.probes import ProbeContext
from kyudoctor.probes import files as files_probe
from kyudoctor.probes._proc import ProcessRunner


def write(root: Path, tree: Mapping[str, str | bytes]) -> None:
    """Write ``tree`` (relative path -> text or bytes, byte-exact) under ``root``."""
    for name, content in tree.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))


def facts_of(root: Path, tree: Mapping[str, str | bytes], **options: Any) -> dict[str, Any]:
    """The facts of a run whose ``files`` probe looked at ``tree`` written under ``root``."""
    write(root, tree)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(root / "home")}
    runner = ProcessRunner(env, time.monotonic() + 10)
    try:
        ctx = ProbeContext(env=env, runner=runner, options=options, cwd=root)
        return {"files": files_probe.probe(ctx)}
    finally:
        runner.cancel()


def run(check: Check, root: Path, tree: Mapping[str, str | bytes], **options: Any) -> Outcome:
    """The check's outcome on ``tree``."""
    return check.run(facts_of(root, tree, **options))


def codes(outcome: Outcome) -> list[str]:
    """The codes of an outcome's findings, in order."""
    return [f.code for f in outcome.findings]


def where(outcome: Outcome) -> list[tuple[str, int]]:
    """(file, line) of each finding: what CI annotations point at."""
    return [(str(f.evidence["file"]), int(f.evidence["line"])) for f in outcome.findings]


GOOD_DOCKERFILE = """\
FROM nvidia/cuda:12.8.1-devel-ubuntu22.04
RUN apt-get update && apt-get install -y curl build-essential libssl-dev git pkg-config cmake
RUN curl https://sh.rustup.rs -sSf | sh -s -- -y
ENV PATH="/root/.cargo/bin:$PATH"
WORKDIR /app
COPY start.sh /app/start.sh
HEALTHCHECK --start-period=10m CMD curl --fail http://localhost:8080/api/build_info
ENTRYPOINT ["/app/start.sh"]
"""

GOOD_START = """\
#!/bin/bash
set -e
uv sync --locked
cargo install --features cuda moshi-server@0.6.4
exec /root/.cargo/bin/moshi-server worker --config configs/config-tts.toml
"""
