"""torch.wheel: the installed torch is a CUDA build this driver and this GPU can run.

What it checks
    The build of the installed torch, read from its version (``2.9.1+cu128``) and
    ``torch/version.py`` without importing it: a CPU-only (or ROCm) build is TORCH002. With the
    driver known (``gpu`` probe): the wheel's CUDA version against the driver's maximum CUDA
    version (TORCH005; minor-version compatibility within a major release is accepted), and
    each GPU's compute capability against the build's architecture list in kyudoctor's policy
    data (TORCH008; an unknown list is said, not reported).

Why it matters
    moshi-server's TTS code hard-codes ``device='cuda'``: a CPU build fails ("Torch not compiled
    with CUDA enabled") whatever the Rust build flags say. A wheel built for a newer CUDA than
    the driver supports fails with "The NVIDIA driver on your system is too old". A build
    without kernels for the GPU's architecture fails with "no kernel image is available for
    execution on the device" (RTX 50xx / sm_120 needs a cu128 build of torch 2.7 or newer).

How to fix
    Reinstall torch (and the matching torchaudio) from the PyTorch index of the CUDA flavour
    that suits this driver and GPU; the exact command, with ``--index-url``, is computed from
    the driver's maximum CUDA version and the GPU's compute capability. Or upgrade the driver.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kyudoctor import policy
from kyudoctor.model import Check, Facts, Finding, Outcome

from ._python import describe, public_version, unusable
from ._util import probe_facts, quote


def check(facts: Facts) -> Outcome:
    """TORCH002 for a CPU build; TORCH005/TORCH008 against the driver and the GPUs."""
    python = probe_facts(facts, "python")
    reason = unusable(python)
    if reason is not None or python is None:
        return Outcome.skip(reason or "the target Python was not examined")
    torch_facts: Mapping[str, Any] = python.get("torch") or {}
    dists: Mapping[str, Any] = python.get("distributions") or {}
    version = str((dists.get("torch") or {}).get("version") or torch_facts.get("version") or "")
    if not version:
        return Outcome.skip(f"torch is not installed in {python.get('prefix')} (TORCH001)")
    pol = policy.load()
    public = public_version(version) or version
    cuda = torch_facts.get("cuda")
    hip = torch_facts.get("hip")
    version_py_read = bool(torch_facts.get("version_py"))
    flavour = pol.torch_flavour_of(version, str(cuda) if cuda else None)
    if not version_py_read and policy.parse_version(version) is not None:
        local = policy.parse_version(version)
        flavour = local.local if local is not None and local.local else None
    wheel_cuda = pol.flavour_cuda(flavour) or (str(cuda) if cuda else None)
    label = f"torch {version}"
    gpu = probe_facts(facts, "gpu")
    driver_max = gpu.get("driver_max_cuda") if gpu and gpu.get("source") else None
    gpus = _gpus(pol, gpu) if driver_max else []
    where = describe(python)

    cpu_only = flavour == pol.torch_cpu_flavour or bool(hip) or (flavour or "").startswith("rocm")
    if cpu_only:
        return Outcome.found(
            f"{where}: {label} is a CPU-only build",
            _cpu_only(pol, python, version, public, hip, driver_max, gpus),
        )
    if wheel_cuda is None:
        return Outcome.skip(
            f"{label}: its CUDA version is unknown (no local version, torch/version.py unread)"
        )
    label = f"{label} (CUDA {wheel_cuda})"
    if gpu is None:
        return Outcome.skip(f"{label}: the GPU was not examined (the gpu probe failed)")
    if not gpu.get("source") or not driver_max:
        why = gpu.get("error") or "the driver's maximum CUDA version is unknown"
        return Outcome.skip(f"{label}: not compared with the driver: {why} (GPU001)")

    findings: list[Finding] = []
    said = [label, f"driver {gpu.get('driver_version')} (CUDA {driver_max})"]
    compat = pol.driver_supports_cuda(str(driver_max), wheel_cuda, gpu.get("driver_version"))
    if compat == "no":
        findings.append(_too_new(pol, python, gpu, public, wheel_cuda, str(driver_max), gpus))
    elif compat == "minor-compat":
        said.append(
            f"runs by CUDA minor-version compatibility (driver CUDA {driver_max} < {wheel_cuda})"
        )
    elif compat == "unknown":
        said.append("driver compatibility unknown")

    seen_cc: set[str] = set()
    for name, cc in gpus:
        if cc is None:
            said.append(f"{name}: compute capability unknown")
            continue
        if cc in seen_cc:
            continue
        seen_cc.add(cc)
        supported = pol.torch_supports_cc(public, flavour, cc)
        if supported is False:
            findings.append(_arch_missing(pol, python, public, flavour, name, cc, str(driver_max)))
        elif supported is None:
            said.append(
                f"arch list unknown for torch {public} {flavour} (sm_{cc.replace('.', '')})"
            )
        else:
            said.append(f"{name} sm_{cc.replace('.', '')} supported")
    if findings:
        return Outcome.found(f"{where}: " + ", ".join(said), *findings)
    return Outcome.ok(f"{where}: " + ", ".join(said))


def _gpus(pol: policy.Policy, gpu: Mapping[str, Any] | None) -> list[tuple[str, str | None]]:
    """(name, compute capability) of each GPU; the policy table fills a missing capability."""
    out: list[tuple[str, str | None]] = []
    for item in (gpu or {}).get("gpus") or []:
        if not isinstance(item, Mapping):
            continue
        name = str(item.get("name") or f"GPU {item.get('index')}")
        cc = item.get("compute_cap") or pol.gpu_cc(name)
        out.append((name, str(cc) if cc else None))
    return out


def _pip_command(
    pol: policy.Policy, python: Mapping[str, Any], public: str, flavour: str | None
) -> str:
    """Reinstall torch (and its torchaudio, when present or required) from a flavour's index."""
    interpreter = str(python.get("interpreter"))
    parts = [f"{quote(interpreter)} -m pip install --force-reinstall {quote('torch==' + public)}"]
    audio = _torchaudio_for(pol, python, public)
    if audio is not None:
        parts.append(quote("torchaudio==" + audio))
    if flavour is not None:
        parts.append(f"--index-url {pol.index_url(flavour)}")
    return " ".join(parts)


def _torchaudio_for(pol: policy.Policy, python: Mapping[str, Any], public: str) -> str | None:
    """The torchaudio to install with torch ``public``, when the environment has or wants one."""
    dists: Mapping[str, Any] = python.get("distributions") or {}
    requirements: Mapping[str, Any] = python.get("requirements") or {}
    wanted = any(
        str(d).split(";")[0].strip().lower().startswith("torchaudio")
        for d in requirements.get("dependencies") or []
    )
    if "torchaudio" not in dists and not wanted:
        return None
    release = pol.torch_release(public)
    if release is None or not release.torchaudio:
        return None
    return public if public in release.torchaudio else release.torchaudio[-1]


def _params(python: Mapping[str, Any], public: str, flavour: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"python": python.get("interpreter"), "torch_version": public}
    if flavour is not None:
        params["flavour"] = flavour
    return params


def _cpu_only(
    pol: policy.Policy,
    python: Mapping[str, Any],
    version: str,
    public: str,
    hip: Any,
    driver_max: Any,
    gpus: list[tuple[str, str | None]],
) -> Finding:
    kind = f"a ROCm build (HIP {hip})" if hip else "a CPU-only build"
    ccs = [cc for _, cc in gpus if cc]
    cc = ccs[0] if ccs else None
    release = pol.torch_release(public)
    if driver_max:
        flavour = pol.best_torch_flavour(public, str(driver_max), cc)
        if flavour is not None:
            how = f"the {flavour} build suits this driver (CUDA {driver_max})" + (
                f" and GPU (sm_{cc.replace('.', '')})" if cc else ""
            )
        else:
            how = (
                f"no CUDA build of torch {public} runs on this driver (CUDA {driver_max}): "
                "upgrade the driver (GPU003)"
            )
            flavour = release.default_flavour if release is not None else None
    else:
        flavour = release.default_flavour if release is not None else None
        how = (
            f"no driver information: the command uses torch {public}'s default CUDA flavour "
            f"({flavour})"
            if flavour
            else f"kyudoctor does not know the CUDA flavours of torch {public}"
        )
    return Finding(
        "TORCH002",
        f"torch {version} in {python.get('prefix')} is {kind}: moshi-server's TTS runs on "
        f"device 'cuda' and fails with \"Torch not compiled with CUDA enabled\"; {how}",
        evidence={"torch": version, "hip": hip, "driver_max_cuda": driver_max},
        params=_params(python, public, flavour),
        commands=(_pip_command(pol, python, public, flavour),),
    )


def _too_new(
    pol: policy.Policy,
    python: Mapping[str, Any],
    gpu: Mapping[str, Any],
    public: str,
    wheel_cuda: str,
    driver_max: str,
    gpus: list[tuple[str, str | None]],
) -> Finding:
    ccs = [cc for _, cc in gpus if cc]
    flavour = pol.best_torch_flavour(public, driver_max, ccs[0] if ccs else None)
    requirement = pol.driver_min_for_cuda(wheel_cuda)
    params = _params(python, public, flavour)
    if requirement is not None:
        params["driver_min"] = requirement.toolkit_driver
    if flavour is not None:
        how = f"install the {flavour} build, or upgrade the driver"
        commands: tuple[str, ...] = (_pip_command(pol, python, public, flavour),)
    else:
        how = f"no CUDA build of torch {public} runs on this driver: upgrade the driver"
        commands = ()
    if requirement is not None:
        how += f" to {requirement.toolkit_driver} or newer"
    return Finding(
        "TORCH005",
        f"torch {public} is built for CUDA {wheel_cuda}, but driver {gpu.get('driver_version')} "
        f'supports CUDA {driver_max} at most: torch fails with "The NVIDIA driver on your '
        f'system is too old"; {how}',
        evidence={
            "torch_cuda": wheel_cuda,
            "driver_version": gpu.get("driver_version"),
            "driver_max_cuda": driver_max,
        },
        params=params,
        commands=commands,
    )


def _arch_missing(
    pol: policy.Policy,
    python: Mapping[str, Any],
    public: str,
    flavour: str | None,
    name: str,
    cc: str,
    driver_max: str,
) -> Finding:
    sm = f"sm_{cc.replace('.', '')}"
    arch = pol.torch_arch_list(public, flavour)
    fix_version = public
    fix_flavour = pol.best_torch_flavour(public, driver_max, cc)
    if fix_flavour is None:
        # No build of this release has the GPU's kernels: moshi-server's lock has a newer torch.
        requirements: Mapping[str, Any] = python.get("requirements") or {}
        locked = (requirements.get("lock") or {}).get("torch")
        lock_version = locked if isinstance(locked, str) else None
        known = pol.known_requirements()
        for candidate in (lock_version, known.lock.get("torch")):
            if candidate is None:
                continue
            chosen = pol.best_torch_flavour(candidate, driver_max, cc)
            if chosen is not None:
                fix_version, fix_flavour = candidate, chosen
                break
    how = (
        f"torch {fix_version} {fix_flavour} has them"
        if fix_flavour is not None
        else "no torch build kyudoctor knows has them for this driver"
    )
    commands = (
        (_pip_command(pol, python, fix_version, fix_flavour),) if fix_flavour is not None else ()
    )
    return Finding(
        "TORCH008",
        f"torch {public} {flavour} has no kernels for {name} ({sm}; built for "
        f'{arch.archs if arch else "other architectures"}): "no kernel image is available for '
        f'execution on the device"; {how}',
        evidence={"torch": public, "flavour": flavour, "gpu": name, "compute_cap": cc},
        params=_params(python, fix_version, fix_flavour),
        commands=commands,
    )


CHECK = Check(
    id="torch.wheel",
    group="host",
    title="torch build for this driver and GPU",
    codes=("TORCH002", "TORCH005", "TORCH008"),
    probes=("python",),
    run=check,
    uses=("gpu",),
)
