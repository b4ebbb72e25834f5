"""python.version: the version of the Python that moshi-server's embedded interpreter will be.

What it checks
    The target interpreter's version (the one given with ``--python``, else the active
    virtualenv's): CPython within the range moshi-server can embed, and whether it is the
    version moshi-server's requirements are pinned to.

Why it matters
    moshi-server links the libpython of the interpreter pyo3 finds at ``cargo install`` time.
    pyo3 0.23 supports CPython up to 3.13 (a newer interpreter fails the build with "newer than
    PyO3's maximum supported version"), and the Python ``moshi`` package needs 3.10 or newer.
    moshi-server's own pyproject pins ``requires-python == 3.12.8``, and its ``uv.lock`` is made
    for that version: another supported version works, but ``uv sync`` refuses it, and some
    pinned wheels may not exist for it (PY006, TORCH003).

How to fix
    Create the venv with the pinned Python (``uv venv -p 3.12``), install the requirements into
    it, then rebuild moshi-server with that venv active (PY005). An error below the minimum or
    above the maximum; info when the version is supported but not the pinned one.
"""

from __future__ import annotations

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from kyudoctor import policy
from kyudoctor.model import Check, Facts, Finding, Outcome, Severity

from ._python import describe
from ._util import probe_facts


def check(facts: Facts) -> Outcome:
    """PY001 for a target Python moshi-server cannot embed, info for a non-pinned one."""
    python = probe_facts(facts, "python")
    if python is None:
        return Outcome.skip("the target Python was not examined (the python probe failed)")
    version = policy.parse_version(python.get("version"))
    if version is None:
        return Outcome.skip(f"the version of {python.get('interpreter')} is unknown")
    pol = policy.load()
    shown = describe(python)
    mm = version.release[:2]
    low = Version(pol.python_min).release[:2]
    high = Version(pol.python_max).release[:2]
    pinned = Version(pol.python_pinned).release[:2]
    venv_command = f"uv venv -p {pol.python_pinned}"
    evidence = {"version": str(version), "interpreter": python.get("interpreter")}
    implementation = str(python.get("implementation") or "cpython").lower()

    if implementation != "cpython":
        return Outcome.found(
            f"{shown}: not CPython",
            Finding(
                "PY001",
                f"{shown} is {implementation}, not CPython: moshi-server embeds CPython's "
                "libpython (pyo3)",
                evidence={**evidence, "implementation": implementation},
                commands=(venv_command,),
            ),
        )
    if mm < low or mm > high:
        side = "too old" if mm < low else "too new"
        why = (
            f"the Python moshi package needs {pol.python_min} or newer"
            if mm < low
            else f"pyo3 {pol.pyo3_version} (moshi-server's Python binding) supports up to "
            f"{pol.python_max}"
        )
        return Outcome.found(
            f"{shown}: {side}",
            Finding(
                "PY001",
                f"{shown} is {side}: moshi-server supports Python {pol.python_min} to "
                f"{pol.python_max} ({why}); its requirements are pinned to {pol.python_pinned}",
                evidence=evidence,
                commands=(venv_command,),
            ),
        )
    requires = ((python.get("requirements") or {}).get("requires_python")) or None
    if mm != pinned:
        pin = requires if isinstance(requires, str) else f"=={pol.python_pinned_exact}"
        return Outcome.found(
            f"{shown}: supported, not the pinned {pol.python_pinned}",
            Finding(
                "PY001",
                f"{shown} is supported, but moshi-server's requirements and uv.lock are made for "
                f"Python {pol.python_pinned} (requires-python {pin}): "
                "`uv sync --locked` refuses another version, and pinned wheels may be missing",
                evidence=evidence,
                severity=Severity.INFO,
                commands=(venv_command,),
            ),
        )
    if isinstance(requires, str) and not _satisfies(requires, version):
        return Outcome.found(
            f"{shown}: outside requires-python {requires}",
            Finding(
                "PY001",
                f"{shown} is supported, but the requirements say requires-python {requires}: "
                "moshi-server runs with it, `uv sync --locked` refuses it",
                evidence={**evidence, "requires_python": requires},
                severity=Severity.INFO,
                commands=(f"uv venv -p {_exact_pin(requires) or pol.python_pinned}",),
            ),
        )
    return Outcome.ok(f"{shown}")


def _satisfies(requires_python: str, version: Version) -> bool:
    try:
        return SpecifierSet(requires_python).contains(version, prereleases=True)
    except InvalidSpecifier:
        return True


def _exact_pin(requires_python: str) -> str | None:
    spec = requires_python.strip()
    return spec[2:].strip() if spec.startswith("==") and "*" not in spec else None


CHECK = Check(
    id="python.version",
    group="host",
    title="Python version",
    codes=("PY001",),
    probes=("python",),
    run=check,
)
