"""torch.install (TORCH001, TORCH003, TORCH004, TORCH006): healthy facts with one field changed."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kyudoctor.checks import torch_install
from tests.healthy import facts
from tests.healthy import python as healthy_python


def env(*, drop: tuple[str, ...] = (), torch_py: Any = "keep", **versions: str) -> dict[str, Any]:
    """Healthy distributions without ``drop``, with ``name=version``; optionally new torch facts."""
    dists = copy.deepcopy(healthy_python.FACTS["distributions"])
    for name in drop:
        del dists[name]
    for name, version in versions.items():
        dists[name]["version"] = version
    out: dict[str, Any] = {"distributions": dists}
    if torch_py != "keep":
        out["torch"] = torch_py
    return out


def pinning(
    *dependencies: str, version: str = "3.12.8", lock: dict[str, str] | None = None
) -> dict[str, Any]:
    """Requirements given by a pyproject with these dependencies, for a Python ``version``."""
    requirements = {
        **healthy_python.FACTS["requirements"],
        "source": "/srv/moshi/pyproject.toml",
        "path": "/srv/moshi/pyproject.toml",
        "dependencies": list(dependencies),
        "lock": lock or {},
    }
    return {
        "version": version,
        "version_info": [int(p) for p in version.split(".")],
        "requirements": requirements,
    }


def test_healthy() -> None:
    """torch 2.9.1+cu128 with torchaudio 2.9.1 is ok."""
    outcome = torch_install.check(facts())
    assert not outcome.skipped and not outcome.findings
    assert "torch 2.9.1+cu128, torchaudio 2.9.1" in outcome.summary


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        pytest.param(
            env(drop=("torch",), torch_py=None),
            "TORCH001",
            "no torch distribution in",
            id="torch-missing",
        ),
        pytest.param(
            env(torch="2.1.2+cu121"), "TORCH004", "moshi needs torch >= 2.2", id="below-floor"
        ),
        pytest.param(
            env(torch="2.6.0+cu124", torchaudio="2.6.0"),
            "TORCH004",
            "torch 2.6.0+cu124 is installed in /home/kyu/tts/.venv: the lock of "
            "kyudoctor's known requirements of moshi-server 0.6.4 has torch 2.9.1",
            id="below-the-lock",
        ),
        pytest.param(
            env(torchaudio="2.6.0"),
            "TORCH006",
            "torchaudio 2.6.0 does not belong to torch 2.9.1+cu128",
            id="torchaudio-older",
        ),
        pytest.param(
            env(torchaudio="2.11.0"),
            "TORCH006",
            "(the match is torchaudio 2.9.1)",
            id="stable-abi-torchaudio-too-new-for-torch",
        ),
        pytest.param(
            pinning("moshi==0.2.13", "torch==2.4.1", version="3.13.1"),
            "TORCH003",
            "pins torch 2.4.1, which has Linux x86_64 wheels for Python 3.8 to 3.12 only, "
            "not 3.13.1",
            id="pinned-torch-without-wheel",
        ),
    ],
)
def test_findings(change: dict[str, Any], code: str, words: str) -> None:
    """Each torch problem gives its one code, with the real versions."""
    outcome = torch_install.check(facts(python=change))
    assert [f.code for f in outcome.findings] == [code]
    assert words in outcome.findings[0].message


def test_torchaudio_pair_command() -> None:
    """TORCH006's command installs the matching pair from the installed flavour's index."""
    (finding,) = torch_install.check(facts(python=env(torchaudio="2.6.0"))).findings
    command = (
        "/home/kyu/tts/.venv/bin/python -m pip install --force-reinstall torch==2.9.1 "
        "torchaudio==2.9.1 --index-url https://download.pytorch.org/whl/cu128"
    )
    assert finding.commands == (command,)
    assert finding.params["torchaudio_version"] == "2.9.1"


def test_lock_from_uv_lock_and_sync_command() -> None:
    """A torch below the uv.lock beside --pyproject names that file and syncs that project."""
    change = {
        **pinning("moshi==0.2.10", "torchaudio", lock={"torch": "2.6.0"}),
        **env(torch="2.5.1+cu124", torchaudio="2.5.1"),
    }
    change["requirements"]["lock_path"] = "/srv/moshi/uv.lock"
    (finding,) = torch_install.check(facts(python=change)).findings
    assert finding.code == "TORCH004"
    assert "/srv/moshi/uv.lock has torch 2.6.0" in finding.message
    assert finding.commands == ("cd /srv/moshi && uv sync --locked",)
    assert finding.params["torch_version"] == "2.6.0"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(env(torchaudio="2.11.0", torch="2.13.0+cu130"), id="stable-abi-torchaudio"),
        pytest.param(env(drop=("torchaudio",)), id="torchaudio-missing-is-PY002"),
        pytest.param(env(torch="2.10.0+cu128", torchaudio="2.10.0"), id="newer-than-lock"),
        pytest.param(
            env(drop=("torch",), torch_py={**healthy_python.FACTS["torch"]}),
            id="torch-without-dist-info",
        ),
        pytest.param(
            pinning("moshi==0.2.13", "torch==2.4.1", version="3.14.0"),
            id="python-outside-range-is-PY001",
        ),
    ],
)
def test_ok(change: dict[str, Any]) -> None:
    """Matching pairs, newer torch, and what other checks own give no finding here."""
    outcome = torch_install.check(facts(python=change))
    assert not outcome.skipped and not outcome.findings


def test_skips_when_only_the_version_is_known() -> None:
    """A Python too old for the introspection script gives a skip pointing at PY001."""
    python = {"introspected": False, "distributions": None, "error": "SyntaxError"}
    outcome = torch_install.check(facts(python=python))
    assert outcome.skipped and "PY001" in outcome.summary
