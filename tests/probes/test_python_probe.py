"""The ``python`` probe on real interpreters and real venvs with fake distributions written in."""

from __future__ import annotations

import ast
import json
import os
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from kyudoctor.checks import python_deps, python_version, torch_install, torch_wheel
from kyudoctor.errors import ProbeTimeout, UnusableInput
from kyudoctor.model import Severity
from kyudoctor.probes.python_env import MARKER, probe, script
from kyudoctor.probes.python_env import requirements as probe_requirements
from tests.conftest import FakeBin, MakeCtx
from tests.healthy import facts
from tests.healthy import python as healthy_python
from tests.helpers_venv import (
    Venv,
    add_dist,
    add_egg_info,
    add_torch,
    find_python,
    make_venv,
)

CONTRACT_KEYS = {
    "interpreter",
    "executable",
    "version",
    "version_info",
    "implementation",
    "prefix",
    "base_prefix",
    "is_venv",
    "libdir",
    "ldlibrary",
    "instsoname",
    "enable_shared",
    "markers",
    "distributions",
    "torch",
    "requirements",
}
REQUIREMENT_KEYS = {"source", "requires_python", "dependencies", "optional"}
TARGET = find_python("3.12") or Path(sys.executable)
"""A real CPython 3.12 when the machine has one (the pinned version), else the running one."""

MOSHI_SERVER_PYPROJECT = """\
[project]
name = "tts-python"
version = "0.1.0"
description = "Python dependencies of moshi-server's TTS"
readme = "README.md"
requires-python = "==3.12.8"
dependencies = [
    "moshi==0.2.13",
    "setuptools",
    "xformers",
    "pydantic",
    "julius",
    "torchaudio",
]

[tool.uv]
package = false
"""

UV_LOCK = """\
version = 1
revision = 2
requires-python = "==3.12.8"

[[package]]
name = "moshi"
version = "0.2.13"
source = { registry = "https://pypi.org/simple" }
dependencies = [
    { name = "torch" },
    { name = "sphn" },
]
wheels = [
    { url = "https://files.pythonhosted.org/packages/moshi-0.2.13-py3-none-any.whl", hash = "sha256:00", size = 1, upload-time = "2026-03-02T10:00:00Z" },
]

[[package]]
name = "torch"
version = "2.9.1"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "torchaudio"
version = "2.9.1"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "xformers"
version = "0.0.33.post2"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "tts-python"
version = "0.1.0"
source = { virtual = "." }
dependencies = [
    { name = "moshi" },
    { name = "torchaudio" },
]

[package.metadata]
requires-dist = [
    { name = "moshi", specifier = "==0.2.13" },
    { name = "torchaudio" },
]
"""

PYTHON2 = r"""
# Python 2.7.18 through `-c`: kyudoctor's script is a SyntaxError, Python 2 code runs.
case "$2" in
  *KYUDOCTOR-INTROSPECT*)
    printf '  File "<string>", line 37\n    def normalize(name: str) -> str:\n                      ^\nSyntaxError: invalid syntax\n' >&2
    exit 1 ;;
  *print*)
    printf '2.7.18\n/usr/bin/python2.7\n/usr\n/usr\ncpython\n'
    exit 0 ;;
esac
echo "Python 2.7.18" >&2
"""


def healthy_env(
    root: Path,
    *,
    drop: Iterable[str] = (),
    versions: Mapping[str, str] | None = None,
    torch: tuple[str, str | None] = ("2.9.1+cu128", "12.8"),
) -> Venv:
    """A real venv holding the healthy distributions (some dropped or at other versions)."""
    venv = make_venv(root, TARGET)
    skip = set(drop)
    changed = dict(versions or {})
    for name, dist in healthy_python.FACTS["distributions"].items():
        if name in skip or name == "torch":
            continue
        add_dist(venv.site, dist["name"], changed.get(name, dist["version"]), dist["requires"])
    if "torch" not in skip:
        add_torch(
            venv.site,
            torch[0],
            torch[1],
            requires=healthy_python.FACTS["distributions"]["torch"]["requires"],
        )
    return venv


def run_probe(make_ctx: MakeCtx, python: Path | str, **options: Any) -> dict[str, Any]:
    return probe(make_ctx(options={"python": str(python), **options}))


def test_healthy_venv(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """A venv with moshi-server's requirements gives the contract's facts, and no findings."""
    venv = healthy_env(tmp_path / "venv")
    got = run_probe(make_ctx, venv.python)

    assert CONTRACT_KEYS <= set(got)
    assert REQUIREMENT_KEYS <= set(got["requirements"])
    assert got["introspected"] is True
    assert got["interpreter"] == str(venv.python)
    assert got["is_venv"] is True and got["prefix"] == str(venv.root)
    assert got["version_info"][:2] == [int(p) for p in got["markers"]["python_version"].split(".")]
    assert got["implementation"] == "cpython"
    assert set(got["distributions"]) == set(healthy_python.FACTS["distributions"])
    moshi = got["distributions"]["moshi"]
    assert moshi["version"] == "0.2.13" and moshi["location"] == str(venv.site)
    assert moshi["requires"] == healthy_python.FACTS["distributions"]["moshi"]["requires"]
    assert got["torch"]["version"] == "2.9.1+cu128" and got["torch"]["cuda"] == "12.8"
    assert got["torch"]["path"] == str(venv.site / "torch")
    assert got["requirements"]["source"] == "kyudoctor's known requirements of moshi-server 0.6.4"
    assert got["requirements"]["lock"]["torch"] == "2.9.1"
    json.dumps(got)  # JSON types only

    merged = facts(python=got)
    for check in (python_deps, torch_install, torch_wheel):
        outcome = check.check(merged)
        assert not outcome.skipped and not outcome.findings, outcome


@pytest.mark.parametrize(
    ("env", "check", "code"),
    [
        pytest.param({"drop": ["moshi"]}, python_deps, "PY002", id="missing-moshi"),
        pytest.param({"versions": {"moshi": "0.2.8"}}, python_deps, "PY003", id="moshi-0.2.8"),
        pytest.param({"drop": ["xformers"]}, python_deps, "PY004", id="no-xformers"),
        pytest.param({"torch": ("2.9.1+cpu", None)}, torch_wheel, "TORCH002", id="cpu-torch"),
        pytest.param(
            {"versions": {"torchaudio": "2.6.0"}}, torch_install, "TORCH006", id="torchaudio-2.6"
        ),
        pytest.param({"drop": ["torch"]}, torch_install, "TORCH001", id="no-torch"),
    ],
)
def test_broken_venvs(
    tmp_path: Path, make_ctx: MakeCtx, env: dict[str, Any], check: Any, code: str
) -> None:
    """Each broken environment, seen through the probe, gives its code."""
    venv = healthy_env(tmp_path / "venv", **env)
    outcome = check.check(facts(python=run_probe(make_ctx, venv.python)))
    assert [f.code for f in outcome.findings] == [code]


def test_never_imports_torch(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """torch/__init__.py raises if executed; the probe still reads torch/version.py."""
    venv = make_venv(tmp_path / "venv", TARGET)
    add_torch(venv.site, "2.6.0+cu124", "12.4")
    got = run_probe(make_ctx, venv.python)
    assert got["introspected"] is True
    assert got["torch"] == {
        "version": "2.6.0+cu124",
        "cuda": "12.4",
        "git_version": "5811a8d7da873dd699ff6687092c225caffcf1bb",
        "hip": None,
        "path": str(venv.site / "torch"),
        "version_py": str(venv.site / "torch" / "version.py"),
    }


def test_torch_without_metadata(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """A torch on sys.path without a dist-info (a source tree) is still found by its package."""
    venv = make_venv(tmp_path / "venv", TARGET)
    tree = tmp_path / "src"
    add_torch(tree, "2.10.0a0+git1234", "12.8", dist=False)
    ctx = make_ctx(env={"PYTHONPATH": str(tree)}, options={"python": str(venv.python)})
    got = probe(ctx)
    assert "torch" not in got["distributions"]
    assert got["torch"]["version"] == "2.10.0a0+git1234"


def test_first_on_sys_path_wins(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """A distribution found twice is the one import would load; the other is listed as shadowed."""
    venv = make_venv(tmp_path / "venv", TARGET)
    add_dist(venv.site, "moshi", "0.2.13")
    early = tmp_path / "early"
    add_dist(early, "moshi", "0.2.8")
    ctx = make_ctx(env={"PYTHONPATH": str(early)}, options={"python": str(venv.python)})
    moshi = probe(ctx)["distributions"]["moshi"]
    assert moshi["version"] == "0.2.8" and moshi["location"] == str(early)
    assert moshi["shadowed"] == [{"version": "0.2.13", "location": str(venv.site)}]


def test_names_are_normalized(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """Distribution keys are PEP 503 names; the original spelling is kept in ``name``."""
    venv = make_venv(tmp_path / "venv", TARGET)
    add_dist(venv.site, "Typing_Extensions", "4.14.1")
    dist = run_probe(make_ctx, venv.python)["distributions"]["typing-extensions"]
    assert dist["name"] == "Typing_Extensions"


def test_egg_info(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """A setuptools egg-info is read, its requires.txt sections turned into PEP 508 markers."""
    venv = make_venv(tmp_path / "venv", TARGET)
    add_egg_info(
        venv.site,
        "julius",
        "0.2.7",
        {"": ["torch"], "dev": ["flake8"], ':python_version < "3.11"': ["tomli"]},
    )
    julius = run_probe(make_ctx, venv.python)["distributions"]["julius"]
    assert julius["version"] == "0.2.7"
    assert julius["requires"] == [
        "torch",
        'flake8; extra == "dev"',
        'tomli; (python_version < "3.11")',
    ]


def test_noise_from_sitecustomize(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """Output printed by sitecustomize at start-up does not spoil the JSON line."""
    venv = make_venv(tmp_path / "venv", TARGET)
    (venv.site / "sitecustomize.py").write_text("print('hello from sitecustomize {')\n")
    add_dist(venv.site, "moshi", "0.2.13")
    got = run_probe(make_ctx, venv.python)
    assert got["introspected"] is True and "moshi" in got["distributions"]


def test_working_directory_is_not_on_the_path(
    tmp_path: Path, make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A torch/ or dist-info in the current directory is not what moshi-server would import."""
    venv = make_venv(tmp_path / "venv", TARGET)
    here = tmp_path / "here"
    add_torch(here, "1.0.0+cpu", None)
    monkeypatch.chdir(here)
    got = run_probe(make_ctx, venv.python)
    assert got["torch"] is None and "torch" not in got["distributions"]


def test_real_libpython(make_ctx: MakeCtx) -> None:
    """LIBDIR, INSTSONAME and the existing libpython paths are the interpreter's own."""
    got = run_probe(make_ctx, TARGET)
    if not got["enable_shared"]:
        pytest.skip(f"{TARGET} has no shared libpython")
    assert got["instsoname"].startswith(f"libpython{got['markers']['python_version']}")
    assert os.path.join(got["libdir"], got["instsoname"]) in got["libpython_paths"]
    assert all(Path(p).exists() for p in got["libpython_paths"])


def test_by_name_on_path_and_by_venv_directory(
    tmp_path: Path, make_ctx: MakeCtx, fakebin: FakeBin
) -> None:
    """--python accepts a name found on PATH, and a venv directory (its bin/python)."""
    fakebin.link("python3", str(TARGET))
    by_name = probe(make_ctx(env={"PATH": fakebin.path}, options={"python": "python3"}))
    assert by_name["interpreter"] == str(fakebin.root / "python3")
    assert by_name["introspected"] is True
    venv = make_venv(tmp_path / "venv", TARGET)
    by_dir = run_probe(make_ctx, venv.root)
    assert by_dir["interpreter"] == str(venv.python)
    assert by_dir["prefix"] == str(venv.root)


# --- interpreters that are too old or are not Pythons --------------------------------------------


def test_script_keeps_python36_syntax() -> None:
    """The introspection script parses as Python 3.6 and avoids 3.7+ future imports."""
    text = script()
    tree = ast.parse(text, feature_version=(3, 6))
    futures = [
        n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "__future__"
    ]
    assert futures == []
    assert MARKER in text


def test_python2_like_interpreter(make_ctx: MakeCtx, fakebin: FakeBin) -> None:
    """A Python 2 answers the minimal query: its version is known, and PY001 says too old."""
    fake = fakebin.add("python2", PYTHON2)
    got = run_probe(make_ctx, fake)
    assert got["introspected"] is False
    assert got["version"] == "2.7.18" and got["version_info"] == [2, 7, 18]
    assert "SyntaxError: invalid syntax" in got["error"]
    assert got["distributions"] is None and got["torch"] is None
    outcome = python_version.check(facts(python=got))
    (finding,) = outcome.findings
    assert finding.code == "PY001" and "too old" in finding.message
    assert python_deps.check(facts(python=got)).skipped


@pytest.mark.parametrize(
    ("version", "introspected"),
    [pytest.param("2.7", False, id="python-2.7"), pytest.param("3.6", True, id="python-3.6")],
)
def test_real_old_interpreters(make_ctx: MakeCtx, version: str, introspected: bool) -> None:
    """Real old Pythons (when installed) still report their version, so PY001 can judge it."""
    python = find_python(version)
    if python is None:
        pytest.skip(f"no Python {version} on this machine")
    got = run_probe(make_ctx, python)
    assert got["introspected"] is introspected
    assert got["version"].startswith(version + ".")
    (finding,) = python_version.check(facts(python=got)).findings
    assert finding.code == "PY001" and (finding.severity or Severity.ERROR) is Severity.ERROR


@pytest.mark.parametrize(
    ("python", "words"),
    [
        pytest.param(
            "/bin/ls", "--python /bin/ls: not a Python interpreter (exit status", id="bin-ls"
        ),
        pytest.param(
            "/nonexistent/bin/python",
            "--python /nonexistent/bin/python: no such file",
            id="missing-file",
        ),
        pytest.param("no-such-python-xyz", "not found on PATH", id="missing-name"),
    ],
)
def test_unusable_python(make_ctx: MakeCtx, python: str, words: str) -> None:
    """Something that is not a Python interpreter is an unusable --python, said in one line."""
    with pytest.raises(UnusableInput) as caught:
        run_probe(make_ctx, python)
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_not_executable(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """A file without the execute bit is unusable, with its mode."""
    path = tmp_path / "python"
    path.write_text("#!/bin/sh\n")
    with pytest.raises(UnusableInput, match=r"not executable \(-rw"):
        run_probe(make_ctx, path)


def test_program_printing_junk(make_ctx: MakeCtx, fakebin: FakeBin) -> None:
    """A program that exits 0 with other output is not a Python."""
    fake = fakebin.add_printer("python", "hello\n")
    with pytest.raises(UnusableInput, match="unexpected output: hello"):
        run_probe(make_ctx, fake)


def test_hanging_interpreter_times_out(make_ctx: MakeCtx, fakebin: FakeBin) -> None:
    """An interpreter that never answers ends at the probe's deadline, killed."""
    fake = fakebin.add("python", "exec sleep 30\n")
    started = time.monotonic()
    with pytest.raises(ProbeTimeout):
        probe(make_ctx(options={"python": str(fake)}, timeout=0.5))
    assert time.monotonic() - started < 5


# --- requirements ------------------------------------------------------------------------------


def test_pyproject_and_uv_lock(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """moshi-server's own pyproject gives the requirements, and the uv.lock beside it the pins."""
    project = tmp_path / "moshi" / "rust" / "moshi-server"
    project.mkdir(parents=True)
    (project / "pyproject.toml").write_text(MOSHI_SERVER_PYPROJECT)
    (project / "uv.lock").write_text(UV_LOCK)
    ctx = make_ctx(options={"python": str(TARGET), "pyproject": str(project / "pyproject.toml")})
    requirements = probe_requirements(ctx)
    assert requirements["source"] == str(project / "pyproject.toml")
    assert requirements["requires_python"] == "==3.12.8"
    assert requirements["dependencies"][0] == "moshi==0.2.13"
    assert requirements["optional"] == ["xformers"]
    assert requirements["lock"] == {
        "moshi": "0.2.13",
        "torch": "2.9.1",
        "torchaudio": "2.9.1",
        "xformers": "0.0.33.post2",
        "tts-python": "0.1.0",
    }
    assert requirements["lock_path"] == str(project / "uv.lock")


def test_relative_pyproject(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """A relative --pyproject is read from the run's working directory."""
    (tmp_path / "pyproject.toml").write_text(MOSHI_SERVER_PYPROJECT)
    ctx = make_ctx(options={"python": str(TARGET), "pyproject": "pyproject.toml"}, cwd=tmp_path)
    assert probe_requirements(ctx)["path"] == str(tmp_path / "pyproject.toml")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        pytest.param(
            '[project]\nname = "tts-python"\ndependencies = ["moshi==0.2.13",\n',
            # tomllib (3.11+) says "at end of document"; tomli (3.10) names the line after it.
            ("TOML parse error at end of document: ", "TOML parse error at line 4, column 1: "),
            id="unterminated-array",
        ),
        pytest.param(
            '[project]\nname = "tts-python"\nrequires-python = ==3.12.8\n',
            "TOML parse error at line 3, column 19: Invalid value",
            id="bad-value",
        ),
        pytest.param("[tool.uv]\npackage = false\n", "no [project] table", id="no-project"),
        pytest.param(None, "no such file", id="missing"),
    ],
)
def test_unusable_pyproject(
    tmp_path: Path, make_ctx: MakeCtx, text: str | None, words: str | tuple[str, ...]
) -> None:
    """An unreadable --pyproject is unusable, with the parser's line and column, before the
    interpreter is even run."""
    path = tmp_path / "pyproject.toml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(UnusableInput) as caught:
        run_probe(make_ctx, "/bin/false", pyproject=str(path))
    message = str(caught.value)
    assert message.startswith(f"--pyproject {path}: ")
    assert any(w in message for w in ((words,) if isinstance(words, str) else words))


def test_broken_uv_lock_is_a_fact_not_an_error(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """A uv.lock that is not TOML is reported in the facts; the pyproject is still used."""
    (tmp_path / "pyproject.toml").write_text(MOSHI_SERVER_PYPROJECT)
    (tmp_path / "uv.lock").write_text("version = \n")
    ctx = make_ctx(options={"python": str(TARGET), "pyproject": str(tmp_path / "pyproject.toml")})
    got = probe_requirements(ctx)
    assert got["lock"] == {}
    assert got["lock_error"].startswith("TOMLDecodeError")
