"""gpu.driver_cuda: whether the driver runs the CUDA build of torch that moshi-server pins.

What it checks
    The driver's maximum CUDA version (NVML, or the ``nvidia-smi`` header) against the CUDA
    version of the torch wheel in moshi-server's lock (the policy's known requirements: the
    torch version and its PyPI flavour, e.g. ``cu128`` -> CUDA 12.8), allowing CUDA minor-version
    compatibility within a major release. When the driver cannot run that wheel, it asks the
    policy for the CUDA build of the same torch release that this driver and GPU can run.

    When the target environment already has torch installed, GPU003 is not reported here:
    torch.wheel compares the installed wheel with the driver (TORCH005), so one problem gets one
    code. Skipped when there is no driver or no GPU (GPU001), or when the driver does not report
    its maximum CUDA version.

Why it matters
    A CUDA program needs a driver at least as new as its CUDA runtime (within a major release,
    minor-version compatibility lets it run with limits). Installing moshi-server's lock on an
    older driver gives "CUDA driver version is insufficient for CUDA runtime version" or "The
    NVIDIA driver on your system is too old" when the TTS starts.

How to fix
    Upgrade the driver to the version the policy gives for that CUDA release (the finding gives
    the apt command on Ubuntu; on WSL the driver is the Windows one, in a container the host's),
    or, when a CUDA build of the pinned torch release runs on this driver, install that build
    from its PyTorch index (the finding gives the exact command).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kyudoctor.model import Check, Facts, Finding, Outcome, Severity
from kyudoctor.policy import Compat, load, parse_version

from ._gpu import compute_cap, cuda_visible_devices, no_gpu_reason, visible_gpus
from ._util import probe_facts, quote, sudo


def check(facts: Facts) -> Outcome:
    """GPU003 when no torch is installed yet and the driver cannot run the lock's torch wheel."""
    gpu = probe_facts(facts, "gpu")
    reason = no_gpu_reason(gpu, probe_facts(facts, "system"))
    if reason is not None or gpu is None:
        return Outcome.skip(reason or "no GPU facts")
    driver_cuda = gpu.get("driver_max_cuda")
    driver = gpu.get("driver_version")
    if not driver_cuda:
        return Outcome.skip(
            f"driver {driver or '(version unknown)'} does not report its maximum CUDA version"
        )
    policy = load()
    requirements = policy.known_requirements()
    torch_version = requirements.lock.get("torch")
    flavour = requirements.torch_flavour
    needed = policy.flavour_cuda(flavour)
    if torch_version is None or needed is None:
        return Outcome.skip("the policy data has no CUDA torch pin for moshi-server")

    wheel = f"torch {torch_version}+{flavour} (CUDA {needed})"
    head = f"driver {driver or '(version unknown)'} supports CUDA {driver_cuda} at most"
    compat = policy.driver_supports_cuda(driver_cuda, needed, driver)
    if compat is Compat.YES:
        return Outcome.ok(f"{head}; moshi-server's lock installs {wheel}")
    if compat is Compat.MINOR_COMPAT:
        return Outcome.ok(
            f"{head}; moshi-server's lock installs {wheel}, which runs on it through CUDA "
            "minor-version compatibility"
        )
    if compat is not Compat.NO:
        return Outcome.skip(f"{head}; whether it runs {wheel} is not known to the policy data")

    python = probe_facts(facts, "python")
    installed = (python or {}).get("torch")
    if installed:
        return Outcome.skip(
            f"{head}, older than moshi-server's {wheel}; torch "
            f"{installed.get('version')} is installed, so torch.wheel compares that wheel with "
            "the driver (TORCH005)"
        )

    system = probe_facts(facts, "system")
    gpus: Sequence[Mapping[str, Any]] = gpu.get("gpus") or []
    visible = visible_gpus(gpus, cuda_visible_devices(system)) or list(gpus)
    cc = compute_cap(visible[0], policy) if visible else None
    best = policy.best_torch_flavour(torch_version, driver_cuda, cc)
    if best is not None and (
        policy.driver_supports_cuda(driver_cuda, policy.flavour_cuda(best), driver) is Compat.NO
    ):
        best = None  # below the minor-version-compatibility minimum: that build fails too
    requirement = policy.driver_min_for_cuda(needed)
    driver_min = requirement.toolkit_driver if requirement is not None else None
    params: dict[str, Any] = {
        "driver_min": driver_min,
        "cuda_version": needed,
        "torch_version": torch_version,
    }
    evidence = {
        "driver_version": driver,
        "driver_max_cuda": driver_cuda,
        "lock_torch": f"{torch_version}+{flavour}",
        "needed_cuda": needed,
        "best_flavour": best,
        "requirements_source": requirements.source,
    }
    if best is not None:
        params["flavour"] = best
        return Outcome.found(
            f"{head}: moshi-server's {wheel} will not run; the {best} build will",
            Finding(
                "GPU003",
                f"{head}: moshi-server's lock installs {wheel}, which this driver cannot run; "
                f"the {best} build of torch {torch_version} runs on it (or upgrade the driver"
                + (f" to {driver_min} or newer)" if driver_min else ")"),
                evidence=evidence,
                params=params,
                severity=Severity.WARNING,
                commands=_pip_commands(python, requirements.lock, best, policy.index_url(best)),
            ),
        )
    where, commands = _driver_upgrade(system, driver_min)
    return Outcome.found(
        f"{head}: too old for moshi-server's {wheel}",
        Finding(
            "GPU003",
            f"{head}: moshi-server's lock installs {wheel}, and no CUDA build of torch "
            f"{torch_version} runs on this driver; "
            + (
                f"driver {driver_min} or newer is needed"
                if driver_min
                else "a newer driver is needed"
            )
            + where,
            evidence=evidence,
            params=params,
            commands=commands,
        ),
    )


def _pip_commands(
    python: Mapping[str, Any] | None, lock: Mapping[str, str], flavour: str, index_url: str
) -> tuple[str, ...] | None:
    """The pip command for the target interpreter; None (the catalog template) when unknown."""
    executable = (python or {}).get("executable")
    if not executable:
        return None
    pins = [f"torch=={lock['torch']}"]
    if "torchaudio" in lock:
        pins.append(f"torchaudio=={lock['torchaudio']}")
    packages = " ".join(quote(p) for p in pins)
    return (f"{quote(str(executable))} -m pip install {packages} --index-url {index_url}",)


def _driver_upgrade(
    system: Mapping[str, Any] | None, driver_min: str | None
) -> tuple[str, tuple[str, ...]]:
    """Where the driver must be upgraded (prose) and the command, where one is certain."""
    os_facts: Mapping[str, Any] = (system or {}).get("os") or {}
    if os_facts.get("is_wsl"):
        return "; this is WSL: upgrade the NVIDIA driver on Windows, not inside WSL", ()
    if ((system or {}).get("container") or {}).get("inside"):
        return "; inside a container the driver is the host's: upgrade it on the host", ()
    release: Mapping[str, Any] = (system or {}).get("os_release") or {}
    version = parse_version(driver_min)
    if release.get("id") == "ubuntu" and version is not None:
        branch = version.release[0]
        # Ubuntu names its driver packages by branch (nvidia-driver-570); a reboot loads it.
        return "; install it and reboot", (
            f"{sudo(system)}apt-get install -y nvidia-driver-{branch}",
        )
    return "; install it from your distribution or NVIDIA and reboot", ()


CHECK = Check(
    id="gpu.driver_cuda",
    group="host",
    title="Driver CUDA version for moshi-server's torch",
    codes=("GPU003",),
    probes=("gpu",),
    run=check,
    uses=("python", "system"),
)
