"""docker.install: an image that runs moshi-server installs it, and calls it unambiguously.

What it checks
    For each Dockerfile whose container starts moshi-server (its ``ENTRYPOINT``/``CMD``, or a
    start script they run that the image copied from the build context):

    - DOCKER003: some step installs it: ``cargo install ... moshi-server`` in a ``RUN`` of the
      final image's stages or in a start script, a ``moshi-server`` binary (or cargo's bin
      directory) copied in with ``COPY``/``COPY --from``, or a base image that holds it. A base
      image of unknown content is given the benefit of the doubt.
    - DOCKER007: it calls ``moshi-server`` by bare name while the image also installs the
      Python ``moshi`` package unpinned or older than the release that renamed its own
      ``moshi-server`` script (policy ``python_moshi_shim_until``).

Why it matters
    DOCKER003: the container fails at once with "exec: moshi-server: executable file not
    found". DOCKER007: the Python package's script can come first on PATH and fail with
    "moshi-server: error: unrecognized arguments: worker" (BIN003).

How to fix
    DOCKER003: add ``cargo install --features cuda moshi-server@<version>``; Kyutai runs it in
    the start script at container start, because the build needs the GPU to pick the kernel
    architecture. DOCKER007: call ``/root/.cargo/bin/moshi-server`` by full path, and install
    the Python side from moshi-server's lock (``uv sync --locked``).
"""

from __future__ import annotations

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from kyudoctor import policy
from kyudoctor.model import Check, Facts, Finding, Outcome

from ._docker import (
    Command,
    Image,
    base_image,
    docker_policy,
    files_facts,
    image_installs_moshi_server,
    image_runs_moshi_server,
    images,
    nothing_found,
    python_installs,
    runs_moshi_server,
    version_of,
    wanted,
    where,
)


def _not_installed(image: Image, started: Command) -> Finding | None:
    root = image.root_base(image.chain[0]) if image.chain else None
    if root is None or root.get("unresolved"):
        return None
    reference = str(root.get("base") or "")
    if base_image(reference).kind == "unknown":
        return None  # an in-house base image may well hold moshi-server
    return Finding(
        "DOCKER003",
        f"{where(started.file, started.line)} runs moshi-server, but nothing in {image.path} "
        f"installs it (no `cargo install ... moshi-server` in a RUN or a start script, no "
        f"binary copied in; the base image {reference} does not have it)",
        evidence={"file": started.file, "line": started.line, "dockerfile": image.path},
    )


def _old_python_moshi(image: Image) -> tuple[str, Command] | None:
    """The install of a Python ``moshi`` that may still ship its own ``moshi-server``."""
    until = version_of(docker_policy().python_moshi_shim_until)
    if until is None:
        return None
    newer = [
        v
        for v in (version_of(g.moshi) for g in policy.load().moshi_generations)
        if v is not None and v >= until
    ]
    for install, command in python_installs(image):
        for requirement in install.requirements:
            want = wanted(requirement)
            if want is None or want.name != "moshi":
                continue
            if not want.specifier:
                return (f"{requirement} (unpinned)", command)
            try:
                spec = SpecifierSet(want.specifier)
            except InvalidSpecifier:
                continue
            if not any(spec.contains(v, prereleases=True) for v in [until, *newer]):
                return (requirement, command)
    return None


def check(facts: Facts) -> Outcome:
    """DOCKER003 moshi-server run but never installed; DOCKER007 bare name beside old moshi."""
    files = files_facts(facts)
    reason = nothing_found(files)
    if reason is not None or files is None:
        return Outcome.skip(reason or "no facts")
    findings: list[Finding] = []
    judged: list[str] = []
    for image in images(files):
        started = image_runs_moshi_server(image)
        if started is None:
            continue
        judged.append(image.path)
        if image_installs_moshi_server(image) is None:
            finding = _not_installed(image, started)
            if finding is not None:
                findings.append(finding)
        if runs_moshi_server(started.words) != "bare":
            continue
        old = _old_python_moshi(image)
        if old is not None:
            requirement, install = old
            findings.append(
                Finding(
                    "DOCKER007",
                    f"{where(started.file, started.line)} calls `moshi-server` by bare name, and "
                    f"{where(install.file, install.line)} installs the Python package "
                    f"{requirement}, whose own `moshi-server` script can run instead",
                    evidence={
                        "file": started.file,
                        "line": started.line,
                        "python_moshi": requirement,
                        "installed_at": where(install.file, install.line),
                    },
                )
            )
    if not judged:
        return Outcome.skip("no Dockerfile starts moshi-server")
    if findings:
        return Outcome.found(f"{len(findings)} problem(s) starting moshi-server", *findings)
    return Outcome.ok(f"{', '.join(judged)}: moshi-server is installed and called unambiguously")


CHECK = Check(
    id="docker.install",
    group="files",
    title="Image installs the moshi-server it runs",
    codes=("DOCKER003", "DOCKER007"),
    probes=("files",),
    run=check,
)
