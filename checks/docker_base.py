"""docker.base_image: the image that builds moshi-server has nvcc and a supported CUDA.

What it checks
    For each Dockerfile that builds moshi-server (``cargo install ... moshi-server`` in a
    ``RUN`` or in a start script the image runs), the base image of the stage that builds it,
    after ``ARG`` substitution in ``FROM`` and through ``FROM <earlier stage>`` chains:

    - an ``nvidia/cuda`` (or ``pytorch/pytorch``) ``-runtime`` / ``-base`` image has no nvcc;
    - a CUDA version outside the range moshi-server's CUDA crate builds with (policy
      ``cuda_build_min`` .. ``cuda_build_max``);
    - a plain OS or language image (``ubuntu``, ``debian``, ``python``, ``rust``...) has no
      CUDA toolkit at all.

    A stage that installs the toolkit itself (``apt-get install cuda-toolkit-12-8``,
    ``cuda-nvcc-*``) is not faulted for its base. Images of unknown content, and a ``FROM``
    whose variables have no value, are left alone.

Why it matters
    DOCKER005: ``cargo install --features cuda moshi-server`` compiles CUDA kernels with nvcc.
    Without nvcc the build fails; a CUDA 13 toolkit fails with "Unsupported cuda toolkit
    version".

How to fix
    Build from ``nvidia/cuda:12.8.1-devel-ubuntu22.04`` (Kyutai's image), or another ``-devel``
    image within the supported CUDA range. A multi-stage build may run from a ``-runtime``
    image once the binary is built.
"""

from __future__ import annotations

from kyudoctor import policy
from kyudoctor.model import Check, Facts, Finding, Outcome

from ._docker import (
    Command,
    Image,
    base_image,
    files_facts,
    images,
    installs_cuda_toolkit,
    installs_moshi_server,
    nothing_found,
    where,
)


def _builds(image: Image) -> dict[int, Command]:
    """Stage index -> the first command that builds moshi-server in that stage."""
    out: dict[int, Command] = {}
    for command in image.build:
        if isinstance(command.stage, int) and installs_moshi_server(command.words):
            out.setdefault(command.stage, command)
    for command in image.start:
        if installs_moshi_server(command.words) and image.chain:
            out.setdefault(image.chain[0], command)
    return out


def _judge(image: Image, stage: int, build: Command) -> tuple[Finding | None, str]:
    pol = policy.load()
    root = image.root_base(stage)
    if root is None:
        return None, f"{image.path}: stage {stage} has no base image"
    reference = str(root.get("base") or "")
    line = int(root.get("line") or 1)
    if root.get("unresolved"):
        names = ", ".join(str(n) for n in root.get("unresolved") or [])
        return None, f"{where(image.path, line)}: FROM {root.get('base_raw')} ({names} unset)"
    info = base_image(reference)
    chain = set(image.chain_of(stage))
    toolkit = any(
        installs_cuda_toolkit(c.words)
        for c in (*image.build, *image.start)
        if c.stage in chain or c.at == "start"
    )
    built_at = where(build.file, build.line)
    evidence = {"file": image.path, "line": line, "base": reference, "builds_at": built_at}
    if info.kind in ("cuda", "pytorch") and info.variant in ("runtime", "base") and not toolkit:
        return (
            Finding(
                "DOCKER005",
                f"{where(image.path, line)}: FROM {reference} is a CUDA {info.variant} image "
                f"without nvcc, but moshi-server is built in it ({built_at}): "
                "`cargo install --features cuda` needs nvcc",
                evidence=evidence,
            ),
            reference,
        )
    if info.kind in ("cuda", "pytorch") and info.cuda and not pol.cuda_build_supported(info.cuda):
        return (
            Finding(
                "DOCKER005",
                f"{where(image.path, line)}: FROM {reference} has CUDA {info.cuda}; moshi-server's "
                f"CUDA crate builds with toolkits {pol.cuda_build_min} to {pol.cuda_build_max} "
                f'only ("Unsupported cuda toolkit version")',
                evidence={**evidence, "cuda": info.cuda},
            ),
            reference,
        )
    if info.kind == "non-cuda" and not toolkit:
        return (
            Finding(
                "DOCKER005",
                f"{where(image.path, line)}: FROM {reference} has no CUDA toolkit, but "
                f"moshi-server is built in it with CUDA ({built_at})",
                evidence=evidence,
            ),
            reference,
        )
    return None, reference


def check(facts: Facts) -> Outcome:
    """DOCKER005 for each stage that builds moshi-server from an unsuitable base image."""
    files = files_facts(facts)
    reason = nothing_found(files)
    if reason is not None or files is None:
        return Outcome.skip(reason or "no facts")
    findings: list[Finding] = []
    judged: list[str] = []
    for image in images(files):
        for stage, build in sorted(_builds(image).items()):
            finding, described = _judge(image, stage, build)
            judged.append(described)
            if finding is not None:
                findings.append(finding)
    if not judged:
        return Outcome.skip("no Dockerfile builds moshi-server (no `cargo install moshi-server`)")
    if findings:
        return Outcome.found(f"{len(findings)} unsuitable base image(s)", *findings)
    return Outcome.ok(f"moshi-server is built from {', '.join(dict.fromkeys(judged))}")


CHECK = Check(
    id="docker.base_image",
    group="files",
    title="Base image can build moshi-server with CUDA",
    codes=("DOCKER005",),
    probes=("files",),
    run=check,
)
