"""cuda.nvcc: is there an nvcc, and is it a CUDA version moshi-server's build accepts?

What it checks
    - CUDA001: no working ``nvcc`` on PATH, in ``$CUDA_HOME/bin`` / ``$CUDA_PATH/bin`` /
      ``$CUDA_ROOT/bin``, nor in ``/usr/local/cuda*/bin`` (or ``/opt/cuda*``). An nvcc that
      exists but fails ``nvcc --version`` (crash, hang, garbage) counts as missing: the build
      cannot use it either.
    - CUDA003: the nvcc release is outside the range moshi-server's CUDA binding crate (cudarc)
      accepts, per the policy data (11.4 to 12.9 today; CUDA 13.x fails the build with
      "Unsupported cuda toolkit version").

Why it matters
    ``cargo install --features cuda moshi-server`` compiles the CUDA kernels with nvcc and
    reads its version to pick the CUDA bindings; without a supported nvcc the build stops.
    A binary that is already built does not need nvcc to run: CUDA001 is then a warning
    ("needed only to (re)build moshi-server"), when the install record shows a current
    moshi-server built with ``cuda``. CUDA003 keeps its error severity: the next rebuild
    (every ``cargo install --force``) fails.

How to fix
    Install the recommended toolkit (the policy's ``cuda_recommended``; with NVIDIA's apt
    repository the package is ``cuda-toolkit-X-Y``), alongside any other, and point
    ``CUDA_HOME``/``CUDA_PATH`` and PATH at it. When a supported toolkit is already installed
    in another ``/usr/local/cuda-*`` directory, the fix is just the two ``export`` lines naming
    it. Setting ``CUDARC_CUDA_VERSION`` only silences cudarc's version check; it does not make
    a 13.x toolkit a supported build.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kyudoctor.model import Check, Facts, Finding, Outcome, Severity
from kyudoctor.policy import Policy, load

from ._cuda import BUILD_ONLY_NOTE, apt_package, build_only, export_toolkit, prebuilt_moshi_server
from ._util import probe_facts


def supported_toolkit(
    toolkits: Sequence[Mapping[str, Any]], policy: Policy, exclude: str | None = None
) -> Mapping[str, Any] | None:
    """An installed toolkit the build accepts: the recommended release, else the newest one."""
    usable = [
        t
        for t in toolkits
        if t.get("root") != exclude
        and t.get("release")
        and policy.cuda_build_supported(str(t["release"]))
    ]
    for toolkit in usable:
        if toolkit["release"] == policy.cuda_recommended:
            return toolkit
    return usable[0] if usable else None  # the probe lists the highest version first


def check(facts: Facts) -> Outcome:
    """CUDA001 when no nvcc works; CUDA003 when its release is outside the supported range."""
    policy = load()
    nvcc_facts = probe_facts(facts, "nvcc")
    if nvcc_facts is None:
        return Outcome.skip("the nvcc probe did not run")
    nvcc = nvcc_facts.get("nvcc") or {}
    toolkits = [t for t in nvcc_facts.get("toolkits") or [] if isinstance(t, Mapping)]
    recommended = policy.cuda_recommended
    supported = f"{policy.cuda_build_min} to {policy.cuda_build_max}"
    future_home = f"/usr/local/cuda-{recommended}"
    params = {"recommended_cuda": recommended, "cuda_home": future_home}
    prebuilt = prebuilt_moshi_server(facts, policy)
    install_hint = (
        f"the recommended toolkit is CUDA {recommended}: `{apt_package(recommended)}` from "
        f"NVIDIA's CUDA repository installs it into {future_home}"
    )

    if nvcc.get("path") is None or nvcc.get("release") is None:
        if nvcc.get("path") is None:
            roots = ", ".join(f"{r}/cuda*/bin" for r in nvcc_facts.get("search_roots") or [])
            seen = f"no nvcc on PATH, in $CUDA_HOME/bin, $CUDA_PATH/bin, $CUDA_ROOT/bin or {roots}"
        else:
            seen = f"nvcc at {nvcc['path']} does not work: `nvcc --version` {nvcc.get('error')}"
        severity = None
        if prebuilt:
            seen += f"; {prebuilt}, so nvcc is {BUILD_ONLY_NOTE}"
            severity = Severity.WARNING
        other = supported_toolkit(toolkits, policy, exclude=nvcc_facts.get("toolkit_root"))
        hint, commands = install_hint, None
        if other is not None:
            hint = f"CUDA {other['release']} is installed in {other['root']}"
            commands = export_toolkit(str(other["root"]))
            params = {**params, "cuda_home": str(other["root"])}
        finding = Finding(
            "CUDA001",
            f"{seen}; {hint}",
            evidence={"nvcc": nvcc.get("path"), "error": nvcc.get("error")},
            params=params,
            severity=severity,
            commands=commands,
        )
        return Outcome.found("nvcc not usable", finding)

    release = str(nvcc["release"])
    where = f"nvcc {nvcc.get('version')} at {nvcc['path']}"
    if nvcc.get("real_path") and nvcc["real_path"] != nvcc["path"]:
        where += f" (-> {nvcc['real_path']})"
    if not policy.cuda_build_supported(release):
        message = f"{where}: moshi-server's cudarc accepts CUDA {supported}"
        override = ((probe_facts(facts, "system") or {}).get("env") or {}).get(
            policy.cudarc_override_env
        )
        if override:
            message += (
                f" ({policy.cudarc_override_env}={override} only silences cudarc's version check; "
                f"CUDA {release} is still not a supported build)"
            )
        other = supported_toolkit(toolkits, policy, exclude=nvcc_facts.get("toolkit_root"))
        if other is not None:
            message += f"; CUDA {other['release']} is already installed in {other['root']}"
            commands = export_toolkit(str(other["root"]))
            params = {**params, "cuda_home": str(other["root"])}
        else:
            message += f"; no supported toolkit is installed alongside: {install_hint}"
            commands = export_toolkit(future_home)
        finding = build_only(
            Finding(
                "CUDA003",
                message,
                evidence={
                    "nvcc": nvcc["path"],
                    "version": nvcc.get("version"),
                    "release": release,
                },
                params=params,
                commands=commands,
            ),
            prebuilt,
            f"CUDA {release}",
        )
        return Outcome.found(f"CUDA {release} is not supported by the build", finding)

    return Outcome.ok(f"{where} (CUDA {release}; the build accepts {supported})")


CHECK = Check(
    id="cuda.nvcc",
    group="host",
    title="CUDA toolkit (nvcc)",
    codes=("CUDA001", "CUDA003"),
    probes=("nvcc",),
    run=check,
    uses=("binary", "system"),
)
