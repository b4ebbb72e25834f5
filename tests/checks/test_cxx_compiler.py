"""cxx.compiler: CXX001 no compiler, CXX002 GCC too old, CXX003 GCC too new for nvcc or for
sentencepiece."""

from __future__ import annotations

from typing import Any

import pytest

from kyudoctor.checks import cxx_compiler
from kyudoctor.model import Outcome
from kyudoctor.rules import render_fix, severity_of
from tests.healthy import binary as healthy_binary
from tests.healthy import facts, status
from tests.healthy import nvcc as healthy_nvcc
from tests.healthy import system as healthy_system

NOT_BUILT = {"install": None, "cargo_binary": None, "candidates": []}
MISSING = {
    "path": None,
    "version": None,
    "major": None,
    "banner": None,
    "compiler": None,
    "error": "not found",
}
BANNERS = {
    9: "g++ (Ubuntu 9.4.0-1ubuntu1~20.04.2) 9.4.0",
    11: "g++ (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0",
    12: "g++ (Ubuntu 12.3.0-1ubuntu1~22.04) 12.3.0",
    13: "g++ (Ubuntu 13.3.0-6ubuntu2~24.04) 13.3.0",
    15: "g++ (GCC) 15.1.1 20250425",
}


def gcc(major: int, path: str = "/usr/bin/g++", **extra: Any) -> dict[str, Any]:
    banner = BANNERS[major]
    version = banner.split(") ")[1].split()[0]
    return {
        "path": path,
        "version": version,
        "major": major,
        "banner": banner,
        "compiler": "gcc",
        "error": None,
        **extra,
    }


def both(major: int) -> dict[str, Any]:
    """g++ and c++ (the same GCC), and only its own versioned g++-N installed."""
    return {"gxx": gcc(major), "cxx": gcc(major, "/usr/bin/c++"), "gxx_versions": versions(major)}


def versions(*majors: int) -> list[dict[str, Any]]:
    return [{"name": f"g++-{m}", "path": f"/usr/bin/g++-{m}", "major": m} for m in majors]


def nvcc(version: str) -> dict[str, Any]:
    release = ".".join(version.split(".")[:2])
    return {"nvcc": {**healthy_nvcc.FACTS["nvcc"], "version": version, "release": release}}


def env(**values: str) -> dict[str, Any]:
    return {"env": {**healthy_system.FACTS["env"], **values}}


CLANG = {
    "path": "/usr/bin/c++",
    "version": "18.1.3",
    "major": 18,
    "compiler": "clang",
    "banner": "Ubuntu clang version 18.1.3 (1ubuntu1)",
    "error": None,
}


def run(**overrides: Any) -> Outcome:
    """Run the check before moshi-server is built, unless the test says otherwise."""
    overrides.setdefault("binary", NOT_BUILT)
    return cxx_compiler.CHECK.run(facts(**overrides))


@pytest.mark.parametrize(
    ("overrides", "codes", "expected_status"),
    [
        ({}, [], "ok"),
        ({"toolchain": {"gxx": MISSING, "cxx": MISSING}, "binary": NOT_BUILT}, ["CXX001"], "error"),
        (
            {"toolchain": {"gxx": MISSING, "cxx": MISSING}, "binary": healthy_binary.FACTS},
            ["CXX001"],
            "warning",
        ),
        (
            {"toolchain": {"cxx_env": {**MISSING, "value": "g++-14"}}, "binary": NOT_BUILT},
            ["CXX001"],
            "error",
        ),
        (
            {"toolchain": {"ccbin": {**MISSING, "value": "/opt/gcc/bin/g++"}}, "binary": NOT_BUILT},
            ["CXX001"],
            "error",
        ),
        ({"toolchain": both(9)}, ["CXX002"], "error"),
        ({"toolchain": both(11)}, [], "ok"),
        ({"toolchain": both(15)}, ["CXX003"], "error"),
        (
            {"toolchain": both(15), "system": env(CXXFLAGS="-O2 -include cstdint")},
            ["CXX003"],
            "error",
        ),
        ({"toolchain": both(15), "nvcc": nvcc("13.0.88")}, ["CXX003"], "error"),
        ({"toolchain": both(15), "nvcc": None}, ["CXX003"], "error"),
        ({"toolchain": both(13), "nvcc": nvcc("12.1.105")}, ["CXX003"], "error"),
        (
            {
                "toolchain": {**both(13), "ccbin": gcc(12, "/usr/bin/g++-12", value="g++-12")},
                "nvcc": nvcc("12.1.105"),
            },
            [],
            "ok",
        ),
        ({"toolchain": {"cxx": CLANG}}, [], "ok"),
        ({"toolchain": both(13), "nvcc": nvcc("12.7.1")}, [], "ok"),
    ],
    ids=[
        "healthy",
        "no-compiler",
        "no-compiler-built",
        "cxx-names-missing",
        "nvcc-ccbin-names-missing",
        "gcc9",
        "gcc11",
        "gcc15-nvcc12.8",
        "gcc15-cxxflags-nvcc12.8",
        "gcc15-nvcc13-unsupported",
        "gcc15-no-nvcc-facts",
        "gcc13-nvcc12.1",
        "gcc13-ccbin12-nvcc12.1",
        "clang-build-compiler",
        "nvcc-release-not-in-table",
    ],
)
def test_cxx_compiler(overrides: dict[str, Any], codes: list[str], expected_status: str) -> None:
    """Each situation gives exactly the expected codes and status."""
    outcome = run(**overrides)
    assert [f.code for f in outcome.findings] == codes
    assert status(outcome) == expected_status


def test_no_compiler_installs_build_essential() -> None:
    """No compiler at all: build-essential through the system's package manager."""
    finding = run(toolchain={"gxx": MISSING, "cxx": MISSING}, binary=NOT_BUILT).findings[0]
    assert finding.message == "no g++ or c++ on PATH"
    assert finding.commands == ("sudo apt-get install -y build-essential",)
    dnf = run(
        toolchain={"gxx": MISSING, "cxx": MISSING},
        system={"package_manager": "dnf"},
        binary=healthy_binary.FACTS,
    )
    assert dnf.findings[0].commands == ("sudo dnf install -y gcc-c++ make",)
    assert "needed only to (re)build moshi-server" in dnf.findings[0].message


def test_cxx_naming_a_missing_versioned_gxx_installs_it() -> None:
    """CXX=g++-14 that is not installed: install g++-14."""
    finding = run(toolchain={"cxx_env": {**MISSING, "value": "g++-14"}}).findings[0]
    assert finding.message.startswith("CXX=g++-14 names a compiler that is not installed")
    assert finding.commands == ("sudo apt-get install -y g++-14",)


@pytest.mark.parametrize(
    ("installed", "commands"),
    [
        (
            (),
            (
                "sudo apt-get install -y gcc-11 g++-11",
                "export CC=gcc-11 CXX=g++-11 NVCC_CCBIN=g++-11",
            ),
        ),
        ((9, 12), ("export CC=gcc-12 CXX=g++-12 NVCC_CCBIN=g++-12",)),
        ((9, 12, 14, 15), ("export CC=gcc-14 CXX=g++-14 NVCC_CCBIN=g++-14",)),
    ],
    ids=["nothing-installed", "g++-12-installed", "newest-accepted-installed"],
)
def test_gcc9_selects_an_accepted_gcc(
    installed: tuple[int, ...], commands: tuple[str, ...]
) -> None:
    """GCC 9: the newest installed GCC that nvcc 12.8 and sentencepiece accept, else the floor."""
    toolchain = {**both(9), "gxx_versions": versions(*installed)}
    finding = run(toolchain=toolchain).findings[0]
    assert finding.commands == commands
    assert "/usr/bin/g++ (g++ (Ubuntu 9.4.0-1ubuntu1~20.04.2) 9.4.0) is older than GCC 11" in (
        finding.message
    )


def test_gcc15_with_nvcc128_names_both_problems_and_gcc13() -> None:
    """GCC 15 with nvcc 12.8: both reasons, and Kyutai's gcc-13 when no accepted GCC is there."""
    finding = run(toolchain=both(15)).findings[0]
    assert "nvcc 12.8.93 accepts host GCC up to 14" in finding.message
    assert "breaks the sentencepiece build" in finding.message
    assert finding.commands == (
        "sudo apt-get install -y gcc-13 g++-13",
        "export CC=gcc-13 CXX=g++-13 NVCC_CCBIN=g++-13",
    )
    assert finding.params == {"gcc_major": 13}
    fix = render_fix(finding, {})
    assert fix.commands == finding.commands and "gcc-13" in fix.text


def test_gcc15_with_installed_gcc14_selects_it() -> None:
    """An installed g++-14 (accepted by nvcc 12.8 and sentencepiece) is selected as it is."""
    finding = run(toolchain={**both(15), "gxx_versions": versions(14, 15)}).findings[0]
    assert finding.commands == ("export CC=gcc-14 CXX=g++-14 NVCC_CCBIN=g++-14",)
    assert "g++-14 is already installed" in finding.message


def test_gcc15_sentencepiece_only_uses_the_flag() -> None:
    """GCC 15 with no nvcc limit in play: the CXXFLAGS workaround, keeping existing flags."""
    assert run(toolchain=both(15), nvcc=nvcc("13.0.88")).findings[0].commands == (
        'export CXXFLAGS="-include cstdint"',
    )
    outcome = run(toolchain=both(15), nvcc=None, system=env(CXXFLAGS="-O2"))
    assert outcome.findings[0].commands == ('export CXXFLAGS="-include cstdint -O2"',)
    assert "or select GCC 13 through CC/CXX" in outcome.findings[0].message


def test_gcc15_with_flag_still_exceeds_nvcc() -> None:
    """With the flag set, GCC 15 is still above nvcc 12.8's limit: select GCC 14."""
    finding = run(toolchain=both(15), system=env(CXXFLAGS="-include cstdint")).findings[0]
    assert "sentencepiece" not in finding.message
    assert finding.commands[-1] == "export CC=gcc-14 CXX=g++-14 NVCC_CCBIN=g++-14"


def test_gcc13_with_nvcc121_selects_gcc12() -> None:
    """nvcc 12.1 accepts GCC 12 at most: install and select gcc-12."""
    finding = run(toolchain=both(13), nvcc=nvcc("12.1.105")).findings[0]
    assert finding.message.startswith(
        "nvcc 12.1.105 accepts host GCC up to 12, and its host compiler (g++)"
    )
    assert finding.commands == (
        "sudo apt-get install -y gcc-12 g++-12",
        "export CC=gcc-12 CXX=g++-12 NVCC_CCBIN=g++-12",
    )


def test_other_package_managers_get_the_export_and_a_note() -> None:
    """Without apt there is no versioned g++ package to name: the export line and a note."""
    finding = run(toolchain=both(9), system={"package_manager": "dnf"}).findings[0]
    assert finding.commands == ("export CC=gcc-11 CXX=g++-11 NVCC_CCBIN=g++-11",)
    assert "install GCC 11 with dnf first" in finding.message


def test_summaries() -> None:
    """The ok summary names the compilers; clang is said to be not compared."""
    assert "nvcc accepts GCC up to 14" in run().summary
    assert "(clang 18.1.3) (GCC limits not compared)" in run(toolchain={"cxx": CLANG}).summary
    assert (
        "not in the policy data" in run(toolchain=both(13), nvcc=nvcc("12.7.1")).details["notes"][0]
    )


def test_version_problems_warn_once_a_current_build_is_installed() -> None:
    """CXX002/CXX003 are build-only: with a current CUDA build installed they are warnings."""
    gcc9 = {"toolchain": {"gxx": {**facts()["toolchain"]["gxx"], "version": "9.5.0", "major": 9}}}
    before = run(**gcc9)
    after = run(binary=healthy_binary.FACTS, **gcc9)
    assert [severity_of(f).value for f in before.findings] == ["error"]
    assert [severity_of(f).value for f in after.findings] == ["warning"]
    assert "needed only to (re)build moshi-server" in after.findings[0].message
