"""python.deps (PY002, PY003, PY004, PY006): healthy facts with one field changed."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kyudoctor.checks import python_deps
from kyudoctor.model import Severity
from tests.healthy import facts
from tests.healthy import python as healthy_python


def dists(*, drop: tuple[str, ...] = (), **versions: str) -> dict[str, Any]:
    """The healthy distributions without ``drop``, with ``name=version`` changes."""
    out = copy.deepcopy(healthy_python.FACTS["distributions"])
    for name in drop:
        del out[name]
    for key, version in versions.items():
        out[key.replace("_", "-")]["version"] = version
    return {"distributions": out}


def requirements(**change: Any) -> dict[str, Any]:
    """The healthy requirements with some keys replaced."""
    return {"requirements": {**healthy_python.FACTS["requirements"], **change}}


def python_at(version: str) -> dict[str, Any]:
    """Version facts and markers of another target Python."""
    major, minor, _ = version.split(".")
    markers = {
        **healthy_python.FACTS["markers"],
        "python_version": f"{major}.{minor}",
        "python_full_version": version,
        "implementation_version": version,
    }
    return {
        "version": version,
        "version_info": [int(p) for p in version.split(".")],
        "markers": markers,
    }


def codes(change: dict[str, Any]) -> list[str]:
    return [f.code for f in python_deps.check(facts(python=change)).findings]


def test_healthy() -> None:
    """The healthy environment satisfies every requirement and what they reach."""
    outcome = python_deps.check(facts())
    assert not outcome.skipped and not outcome.findings
    assert outcome.details["checked"] > 40


@pytest.mark.parametrize(
    ("change", "expected", "words"),
    [
        pytest.param(dists(drop=("moshi",)), ["PY002"], "moshi==0.2.13", id="moshi-missing"),
        pytest.param(
            dists(drop=("julius", "pydantic")), ["PY002"], "pydantic, julius", id="two-missing"
        ),
        pytest.param(
            dists(drop=("torchaudio",)), ["PY002"], "torchaudio (moshi-server's", id="torchaudio"
        ),
        pytest.param(
            dists(drop=("sphn",)),
            ["PY002"],
            "sphn<0.3.0,>=0.2.0 (required by moshi 0.2.13)",
            id="transitive-missing",
        ),
        pytest.param(
            dists(moshi="0.2.8"),
            ["PY003"],
            "moshi 0.2.8 is installed; moshi-server's requirements ask for moshi==0.2.13",
            id="moshi-0.2.8-vs-pin",
        ),
        pytest.param(
            dists(numpy="2.3.1"),
            ["PY003"],
            "moshi 0.2.13 requires numpy<2.3,>=1.26",
            id="transitive-conflict",
        ),
        pytest.param(
            dists(torch="2.10.0+cu128"),
            ["PY003"],
            "moshi 0.2.13 requires torch<2.10,>=2.2.0; xformers 0.0.33.post2 requires torch==2.9.1",
            id="torch-too-new-for-moshi",
        ),
        pytest.param(dists(drop=("xformers",)), ["PY004"], "optional", id="xformers-missing"),
        pytest.param(
            requirements(dependencies=["moshi[dev]==0.2.13"]),
            ["PY002"],
            "pyright (required by moshi 0.2.13)",
            id="extra-requested",
        ),
        pytest.param(
            {
                **python_at("3.13.1"),
                **dists(drop=("sentencepiece",)),
                **requirements(dependencies=["moshi==0.2.13", "sentencepiece==0.2.0"]),
            },
            ["PY006"],
            "sentencepiece 0.2.0 has no Linux x86_64 wheel for Python 3.13.1",
            id="pinned-without-wheel",
        ),
        pytest.param(
            {
                **python_at("3.13.1"),
                **dists(drop=("moshi",)),
                **requirements(dependencies=["moshi==0.2.10"]),
            },
            ["PY006"],
            "moshi 0.2.10 requires sentencepiece==0.2",
            id="moshi-pin-needs-old-wheel",
        ),
    ],
)
def test_findings(change: dict[str, Any], expected: list[str], words: str) -> None:
    """Each broken requirement gives its one code, with the real names and versions."""
    outcome = python_deps.check(facts(python=change))
    assert [f.code for f in outcome.findings] == expected
    assert words in outcome.findings[0].message


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(dists(drop=("torch",)), id="torch-missing-is-TORCH001"),
        pytest.param(dists(torch="2.1.2+cu121"), id="torch-too-old-is-TORCH004"),
        pytest.param(dists(torchaudio="2.6.0"), id="torchaudio-mismatch-is-TORCH006"),
        pytest.param(dists(drop=("huggingface-hub",)), id="hf-hub-missing-is-PY005"),
        pytest.param(
            {
                **dists(drop=("bitsandbytes",)),
                "markers": {**healthy_python.FACTS["markers"], "sys_platform": "darwin"},
            },
            id="marker-excludes-platform",
        ),
        pytest.param(dists(drop=("pip",)), id="unrelated-distribution"),
    ],
)
def test_not_reported_here(change: dict[str, Any]) -> None:
    """Problems another check owns, and requirements that do not apply, give no finding here."""
    assert codes(change) == []


def test_one_py002_lists_everything_missing() -> None:
    """Every missing requirement is listed in one PY002, each with who requires it."""
    outcome = python_deps.check(facts(python=dists(drop=("julius", "sphn", "einops"))))
    (finding,) = outcome.findings
    assert finding.evidence["missing"] == ["julius", "einops<0.9,>=0.7", "sphn<0.3.0,>=0.2.0"]
    assert finding.evidence["required_by"]["julius"] == "project"
    assert finding.commands is None  # no pyproject given: the catalog's text says what to run


def test_py002_command_with_pyproject() -> None:
    """With --pyproject, the fix is `uv sync --locked` in that project's directory."""
    change = {**dists(drop=("moshi",)), **requirements(path="/home/kyu/moshi/rust/pyproject.toml")}
    (finding,) = python_deps.check(facts(python=change)).findings
    assert finding.commands == ("cd /home/kyu/moshi/rust && uv sync --locked",)
    assert finding.params["project_dir"] == "/home/kyu/moshi/rust"


def test_py004_command_keeps_torch() -> None:
    """The xformers command pins the lock's xformers and holds the installed torch."""
    (finding,) = python_deps.check(facts(python=dists(drop=("xformers",)))).findings
    assert finding.severity in (None, Severity.WARNING)
    assert finding.commands == (
        "/home/kyu/tts/.venv/bin/python -m pip install xformers==0.0.33.post2 torch==2.9.1",
    )
    assert finding.params["torch_version"] == "2.9.1"


def test_py004_without_the_lock_torch() -> None:
    """With another torch than the lock's, xformers is left for pip to match to it."""
    change = dists(drop=("xformers",), torch="2.9.0+cu128")
    (finding,) = python_deps.check(facts(python=change)).findings
    command = "/home/kyu/tts/.venv/bin/python -m pip install xformers torch==2.9.0"
    assert finding.commands == (command,)


def test_unparsable_requirement_is_reported_in_details() -> None:
    """A requirement string packaging cannot parse is listed, not a crash."""
    change = requirements(dependencies=["moshi==0.2.13", "not a requirement !!"])
    outcome = python_deps.check(facts(python=change))
    assert not outcome.findings
    assert outcome.details["unparsable"] == ["project: not a requirement !!"]


@pytest.mark.parametrize(
    ("python", "words"),
    [
        pytest.param(None, "python probe failed", id="probe-failed"),
        pytest.param(
            {"introspected": False, "distributions": None, "error": "SyntaxError"},
            "PY001",
            id="only-version-known",
        ),
        pytest.param(requirements(dependencies=[]), "lists no dependencies", id="nothing-required"),
    ],
)
def test_skips(python: dict[str, Any] | None, words: str) -> None:
    """Without a package list or without requirements the check is skipped, saying why."""
    outcome = python_deps.check(facts(python=python))
    assert outcome.skipped and words in outcome.summary
