"""cuda.home: do CUDA_HOME / CUDA_PATH and PATH agree with the nvcc the build will run?

What it checks
    CUDA002, for the nvcc found by the ``nvcc`` probe:

    - nvcc was found (in ``$CUDA_HOME/bin`` or a standard toolkit directory) but is not on
      PATH: the build runs ``nvcc`` by name;
    - ``CUDA_HOME``, ``CUDA_PATH``, ``CUDA_ROOT`` or ``CUDA_TOOLKIT_ROOT_DIR`` is set to a
      directory that is not the toolkit of that nvcc (or does not exist);
    - none of them is set while the toolkit lives outside the standard locations
      (``/usr/local/cuda``, or the system's ``/usr/include``): the build's header search
      then finds no toolkit, or another one;
    - the toolkit has no ``include/cuda.h``.

Why it matters
    moshi-server's build finds the CUDA headers through ``CUDA_ROOT``, ``CUDA_PATH``,
    ``CUDA_TOOLKIT_ROOT_DIR`` or ``/usr/local/cuda``, and runs whichever ``nvcc`` is first on
    PATH. When these disagree it fails ("Could not find CUDA", "cuda.h: No such file or
    directory"), or silently mixes the headers of one toolkit with the compiler of another.

How to fix
    ``export CUDA_HOME=<toolkit> CUDA_PATH=<toolkit>`` and ``export
    PATH="$CUDA_HOME/bin:$PATH"``, with ``<toolkit>`` the directory of the nvcc found (the
    check prints the exact lines). ``CUDA_PATH`` is the one moshi-server's build reads;
    ``CUDA_HOME`` is what most other tools (torch extensions, DeepSpeed) read. A toolkit
    without ``include/cuda.h`` lacks its development headers: reinstall the full toolkit.

Skipped when there is no working nvcc (CUDA001) or its CUDA version is not supported
(CUDA003, whose fix already sets ``CUDA_HOME`` and PATH).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from kyudoctor.model import Check, Facts, Finding, Outcome
from kyudoctor.policy import load

from ._cuda import apt_package, export_toolkit, nvcc_unusable
from ._util import probe_facts, quote

SYSTEM_PREFIX = "/usr"
"""Headers in /usr/include (distribution packages) are found without any variable."""


def check(facts: Facts) -> Outcome:
    """CUDA002 when the CUDA variables, PATH and the nvcc found disagree."""
    policy = load()
    nvcc_facts = probe_facts(facts, "nvcc")
    reason = nvcc_unusable(nvcc_facts, policy)
    if reason is not None or nvcc_facts is None:
        return Outcome.skip(reason or "the nvcc probe did not run")
    nvcc = nvcc_facts["nvcc"]
    root = str(nvcc_facts.get("toolkit_root"))
    cuda_h = nvcc_facts.get("cuda_h")
    env = {k: v for k, v in (nvcc_facts.get("cuda_env") or {}).items() if isinstance(v, Mapping)}
    standard = {str(s.get("realpath")) for s in nvcc_facts.get("standard") or []}

    problems: list[str] = []
    mismatched: list[str] = []
    if not nvcc.get("on_path"):
        problems.append(
            f"nvcc is not on PATH (found at {nvcc['path']} through {nvcc.get('found_via')})"
        )
    for var, entry in env.items():
        if entry.get("realpath") == root:
            continue
        mismatched.append(var)
        state = "" if entry.get("exists") else ", a directory that does not exist"
        problems.append(f"{var}={entry.get('value')}{state} is not the toolkit of nvcc ({root})")
    headers_in_system = (
        bool(cuda_h) and os.path.dirname(os.path.dirname(str(cuda_h))) == SYSTEM_PREFIX
    )
    if not env and root not in standard and not headers_in_system:
        links = ", ".join(
            f"{s['path']} -> {s['realpath']}" for s in nvcc_facts.get("standard") or []
        )
        problems.append(
            f"CUDA_HOME and CUDA_PATH are unset and nvcc's toolkit {root} is outside the standard "
            f"locations ({links or 'no /usr/local/cuda'})"
        )
    commands: tuple[str, ...] | None = None
    if problems:
        commands = export_toolkit(root)
        extra = [v for v in mismatched if v not in ("CUDA_HOME", "CUDA_PATH")]
        if extra:
            commands = (commands[0] + "".join(f" {v}={quote(root)}" for v in extra), commands[1])
    if not cuda_h:
        problems.append(
            f"toolkit {root} has no include/cuda.h: its development headers are missing (with "
            f"NVIDIA's packages, reinstall `{apt_package(str(nvcc['release']))}`)"
        )
        if commands is None:
            commands = ()
    if not problems:
        via = ", ".join(f"{v}={e.get('value')}" for v, e in env.items()) or "standard location"
        return Outcome.ok(f"nvcc, {cuda_h} and {via} agree on {root}")
    finding = Finding(
        "CUDA002",
        "; ".join(problems),
        evidence={
            "toolkit_root": root,
            "nvcc": nvcc["path"],
            "cuda_env": dict(env),
            "cuda_h": cuda_h,
        },
        params={"cuda_home": root},
        commands=commands,
    )
    return Outcome.found(f"CUDA location variables do not match {root}", finding)


CHECK = Check(
    id="cuda.home",
    group="host",
    title="CUDA_HOME and PATH",
    codes=("CUDA002",),
    probes=("nvcc",),
    run=check,
)
