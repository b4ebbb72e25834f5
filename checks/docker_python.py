"""docker.python: the Python side of a moshi-server image comes from its lock, or matches it.

What it checks
    In each Dockerfile that builds or runs moshi-server, every Python install written in a
    ``RUN`` or a script the image runs (``pip install``, ``python -m pip install``,
    ``uv pip install``, ``uv add``):

    - DOCKER001, for ``torch``: the CPU-only build (``+cpu``, the ``/whl/cpu`` index, even as an
      extra index: ``2.6.0+cpu`` sorts above ``2.6.0``); a ``+cuXYZ`` pin asked of PyPI, which
      has no local versions; a CUDA flavour that release was never built for; a pinned release
      with no wheel for the image's Python (``FROM python:X.Y``, ``uv venv --python X.Y``...);
      a wheel of a newer CUDA major than the base image's.
    - DOCKER002: hand-written installs that leave out requirements of moshi-server's pyproject
      (policy: the pin generation of the moshi-server version the image installs), or pin
      versions its pyproject excludes. Installs from a file the linter cannot see
      (``uv sync``, ``-r requirements.txt``, ``pip install .``) are trusted for completeness.

Why it matters
    The TTS runs torch on the GPU: a CPU torch fails at start-up (TORCH002), a torch with no
    wheel fails the build (TORCH003). A hand-made environment without ``julius`` or with another
    ``moshi`` fails at start-up with ``ModuleNotFoundError`` or a ``TypeError`` (PY002, PY003).

How to fix
    Make the environment from moshi-server's ``pyproject.toml`` and ``uv.lock``
    (``uv sync --locked``), as Kyutai's image does; when torch must be installed by hand, use
    the PyTorch index of a CUDA flavour the release has (``--index-url
    https://download.pytorch.org/whl/cu128``).
"""

from __future__ import annotations

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from kyudoctor import policy
from kyudoctor.model import Check, Facts, Finding, Outcome

from ._docker import (
    Command,
    Image,
    PipInstall,
    Wanted,
    base_image,
    chunks,
    files_facts,
    image_python,
    images,
    index_flavour,
    installs_moshi_server,
    is_moshi_server_image,
    known_requirements,
    moshi_server_install_version,
    nothing_found,
    python_installs,
    version_of,
    wanted,
    where,
)

TORCH = "torch"


def _flavour(install: PipInstall, want: Wanted) -> tuple[str | None, str]:
    """The flavour pip would pick, and where that comes from."""
    cpu = policy.load().torch_cpu_flavour
    if want.local:
        return want.local.lower(), f"the pin {want.name}{want.specifier}"
    url_flavour = index_flavour(want.url) if want.url else None
    if url_flavour:
        return url_flavour, f"the wheel URL {want.url}"
    if install.index_url and index_flavour(install.index_url):
        return index_flavour(install.index_url), f"--index-url {install.index_url}"
    if install.torch_backend and install.torch_backend != "auto":
        return install.torch_backend.lower(), f"--torch-backend={install.torch_backend}"
    for extra in install.extra_index_urls:
        if index_flavour(extra) == cpu:
            return cpu, f"--extra-index-url {extra} (its +{cpu} builds sort above PyPI's)"
    return None, "PyPI"


def _image_cuda(image: Image, command: Command) -> str | None:
    stage = command.stage if isinstance(command.stage, int) else None
    if stage is None and image.chain:
        stage = image.chain[0]
    root = image.root_base(stage) if stage is not None else None
    return base_image(str(root.get("base") or "")).cuda if root else None


def _torch_problem(image: Image, install: PipInstall, want: Wanted, command: Command) -> str | None:
    pol = policy.load()
    flavour, source = _flavour(install, want)
    if flavour == pol.torch_cpu_flavour:
        return f"installs the CPU-only torch build ({source}); the TTS runs torch on the GPU"
    if want.local and not install.index_url and not want.url and not install.extra_index_urls:
        if install.torch_backend is None:
            return (
                f"asks PyPI for {want.name}{want.specifier}: PyPI has no +{want.local} builds "
                '("No matching distribution"); they are on the PyTorch index '
                f"{pol.index_url(want.local)}"
            )
    release = pol.torch_release(want.version)
    if release is not None and flavour and flavour.startswith("cu"):
        if flavour not in release.flavours:
            return (
                f"installs torch {want.version} as {flavour} ({source}), a flavour torch "
                f"{release.release} was never built for (it has {', '.join(release.flavours)})"
            )
    python = image_python(image)
    if want.version and python is not None:
        supported = pol.torch_python_supported(want.version, python[0])
        if supported is False and release is not None:
            return (
                f"pins torch {want.version}, which has no wheel for Python {python[0]} (set at "
                f"{where(python[1], python[2])}; torch {release.release} supports Python "
                f"{release.python_min} to {release.python_max})"
            )
    wheel_cuda = pol.flavour_cuda(flavour)
    image_cuda = _image_cuda(image, command)
    major = version_of(wheel_cuda)
    image_major = version_of(image_cuda)
    if major is not None and image_major is not None and major.major > image_major.major:
        return (
            f"installs a CUDA {wheel_cuda} torch ({flavour}, {source}) into a CUDA "
            f"{image_cuda} base image: it needs a driver for CUDA {major.major}"
        )
    return None


def _torch_findings(image: Image) -> list[Finding]:
    findings = []
    for install, command in python_installs(image):
        for requirement in install.requirements:
            want = wanted(requirement)
            if want is None or want.name != TORCH:
                continue
            problem = _torch_problem(image, install, want, command)
            if problem is not None:
                findings.append(
                    Finding(
                        "DOCKER001",
                        f"{where(command.file, command.line)} {problem}",
                        evidence={
                            "file": command.file,
                            "line": command.line,
                            "requirement": requirement,
                            "index_url": install.index_url,
                        },
                    )
                )
    return findings


def _server_version(image: Image) -> str | None:
    for command in (*image.build, *image.start):
        if installs_moshi_server(command.words):
            version = moshi_server_install_version(command.words)
            if version:
                return version
    return None


def _deps_findings(image: Image) -> list[Finding]:
    installs = python_installs(image)
    known = known_requirements(_server_version(image))
    specs: dict[str, str] = {}
    for dependency in known.dependencies:
        parsed = wanted(dependency)
        if parsed is not None:
            specs[parsed.name] = parsed.specifier
    optional = {canonicalize_name(n) for n in known.optional}
    relevant = set(specs) | {TORCH}
    hand: list[tuple[Wanted, Command]] = []
    for install, command in installs:
        for requirement in install.requirements:
            want = wanted(requirement)
            if want is not None and want.name in relevant:
                hand.append((want, command))
    if not hand:
        return []
    findings = []
    for want, command in hand:
        spec_text = specs.get(want.name)
        if not spec_text or not want.version:
            continue
        try:
            spec = SpecifierSet(spec_text)
        except InvalidSpecifier:
            continue
        if not spec.contains(want.version, prereleases=True):
            findings.append(
                Finding(
                    "DOCKER002",
                    f"{where(command.file, command.line)} pins {want.name}=={want.version}; "
                    f"moshi-server's pyproject requires {want.name}{spec_text} ({known.source})",
                    evidence={
                        "file": command.file,
                        "line": command.line,
                        "package": want.name,
                        "pinned": want.version,
                        "required": spec_text,
                    },
                    params={"package": want.name},
                )
            )
    if any(install.from_project for install, _ in installs):
        return findings
    installed = {want.name for want, _ in hand}
    missing = sorted(n for n in specs if n not in installed and n not in optional)
    if missing:
        first = hand[0][1]
        findings.insert(
            0,
            Finding(
                "DOCKER002",
                f"{where(first.file, first.line)} installs moshi-server's Python dependencies by "
                f"hand ({chunks(sorted(installed))}) but not {chunks(missing)}, which its "
                f"pyproject requires ({known.source})",
                evidence={
                    "file": first.file,
                    "line": first.line,
                    "installed": sorted(installed),
                    "missing": missing,
                },
            ),
        )
    return findings


def check(facts: Facts) -> Outcome:
    """DOCKER001 unsuitable torch installs; DOCKER002 incomplete or mispinned hand installs."""
    files = files_facts(facts)
    reason = nothing_found(files)
    if reason is not None or files is None:
        return Outcome.skip(reason or "no facts")
    server_images = [i for i in images(files) if is_moshi_server_image(i)]
    if not server_images:
        return Outcome.skip("no Dockerfile builds or runs moshi-server")
    findings: list[Finding] = []
    for image in server_images:
        findings.extend(_torch_findings(image))
        findings.extend(_deps_findings(image))
    if findings:
        return Outcome.found(f"{len(findings)} Python install problem(s)", *findings)
    hand = sum(1 for image in server_images for _ in python_installs(image))
    if not hand:
        return Outcome.ok("the images install no Python packages by hand")
    return Outcome.ok(f"{hand} Python install step(s) match moshi-server's requirements")


CHECK = Check(
    id="docker.python",
    group="files",
    title="Image installs moshi-server's Python dependencies correctly",
    codes=("DOCKER001", "DOCKER002"),
    probes=("files",),
    run=check,
)
