"""cuda.driver: does the NVIDIA driver run what this nvcc builds?

What it checks
    CUDA005: nvcc's CUDA release against the driver's maximum CUDA version (NVML or the
    ``nvidia-smi`` header), with the policy's rule for minor-version compatibility: a driver of
    the same CUDA major (at least that major's minimum) runs newer-minor code with limits, a
    driver of an older major does not run it at all.

Why it matters
    moshi-server's CUDA kernels are compiled by nvcc to PTX and JIT-compiled by the driver when
    the server starts. A driver older than the toolkit refuses PTX from a newer toolkit
    ("CUDA_ERROR_UNSUPPORTED_PTX_VERSION", see GPU003), even under minor-version compatibility.

How to fix
    Upgrade the driver to at least the one bundled with this toolkit (the check names it), or
    build with an older toolkit the driver supports (when one is installed, the check prints the
    ``export`` lines that select it).

Skipped without a working, supported nvcc (CUDA001, CUDA003) and without a driver (GPU001).
"""

from __future__ import annotations

from collections.abc import Mapping

from kyudoctor.model import Check, Facts, Finding, Outcome
from kyudoctor.policy import Compat, load

from ._cuda import export_toolkit, nvcc_unusable
from ._util import probe_facts


def check(facts: Facts) -> Outcome:
    """CUDA005 when nvcc's CUDA release is newer than the driver's maximum CUDA version."""
    policy = load()
    nvcc_facts = probe_facts(facts, "nvcc")
    reason = nvcc_unusable(nvcc_facts, policy)
    if reason is not None or nvcc_facts is None:
        return Outcome.skip(reason or "the nvcc probe did not run")
    gpu = probe_facts(facts, "gpu")
    if gpu is None:
        return Outcome.skip("no GPU facts (the gpu probe did not finish)")
    if gpu.get("source") is None:
        return Outcome.skip("no NVIDIA driver (GPU001)")
    driver_max = gpu.get("driver_max_cuda")
    driver = gpu.get("driver_version")
    if not driver_max:
        return Outcome.skip(f"driver {driver} did not report its maximum CUDA version")
    nvcc = nvcc_facts["nvcc"]
    release = str(nvcc["release"])
    compat = policy.driver_supports_cuda(str(driver_max), release, driver)
    seen = (
        f"nvcc {nvcc.get('version')} builds for CUDA {release}; "
        f"driver {driver} supports CUDA {driver_max}"
    )
    if compat is Compat.YES:
        return Outcome.ok(f"{seen}: the driver runs it")
    if compat is Compat.UNKNOWN:
        return Outcome.skip(f"{seen}: the policy data cannot tell whether it runs")
    if compat is Compat.MINOR_COMPAT:
        message = (
            f"{seen} at most: it runs only through minor-version compatibility, and the driver "
            "cannot JIT-compile PTX from this newer toolkit (CUDA_ERROR_UNSUPPORTED_PTX_VERSION)"
        )
    else:
        message = f"{seen} at most: code built by this toolkit does not run on this driver"
    requirement = policy.driver_min_for_cuda(release)
    params = {"cuda_version": release}
    if requirement is not None:
        params["driver_min"] = requirement.toolkit_driver
        message += f"; CUDA {release} comes with driver {requirement.toolkit_driver}"
    older = [
        t
        for t in nvcc_facts.get("toolkits") or []
        if isinstance(t, Mapping)
        and t.get("release")
        and policy.cuda_build_supported(str(t["release"]))
        and policy.driver_supports_cuda(str(driver_max), str(t["release"]), driver) is Compat.YES
    ]
    commands = None
    if older:
        message += f"; CUDA {older[0]['release']} in {older[0]['root']} runs on this driver"
        commands = export_toolkit(str(older[0]["root"]))
    finding = Finding(
        "CUDA005",
        message,
        evidence={"nvcc_release": release, "driver": driver, "driver_max_cuda": driver_max},
        params=params,
        commands=commands,
    )
    return Outcome.found(f"toolkit CUDA {release} newer than driver's CUDA {driver_max}", finding)


CHECK = Check(
    id="cuda.driver",
    group="host",
    title="CUDA toolkit vs driver",
    codes=("CUDA005",),
    probes=("nvcc",),
    run=check,
    uses=("gpu",),
)
