"""gpu.capability: whether moshi-server's CUDA kernels can run on the GPUs it will see.

What it checks
    For the GPUs CUDA programs see (all of them, or those ``CUDA_VISIBLE_DEVICES`` selects):
    each GPU's compute capability (from the driver, else from the policy table by name) against
    the bf16 minimum of the policy; whether they mix capabilities; and whether
    ``CUDA_COMPUTE_CAP``, when set, is the digits of their capability (``89`` for 8.9). A
    ``CUDA_VISIBLE_DEVICES`` that hides every GPU is reported here too, since the fix is to pin it
    to the right GPU. Skipped when there is no driver or no GPU (GPU001).

Why it matters
    moshi-server's kernels use bf16, which needs compute capability 8.0 or newer, and they are
    compiled for ONE capability at build time: from ``CUDA_COMPUTE_CAP``, else from the first GPU
    ``nvidia-smi`` lists. At run time moshi-server uses CUDA device 0 of the visible GPUs. An
    older GPU, a second GPU model, or a ``CUDA_COMPUTE_CAP`` for another GPU fail at run time
    with ``CUDA_ERROR_NOT_FOUND`` / "named symbol not found".

How to fix
    Run on a GPU of compute capability 8.0 or newer; on a machine with several GPU models, export
    ``CUDA_VISIBLE_DEVICES=<UUID of the right GPU>`` both for the build and for the server, and
    rebuild with ``CUDA_COMPUTE_CAP`` set to that GPU's digits. The findings carry the exact
    commands for this machine.

    A ``CUDA_COMPUTE_CAP`` of the same major and a lower minor than the GPU (``86`` on an 8.9
    GPU) still runs (a cubin runs on the same major with a higher minor): that mismatch is a
    warning; any other mismatch is an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from kyudoctor.model import Check, Facts, Finding, Outcome, Severity
from kyudoctor.policy import load

from ._gpu import (
    compute_cap,
    cuda_visible_devices,
    describe,
    no_gpu_reason,
    pin_command,
    visible_gpus,
)
from ._util import probe_facts

_DIGITS = re.compile(r"[0-9]+")


def check(facts: Facts) -> Outcome:
    """GPU005 for GPUs below the bf16 minimum, mixed capabilities, a mismatched
    ``CUDA_COMPUTE_CAP``, or a ``CUDA_VISIBLE_DEVICES`` hiding every GPU."""
    gpu = probe_facts(facts, "gpu")
    reason = no_gpu_reason(gpu, probe_facts(facts, "system"))
    if reason is not None or gpu is None:
        return Outcome.skip(reason or "no GPU facts")
    policy = load()
    system = probe_facts(facts, "system")
    env: Mapping[str, Any] = (system or {}).get("env") or {}
    gpus: Sequence[Mapping[str, Any]] = gpu.get("gpus") or []
    ccs = {id(g): compute_cap(g, policy) for g in gpus}
    labels = {id(g): f"{describe(g)} ({ccs[id(g)] or 'capability unknown'})" for g in gpus}
    good = [g for g in gpus if policy.cc_supports_bf16(ccs[id(g)])]
    best = max(
        good, key=lambda g: (_cc_key(ccs[id(g)]), g.get("memory_total_mib") or 0), default=None
    )
    server = policy.moshi_server_recommended
    findings: list[Finding] = []

    cvd = cuda_visible_devices(system)
    visible = visible_gpus(gpus, cvd)
    note = ""
    if visible is None:
        note = (
            f" (CUDA_VISIBLE_DEVICES={cvd} cannot be matched to these GPUs: CUDA counts "
            "indices fastest first unless CUDA_DEVICE_ORDER=PCI_BUS_ID; all are judged)"
        )
        visible = list(gpus)
    elif not visible:
        unhide = (pin_command(best),) if best is not None else ("unset CUDA_VISIBLE_DEVICES",)
        return Outcome.found(
            "CUDA_VISIBLE_DEVICES hides every GPU",
            Finding(
                "GPU005",
                f"CUDA_VISIBLE_DEVICES={cvd!r} names none of the GPUs "
                f"({', '.join(labels[id(g)] for g in gpus)}): CUDA programs, moshi-server "
                "included, see no GPU",
                evidence={"CUDA_VISIBLE_DEVICES": cvd, "gpus": [labels[id(g)] for g in gpus]},
                commands=unhide,
            ),
        )

    unknown = [g for g in visible if policy.cc_supports_bf16(ccs[id(g)]) is None]
    too_old = [g for g in visible if policy.cc_supports_bf16(ccs[id(g)]) is False]
    mixed = len({ccs[id(g)] for g in visible if ccs[id(g)]}) > 1
    summaries: list[str] = []
    if too_old or mixed:
        problems = []
        if too_old:
            summaries.append(
                f"{', '.join(labels[id(g)] for g in too_old)} below compute capability "
                f"{policy.bf16_min_cc:.1f}"
            )
            problems.append(
                f"{', '.join(labels[id(g)] for g in too_old)} "
                f"{'is' if len(too_old) == 1 else 'are'} below compute capability "
                f"{policy.bf16_min_cc:.1f}, which moshi-server's bf16 kernels need"
            )
        if mixed:
            summaries.append("GPUs of different compute capabilities")
            problems.append(
                "the GPUs CUDA sees mix capabilities "
                f"({', '.join(labels[id(g)] for g in visible)}): the kernels are built for one "
                "(CUDA_COMPUTE_CAP, else the first GPU nvidia-smi lists, here "
                f"{ccs[id(gpus[0])] or 'unknown'}) and moshi-server runs on CUDA device 0, "
                "which need not be that one"
            )
        commands: tuple[str, ...] = ()
        params: dict[str, Any] = {}
        if best is not None and len(gpus) > 1:
            digits = str(ccs[id(best)]).replace(".", "")
            params = {"compute_cap": digits, "gpu_index": best.get("uuid") or best.get("index")}
            commands = (
                pin_command(best),
                (
                    f"CUDA_COMPUTE_CAP={digits} cargo install --force --features cuda "
                    f"moshi-server@{server}"
                ),
            )
            problems.append(
                f"{labels[id(best)]} can run it: use only that GPU, for the build and the server"
            )
        findings.append(
            Finding(
                "GPU005",
                "; ".join(problems) + note,
                evidence={
                    "gpus": [labels[id(g)] for g in visible],
                    "CUDA_VISIBLE_DEVICES": cvd,
                    "bf16_min_cc": policy.bf16_min_cc,
                },
                params=params,
                commands=commands,
            )
        )

    requested = env.get("CUDA_COMPUTE_CAP")
    if requested is not None:
        mismatch = _compute_cap_mismatch(str(requested), visible, ccs, labels, mixed, server)
        if mismatch is not None:
            summaries.append(f"CUDA_COMPUTE_CAP={requested} does not match the GPU")
            findings.append(mismatch)

    if findings:
        return Outcome.found("; ".join(summaries), *findings)
    if unknown:
        return Outcome.skip(
            f"compute capability unknown for {', '.join(describe(g) for g in unknown)} "
            "(the driver does not report it and the name is not in the policy table)"
        )
    shown = ", ".join(labels[id(g)] for g in visible)
    return Outcome.ok(f"{shown}: bf16 kernels supported{note}")


def _compute_cap_mismatch(
    requested: str,
    visible: Sequence[Mapping[str, Any]],
    ccs: Mapping[int, str | None],
    labels: Mapping[int, str],
    mixed: bool,
    server: str,
) -> Finding | None:
    """GPU005 when CUDA_COMPUTE_CAP is not the digits of the visible GPUs' capability.

    With mixed capabilities only a malformed value is reported: the mix itself is the finding.
    """
    targets = [g for g in visible if ccs[id(g)]]
    if not targets:
        return None
    wanted = [str(ccs[id(g)]).replace(".", "") for g in targets]
    value = requested.strip()
    if all(value == w for w in wanted) or (mixed and _DIGITS.fullmatch(value)):
        return None
    rebuild = f"cargo install --force --features cuda moshi-server@{server}"
    first_digits = wanted[0]
    commands = (f"export CUDA_COMPUTE_CAP={first_digits}", rebuild)
    evidence = {"CUDA_COMPUTE_CAP": requested, "gpus": [labels[id(g)] for g in targets]}
    shown = ", ".join(labels[id(g)] for g in targets)
    if not _DIGITS.fullmatch(value):
        return Finding(
            "GPU005",
            f"CUDA_COMPUTE_CAP={requested!r} is not digits: the build reads it as a number "
            f"and fails ({first_digits} for {shown})",
            evidence=evidence,
            params={"compute_cap": first_digits},
            commands=commands,
        )
    runs_anyway = all(_cubin_runs_on(value, str(ccs[id(g)])) for g in targets)
    if runs_anyway:
        return Finding(
            "GPU005",
            f"CUDA_COMPUTE_CAP={value} is not the capability of {shown}: kernels built for "
            f"sm_{value} still run on it (same major), but the build does not target this GPU",
            evidence=evidence,
            params={"compute_cap": first_digits},
            severity=Severity.WARNING,
            commands=commands,
        )
    return Finding(
        "GPU005",
        f"CUDA_COMPUTE_CAP={value} does not match {shown}: kernels built for sm_{value} fail on "
        "it with CUDA_ERROR_NOT_FOUND",
        evidence=evidence,
        params={"compute_cap": first_digits},
        commands=commands,
    )


def _cubin_runs_on(digits: str, gpu_cc: str) -> bool:
    """A cubin for X.y runs on a GPU of the same major X and a minor >= y."""
    built_major, built_minor = int(digits[:-1] or "0"), int(digits[-1])
    gpu_major, gpu_minor = _cc_key(gpu_cc)
    return built_major == gpu_major and built_minor <= gpu_minor


def _cc_key(cc: str | None) -> tuple[int, int]:
    major, _, minor = (cc or "0.0").partition(".")
    try:
        return int(major), int(minor or "0")
    except ValueError:
        return (0, 0)


CHECK = Check(
    id="gpu.capability",
    group="host",
    title="GPU compute capability",
    codes=("GPU005",),
    probes=("gpu",),
    run=check,
    uses=("system",),
)
