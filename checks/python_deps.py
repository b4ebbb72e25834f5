"""python.deps: moshi-server's Python requirements, installed at versions that satisfy them.

What it checks
    Each requirement of moshi-server's Python project (``--pyproject``, else the requirements
    kyudoctor knows for the recommended moshi-server) against the distributions installed in the
    target environment, with environment markers evaluated for the *target* interpreter. Then,
    like ``pip check``, the requirements of every installed distribution reachable from those
    (moshi's own dependencies, theirs, and so on; extras only where requested): a missing one is
    PY002, an unsatisfied version PY003. xformers missing is PY004 (optional). A pinned
    requirement that has no release for the target Python (per kyudoctor's wheel data) is PY006,
    not PY002. torch itself is judged by ``torch.install`` (TORCH001, TORCH004), and
    huggingface_hub missing by ``python.embedded`` (PY005).

Why it matters
    The embedded Python imports these packages at start-up: a missing one stops the server with
    ``ModuleNotFoundError`` ("No module named 'moshi'", 'julius', 'sphn'...), and a ``moshi``
    older than the checkpoint expects fails with a ``TypeError`` about an unexpected argument
    (e.g. ``init_scale``). Unrelated packages of a large environment are not judged.

How to fix
    Install from moshi-server's pyproject and ``uv.lock``: ``uv sync --locked`` in its directory
    (the command is computed when ``--pyproject`` is given). Never install packages one by one by
    guessing versions. For PY006, use the Python version the lock was made for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from kyudoctor import policy
from kyudoctor.model import Check, Facts, Finding, Outcome

from ._python import describe, sync_command, unusable
from ._util import probe_facts, quote

TORCH = "torch"
TORCH_FAMILY = frozenset({"torch", "torchaudio"})
"""Judged by torch.install, except a missing torchaudio (PY002 here) and a torch too new."""
EMBEDDED_OWNED = frozenset({"huggingface-hub"})
"""Missing ones are PY005 (python.embedded): the embedded tts.py imports it first."""


@dataclass(frozen=True)
class Need:
    """One requirement to satisfy, and who asks for it (None: the project itself)."""

    requirement: Requirement
    text: str
    parent: str | None


def check(facts: Facts) -> Outcome:
    """PY002/PY003/PY004/PY006 for moshi-server's requirements in the target environment."""
    python = probe_facts(facts, "python")
    reason = unusable(python)
    if reason is not None or python is None:
        return Outcome.skip(reason or "the target Python was not examined")
    requirements: Mapping[str, Any] = python.get("requirements") or {}
    dists: Mapping[str, Mapping[str, Any]] = python.get("distributions") or {}
    markers: Mapping[str, str] = python.get("markers") or {}
    source = str(requirements.get("source") or "the requirements")
    optional = {canonicalize_name(str(n)) for n in requirements.get("optional") or []}
    lock: Mapping[str, str] = {
        canonicalize_name(str(k)): str(v) for k, v in (requirements.get("lock") or {}).items()
    }
    pol = policy.load()
    py_version = str(python.get("version"))

    top, unparsable = _parse(requirements.get("dependencies") or [], None)
    if not top and not unparsable:
        return Outcome.skip(f"{source} lists no dependencies")

    missing: list[Need] = []
    optional_missing: list[Need] = []
    no_wheel: list[tuple[Need, str]] = []
    mismatched: list[tuple[Need, str]] = []
    seen: set[tuple[str, frozenset[str]]] = set()
    queue: list[Need] = [n for n in top if _applies(n.requirement, markers, ())]
    while queue:
        need = queue.pop(0)
        name = canonicalize_name(need.requirement.name)
        dist = dists.get(name)
        if dist is None:
            if name == TORCH or name in EMBEDDED_OWNED:
                continue
            if need.parent is None and name in optional:
                optional_missing.append(need)
                continue
            pin = _pinned_version(need.requirement) or (lock.get(name) if not need.parent else None)
            wheel = _wheel_for(pol, name, pin, need, markers, py_version)
            if wheel is not None:
                no_wheel.append((need, wheel))
            else:
                missing.append(need)
            continue
        key = (name, frozenset(canonicalize_name(e) for e in need.requirement.extras))
        installed = str(dist.get("version") or "")
        if not _satisfied(need.requirement, installed, name):
            mismatched.append((need, installed))
        if key in seen:
            continue
        seen.add(key)
        children, bad = _parse(dist.get("requires") or [], f"{dist.get('name')} {installed}")
        unparsable.extend(bad)
        extras = tuple(key[1])
        queue.extend(c for c in children if _applies(c.requirement, markers, extras))

    # One problem, one code: a name without a wheel is not also "missing", nor listed twice.
    unavailable = {canonicalize_name(n.requirement.name) for n, _ in no_wheel}
    missing = _first_per_name(
        n for n in missing if canonicalize_name(n.requirement.name) not in unavailable
    )
    findings = _findings(python, missing, optional_missing, no_wheel, mismatched, lock)
    where = describe(python)
    details: dict[str, Any] = {"source": source, "checked": len(seen)}
    if unparsable:
        details["unparsable"] = unparsable
    if not findings:
        return Outcome.ok(
            f"{where}: all {len(top)} requirements ({source}) and the {len(seen)} "
            "distributions they reach are installed at satisfying versions",
            **details,
        )
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing")
    if mismatched:
        problems.append(f"{len(mismatched)} at a wrong version")
    if no_wheel:
        problems.append(f"{len(no_wheel)} without a release for Python {py_version}")
    if optional_missing:
        problems.append(
            "optional xformers missing"
            if len(optional_missing) == 1
            else f"{len(optional_missing)} optional missing"
        )
    return Outcome.found(f"{where}: " + ", ".join(problems), *findings, **details)


# --- findings ---------------------------------------------------------------------------------


def _findings(
    python: Mapping[str, Any],
    missing: list[Need],
    optional_missing: list[Need],
    no_wheel: list[tuple[Need, str]],
    mismatched: list[tuple[Need, str]],
    lock: Mapping[str, str],
) -> list[Finding]:
    interpreter = str(python.get("interpreter"))
    prefix = python.get("prefix")
    sync = sync_command(python)
    requirements: Mapping[str, Any] = python.get("requirements") or {}
    params: dict[str, Any] = {"python": interpreter}
    if sync:
        params["project_dir"] = sync.split(" ", 2)[1]
    findings: list[Finding] = []
    for need, why in no_wheel:
        package = need.requirement.name
        findings.append(
            Finding(
                "PY006",
                f'{_asked(need)}: {why}; `uv sync` / pip would fail with "No matching '
                f'distribution found for {package}"',
                evidence={"requirement": need.text, "required_by": need.parent or "project"},
                params={**params, "package": package},
                commands=(f"uv venv -p {policy.load().python_pinned}",),
            )
        )
    if missing:
        direct = [n.text for n in missing if n.parent is None]
        listed = [f"{', '.join(direct)} (moshi-server's requirements)"] if direct else []
        listed += [f"{n.text} (required by {n.parent})" for n in missing if n.parent]
        findings.append(
            Finding(
                "PY002",
                f"not installed in {prefix}: {'; '.join(listed)}",
                evidence={
                    "missing": [n.text for n in missing],
                    "required_by": {n.text: n.parent or "project" for n in missing},
                    "requirements": requirements.get("source"),
                },
                params=params,
                commands=(sync,) if sync else None,
            )
        )
    by_package: dict[str, list[tuple[Need, str]]] = {}
    for need, installed in mismatched:
        by_package.setdefault(canonicalize_name(need.requirement.name), []).append(
            (need, installed)
        )
    for items in by_package.values():
        name = items[0][0].requirement.name
        installed = items[0][1]
        asked = "; ".join(_asked(need) for need, _ in items)
        findings.append(
            Finding(
                "PY003",
                f"{name} {installed} is installed; {asked}",
                evidence={
                    "package": name,
                    "installed": installed,
                    "required": {need.parent or "project": need.text for need, _ in items},
                },
                params={**params, "package": name},
                commands=(sync,) if sync else None,
            )
        )
    for need in optional_missing:
        findings.append(_optional_finding(python, need, params, lock))
    return findings


def _optional_finding(
    python: Mapping[str, Any], need: Need, params: Mapping[str, Any], lock: Mapping[str, str]
) -> Finding:
    name = canonicalize_name(need.requirement.name)
    interpreter = str(python.get("interpreter"))
    dists: Mapping[str, Mapping[str, Any]] = python.get("distributions") or {}
    torch_dist = dists.get(TORCH) or {}
    torch_version = policy.parse_version(str(torch_dist.get("version") or ""))
    # The lock's xformers is built for the lock's torch: pin it only when that torch is here.
    wanted = lock.get(name)
    locked_torch = policy.parse_version(lock.get(TORCH))
    same_torch = (
        torch_version is not None
        and locked_torch is not None
        and (torch_version.public == locked_torch.public)
    )
    package = (
        f"{need.requirement.name}=={wanted}" if wanted and same_torch else (need.requirement.name)
    )
    install = f"{quote(interpreter)} -m pip install {quote(package)}"
    extra: dict[str, Any] = {}
    if torch_version is not None:
        # Holding torch keeps pip from replacing it with another build to suit xformers.
        install += f" {quote('torch==' + torch_version.public)}"
        extra["torch_version"] = torch_version.public
    return Finding(
        "PY004",
        f"{need.requirement.name} is not installed in {python.get('prefix')}: it is optional in "
        "moshi-server's requirements (an optimisation); the server works without it",
        evidence={"requirement": need.text},
        params={**params, **extra, "package": need.requirement.name},
        commands=(install,),
    )


def _first_per_name(needs: Iterable[Need]) -> list[Need]:
    out: dict[str, Need] = {}
    for need in needs:
        out.setdefault(canonicalize_name(need.requirement.name), need)
    return list(out.values())


def _asked(need: Need) -> str:
    """``moshi 0.2.13 requires numpy<2.3,>=1.26``, or the project's own requirement."""
    if need.parent:
        return f"{need.parent} requires {need.text}"
    return f"moshi-server's requirements ask for {need.text}"


# --- requirement logic ------------------------------------------------------------------------


def _parse(texts: Iterable[Any], parent: str | None) -> tuple[list[Need], list[str]]:
    needs: list[Need] = []
    bad: list[str] = []
    for text in texts:
        try:
            needs.append(Need(Requirement(str(text)), _clean(str(text)), parent))
        except InvalidRequirement:
            bad.append(f"{parent or 'project'}: {text}")
    return needs, bad


def _clean(text: str) -> str:
    """The requirement without its marker, as people write it (``numpy<2.3,>=1.26``)."""
    return text.split(";", 1)[0].strip()


def _applies(req: Requirement, markers: Mapping[str, str], extras: Iterable[str]) -> bool:
    """Whether a requirement applies to the target (its markers, with the requested extras)."""
    if req.marker is None:
        return True
    for extra in ("", *extras):
        try:
            if req.marker.evaluate({**markers, "extra": extra}):
                return True
        except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
            return True  # cannot tell: judge it rather than hide a problem
    return False


def _satisfied(req: Requirement, installed: str, name: str) -> bool:
    """Whether ``installed`` satisfies ``req``; torch-family versions below it are torch.install's."""
    try:
        version = Version(installed)
    except InvalidVersion:
        return True  # a version kyudoctor cannot compare is not reported as wrong
    if req.specifier.contains(version, prereleases=True):
        return True
    # A torch-family version below the requirement is TORCH004 / TORCH006, with their own fix.
    return name in TORCH_FAMILY and _below(req, version)


def _below(req: Requirement, version: Version) -> bool:
    """Whether ``version`` is under a lower bound (or an exact pin) of ``req``."""
    public = Version(version.public)
    for spec in req.specifier:
        if spec.operator not in (">=", ">", "~=", "==", "===") or "*" in spec.version:
            continue
        try:
            bound = Version(spec.version)
        except InvalidVersion:
            continue
        if public < bound or (spec.operator == ">" and public == bound):
            return True
    return False


def _pinned_version(req: Requirement) -> str | None:
    specs = list(req.specifier)
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        return specs[0].version
    return None


def _wheel_for(
    pol: policy.Policy,
    name: str,
    pin: str | None,
    need: Need,
    markers: Mapping[str, str],
    py_version: str,
) -> str | None:
    """Why a missing requirement cannot be installed on this Python, when the data knows."""
    if name == TORCH:
        return None  # TORCH003
    if pin is not None:
        if pol.wheel_available(name, pin, py_version) is False:
            support = pol.wheel_python_support(name, pin) or ()
            return (
                f"{name} {pin} has no Linux x86_64 wheel for Python {py_version} "
                f"(wheels for: {', '.join(support) or 'none'})"
            )
        generation = pol.moshi_generation(pin) if name == "moshi" else None
        if generation is not None:
            # moshi itself is pure Python; its own pins are what have no wheel.
            for text in generation.moshi_requires:
                try:
                    child = Requirement(text)
                except InvalidRequirement:
                    continue
                if canonicalize_name(child.name) == TORCH or not _applies(child, markers, ()):
                    continue
                if pol.requirement_wheel_available(text, py_version) is False:
                    return (
                        f"moshi {pin} requires {_clean(text)}, which has no Linux x86_64 wheel "
                        f"for Python {py_version}"
                    )
        return None
    text = f"{need.requirement.name}{need.requirement.specifier}"
    if pol.requirement_wheel_available(text, py_version) is False:
        return f"no release of {text} has a Linux x86_64 wheel for Python {py_version}"
    return None


CHECK = Check(
    id="python.deps",
    group="host",
    title="Python requirements",
    codes=("PY002", "PY003", "PY004", "PY006"),
    probes=("python",),
    run=check,
)
