"""torch.install: torch and torchaudio in the target environment, and whether they can be.

What it checks
    That a torch distribution is installed (TORCH001); that the torch the requirements pin (in
    ``dependencies`` or the lock) has wheels for the target Python at all (TORCH003); that the
    installed torch is not older than kyudoctor's floor or the lock's version (TORCH004); and
    that torchaudio belongs to the same torch release (TORCH006). The CUDA build of the wheel
    is judged by ``torch.wheel``; a missing torchaudio is PY002 (``python.deps``).

Why it matters
    The TTS model runs on torch; without it the embedded Python fails at start-up ("No module
    named 'torch'"). torch publishes wheels per Python version, so a pin such as torch 2.2 on
    Python 3.13 cannot install ("Could not find a version that satisfies the requirement
    torch==..."). An old torch lacks what moshi needs. torchaudio's native library is built
    against one torch release: with another it fails to load ("undefined symbol" in
    ``libtorchaudio.so``).

How to fix
    Install from moshi-server's lock (``uv sync --locked`` in its Python project directory). For
    TORCH003, use a Python version that has wheels for the pinned torch (the pinned 3.12). For
    TORCH006, install the matching pair from the same index (the command is computed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from kyudoctor import policy
from kyudoctor.model import Check, Facts, Finding, Outcome

from ._python import describe, public_version, sync_command, unusable
from ._util import probe_facts, quote


def check(facts: Facts) -> Outcome:
    """TORCH001/003/004/006 for torch and torchaudio in the target environment."""
    python = probe_facts(facts, "python")
    reason = unusable(python)
    if reason is not None or python is None:
        return Outcome.skip(reason or "the target Python was not examined")
    pol = policy.load()
    where = describe(python)
    py_version = str(python.get("version"))
    sync = sync_command(python)
    params: dict[str, Any] = {"python": python.get("interpreter")}
    if sync:
        params["project_dir"] = sync.split(" ", 2)[1]
    commands = (sync,) if sync else None

    wanted, wanted_from = _wanted_torch(python)
    py_supported = _python_in_policy(pol, py_version)
    if (
        wanted is not None
        and py_supported
        and pol.torch_python_supported(wanted, py_version) is False
    ):
        release = pol.torch_release(wanted)
        assert release is not None  # torch_python_supported needs the row
        return Outcome.found(
            f"{where}: torch {wanted} has no wheel for it",
            Finding(
                "TORCH003",
                f"{wanted_from} pins torch {wanted}, which has Linux x86_64 wheels for Python "
                f"{release.python_min} to {release.python_max} only, not {py_version}: "
                f'"No matching distribution found for torch=={wanted}"',
                evidence={"torch": wanted, "python": py_version, "pinned_by": wanted_from},
                params={**params, "torch_version": wanted},
                commands=(f"uv venv -p {pol.python_pinned}",),
            ),
        )

    torch = _installed_torch(python)
    if torch is None:
        return Outcome.found(
            f"{where}: torch is not installed",
            Finding(
                "TORCH001",
                f"no torch distribution in {python.get('prefix')} ({where}): moshi-server's "
                "TTS fails at start-up with \"No module named 'torch'\"",
                evidence={"prefix": python.get("prefix")},
                params=params,
                commands=commands,
            ),
        )

    findings: list[Finding] = []
    said = [f"torch {torch}"]
    public = public_version(torch) or torch
    floor = pol.torch_min
    too_old_floor = pol.torch_too_old(torch) is True
    below_lock = (
        wanted is not None
        and (v := policy.parse_version(public)) is not None
        and (w := policy.parse_version(wanted)) is not None
        and v < w
    )
    if too_old_floor or below_lock:
        target = wanted if wanted is not None else floor
        reasons = [f"moshi needs torch >= {floor}"] if too_old_floor else []
        if below_lock:
            reasons.append(f"{wanted_from} has torch {wanted}")
        need = "; ".join(reasons)
        findings.append(
            Finding(
                "TORCH004",
                f"torch {torch} is installed in {python.get('prefix')}: {need}",
                evidence={"installed": torch, "minimum": floor, "lock": wanted},
                params={**params, "torch_version": target},
                commands=commands,
            )
        )
        said.append("too old")

    audio = _version_of(python, "torchaudio")
    if audio is not None:
        said.append(f"torchaudio {audio}")
        matches = pol.torchaudio_matches(public, audio)
        if matches is False:
            findings.append(_torchaudio_mismatch(pol, python, torch, audio, params))
        elif matches is None:
            said.append("(pairing unknown to kyudoctor)")
    if findings:
        return Outcome.found(f"{where}: " + ", ".join(said), *findings)
    return Outcome.ok(f"{where}: " + ", ".join(said))


def _torchaudio_mismatch(
    pol: policy.Policy, python: Mapping[str, Any], torch: str, audio: str, params: Mapping[str, Any]
) -> Finding:
    public = public_version(torch) or torch
    release = pol.torch_release(public)
    pair = audio
    if release is not None and release.torchaudio:
        pair = public if public in release.torchaudio else release.torchaudio[-1]
    flavour = pol.torch_flavour_of(torch, _torch_cuda(python))
    if flavour is None or pol.flavour_cuda(flavour) is None:
        # A CPU build is TORCH002's to fix; the pair itself comes from the release's CUDA index.
        flavour = release.default_flavour if release is not None else None
    interpreter = str(python.get("interpreter"))
    command = (
        f"{quote(interpreter)} -m pip install --force-reinstall "
        f"{quote('torch==' + public)} {quote('torchaudio==' + pair)}"
    )
    if flavour is not None:
        command += f" --index-url {pol.index_url(flavour)}"
    return Finding(
        "TORCH006",
        f"torchaudio {audio} does not belong to torch {torch}: torchaudio's native library fails "
        f"to load with another torch release (the match is torchaudio {pair})",
        evidence={"torch": torch, "torchaudio": audio, "matching_torchaudio": pair},
        params={
            **params,
            "torch_version": public,
            "torchaudio_version": pair,
            **({"flavour": flavour} if flavour else {}),
        },
        commands=(command,),
    )


def _python_in_policy(pol: policy.Policy, version: str) -> bool:
    """Whether the Python is within moshi-server's range (outside it, PY001 is the root)."""
    parsed = policy.parse_version(version)
    if parsed is None:
        return False
    mm = parsed.release[:2]
    return Version(pol.python_min).release[:2] <= mm <= Version(pol.python_max).release[:2]


def _wanted_torch(python: Mapping[str, Any]) -> tuple[str | None, str]:
    """The torch version the requirements pin (``torch==X``, else the lock), and who says so."""
    requirements: Mapping[str, Any] = python.get("requirements") or {}
    source = str(requirements.get("source") or "the requirements")
    for text in requirements.get("dependencies") or []:
        try:
            req = Requirement(str(text))
        except InvalidRequirement:
            continue
        specs = list(req.specifier)
        exact = len(specs) == 1 and specs[0].operator in ("==", "===")
        if canonicalize_name(req.name) == "torch" and exact and "*" not in specs[0].version:
            return specs[0].version, source
    lock: Mapping[str, Any] = requirements.get("lock") or {}
    locked = lock.get("torch")
    if isinstance(locked, str):
        where = requirements.get("lock_path") or f"the lock of {source}"
        return locked, str(where)
    return None, source


def _installed_torch(python: Mapping[str, Any]) -> str | None:
    """The installed torch version: its distribution's, else what torch/version.py says."""
    version = _version_of(python, "torch")
    if version is not None:
        return version
    torch: Mapping[str, Any] = python.get("torch") or {}
    found = torch.get("version")
    return str(found) if found else None


def _version_of(python: Mapping[str, Any], name: str) -> str | None:
    dists: Mapping[str, Any] = python.get("distributions") or {}
    dist = dists.get(name) or {}
    version = dist.get("version")
    return str(version) if version else None


def _torch_cuda(python: Mapping[str, Any]) -> str | None:
    torch: Mapping[str, Any] = python.get("torch") or {}
    cuda = torch.get("cuda")
    return str(cuda) if cuda else None


CHECK = Check(
    id="torch.install",
    group="host",
    title="torch and torchaudio installed",
    codes=("TORCH001", "TORCH003", "TORCH004", "TORCH006"),
    probes=("python",),
    run=check,
)
