"""cuda.arch: can nvcc generate code for the GPU the build targets?

What it checks
    CUDA006. moshi-server's build compiles its kernels for ONE compute capability: the digits
    of ``CUDA_COMPUTE_CAP`` when set (e.g. ``89``), else what ``nvidia-smi --query-gpu=
    compute_cap`` reports. The check takes that target (the env variable from the ``system``
    facts, else each GPU's capability from the ``gpu`` facts, else the policy's table by GPU
    name) and looks it up in ``nvcc --list-gpu-arch``:

    - target not listed (a GPU newer than the toolkit, or one the toolkit dropped): error;
    - ``CUDA_COMPUTE_CAP`` that is not digits (``8.9``, ``sm_89``): error;
    - no GPU visible and no ``CUDA_COMPUTE_CAP``: the build would panic ("`nvidia-smi`
      failed"), but that is a consequence of what gpu.driver reports (GPU001/GPU002): the check
      is skipped naming that code, and says to set ``CUDA_COMPUTE_CAP`` to build without a GPU.

Why it matters
    bindgen_cuda panics with "nvcc cannot target gpu arch" when nvcc does not know the target,
    and with "`nvidia-smi` failed" when it has no target at all.

How to fix
    A toolkit that lists the GPU's ``compute_XX`` (newer GPUs need newer toolkits), or, when
    building without the GPU, ``CUDA_COMPUTE_CAP=<digits of the GPU that will run it>``
    (``nvidia-smi --query-gpu=compute_cap`` on that machine).

Skipped without a working, supported nvcc (CUDA001, CUDA003), when nvcc is too old for
``--list-gpu-arch``, and for GPUs below the policy's bf16 floor (GPU005: moshi-server cannot
run on them whatever the toolkit).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kyudoctor.model import Check, Facts, Finding, Outcome
from kyudoctor.policy import Policy, load, parse_version

from ._cuda import nvcc_unusable
from ._gpu import no_gpu_reason
from ._util import probe_facts

ENV = "CUDA_COMPUTE_CAP"


def _digits(cc: str) -> str:
    """ "8.9" -> "89" (the CUDA_COMPUTE_CAP spelling)."""
    return cc.replace(".", "")


def _dotted(digits: str) -> str:
    """ "89" -> "8.9", "120" -> "12.0"."""
    return f"{digits[:-1]}.{digits[-1]}"


def _cc_key(cc: str) -> tuple[int, ...]:
    return tuple(int(part) for part in cc.split(".") if part.isdigit())


def _targets(
    gpu: Mapping[str, Any], policy_gpu_cc: Callable[[str | None], str | None]
) -> list[tuple[str, str]]:
    """(cc, label) for each GPU whose capability is known (from NVML/smi, else by name)."""
    out: list[tuple[str, str]] = []
    for g in gpu.get("gpus") or []:
        if not isinstance(g, Mapping):
            continue
        cc = g.get("compute_cap") or policy_gpu_cc(g.get("name"))
        if cc:
            out.append((str(cc), f"GPU {g.get('index')} {g.get('name')}"))
    return out


def check(facts: Facts) -> Outcome:
    """CUDA006 when the build's target compute capability is not in nvcc's list (or is absent)."""
    policy = load()
    nvcc_facts = probe_facts(facts, "nvcc")
    reason = nvcc_unusable(nvcc_facts, policy)
    if reason is not None or nvcc_facts is None:
        return Outcome.skip(reason or "the nvcc probe did not run")
    nvcc = nvcc_facts["nvcc"]
    nvcc_name = f"nvcc {nvcc.get('version')}"
    env = (probe_facts(facts, "system") or {}).get("env") or {}
    gpu = probe_facts(facts, "gpu")
    value = env.get(ENV)

    if value is not None:
        text = str(value).strip()
        if not text.isdigit() or len(text) < 2:
            finding = Finding(
                "CUDA006",
                f"{ENV}={value!r} is not a compute capability in digits: the build reads it as a "
                f"number such as {_digits(_example_cc(gpu, policy))}",
                evidence={ENV: value},
            )
            return Outcome.found(f"{ENV} is malformed", finding)
        targets = [(_dotted(text), f"{ENV}={text}")]
    else:
        if gpu is None:
            return Outcome.skip("no GPU facts (the gpu probe did not finish)")
        targets = _targets(gpu, policy.gpu_cc)
        if not targets:
            if gpu.get("source") is not None and gpu.get("gpus"):
                names = ", ".join(str(g.get("name")) for g in gpu["gpus"] if isinstance(g, Mapping))
                return Outcome.skip(f"compute capability of {names} unknown")
            # One problem, one code: without a GPU the build's "`nvidia-smi` failed" panic is a
            # consequence of what gpu.driver reports; the hint says how to build without one.
            reason = no_gpu_reason(gpu, probe_facts(facts, "system")) or "no GPU visible"
            return Outcome.skip(
                f"{reason}: no GPU architecture to compare; to build moshi-server on a machine "
                f"without the GPU, set {ENV} to the digits of the GPU that will run it"
            )

    archs = nvcc_facts.get("gpu_archs")
    floor = parse_version(str(policy.bf16_min_cc))
    usable: list[tuple[str, str]] = []
    below: list[str] = []
    for cc, label in targets:
        parsed = parse_version(cc)
        if floor is not None and parsed is not None and parsed < floor:
            below.append(f"{label} (compute capability {cc})")
        else:
            usable.append((cc, label))
    if not usable:
        return Outcome.skip(f"{', '.join(below)} is below what moshi-server runs on (GPU005)")
    if not archs:
        return Outcome.skip(f"{nvcc_name} cannot list its GPU architectures (no --list-gpu-arch)")
    missing = [(cc, label) for cc, label in usable if cc not in archs]
    if not missing:
        listed = ", ".join(f"{label}: sm_{_digits(cc)}" for cc, label in usable)
        return Outcome.ok(f"{nvcc_name} targets {listed}")
    findings = []
    for cc, label in missing:
        newest = max(archs, key=_cc_key)
        findings.append(
            Finding(
                "CUDA006",
                f"{label} has compute capability {cc} (sm_{_digits(cc)}), which {nvcc_name} "
                f"cannot target (its --list-gpu-arch: {archs[0]} to {newest}); a toolkit whose "
                f"`nvcc --list-gpu-arch` lists compute_{_digits(cc)} can",
                evidence={"target": cc, "gpu_archs": list(archs)},
                params={"compute_cap": _digits(cc)},
                commands=(),
            )
        )
    return Outcome.found(f"{nvcc_name} cannot build for sm_{_digits(missing[0][0])}", *findings)


def _example_cc(gpu: Mapping[str, Any] | None, policy: Policy) -> str:
    """The first GPU's capability, else the H100's from the policy table (for a message)."""
    for g in (gpu or {}).get("gpus") or []:
        if isinstance(g, Mapping) and g.get("compute_cap"):
            return str(g["compute_cap"])
    return str(policy.gpu_cc("NVIDIA H100") or policy.bf16_min_cc)


CHECK = Check(
    id="cuda.arch",
    group="host",
    title="GPU architecture vs nvcc",
    codes=("CUDA006",),
    probes=("nvcc",),
    run=check,
    uses=("gpu", "system", "binary"),
)
