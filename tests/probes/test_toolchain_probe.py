"""The ``toolchain`` probe, with fake tools printing real banners, and the real tools here."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from kyudoctor.probes import toolchain
from tests.conftest import FakeBin, MakeCtx

BANNERS = Path(__file__).resolve().parents[1] / "data" / "banners"


def banner(name: str) -> str:
    return (BANNERS / name).read_text()


@pytest.fixture
def tools(tmp_path: Path) -> str:
    """A PATH directory with only what fake scripts need (`cat`, `sleep`)."""
    bin_ = FakeBin(tmp_path / "tools")
    for name in ("cat", "sleep"):
        bin_.link(name, shutil.which(name) or f"/bin/{name}")
    return bin_.path


def add_gxx(fakebin: FakeBin, name: str, banner_file: str, libstdcxx: str = "libstdc++.so") -> None:
    """A fake g++ answering --version with a real banner and -print-file-name=libstdc++.so."""
    out = fakebin.root / f".{name}.banner"
    out.write_text(banner(banner_file))
    fakebin.add(
        name,
        'case "$1" in\n'
        f'  --version) cat "{out}" ;;\n'
        f'  -print-file-name=libstdc++.so) echo "{libstdcxx}" ;;\n'
        '  *) echo "g++: fatal error: no input files" >&2; exit 1 ;;\n'
        "esac\n",
    )


@pytest.mark.parametrize(
    ("banner_file", "version", "major", "kind"),
    [
        ("gxx-9.txt", "9.4.0", 9, "gcc"),
        ("gxx-11.txt", "11.4.0", 11, "gcc"),
        ("gxx-12.txt", "12.2.0", 12, "gcc"),
        ("cxx-12.txt", "12.2.0", 12, "gcc"),
        ("gxx-13.txt", "13.3.0", 13, "gcc"),
        ("gxx-15.txt", "15.1.1", 15, "gcc"),
        ("clang-18.txt", "18.1.3", 18, "clang"),
    ],
)
def test_parse_compiler_banner(banner_file: str, version: str, major: int, kind: str) -> None:
    """Real compiler banners give the version, the major and the compiler family."""
    parsed = toolchain.parse_compiler_banner(banner(banner_file))
    assert (parsed["version"], parsed["major"], parsed["compiler"]) == (version, major, kind)
    assert parsed["banner"] == banner(banner_file).splitlines()[0]


@pytest.mark.parametrize(
    ("banner_file", "version"),
    [
        ("cmake-3.txt", "3.25.1"),
        ("cmake-4.txt", "4.0.2"),
        ("git.txt", "2.39.5"),
        ("cargo.txt", "1.95.0"),
        ("rustc.txt", "1.95.0"),
        ("pkg-config.txt", "1.8.1"),
    ],
)
def test_parse_plain_version(banner_file: str, version: str) -> None:
    """cmake, git, cargo, rustc and pkg-config banners give their version."""
    assert toolchain.parse_plain_version(banner(banner_file)) == version


def test_gcc15_toolchain_with_libstdcxx(
    tmp_path: Path, fakebin: FakeBin, tools: str, make_ctx: MakeCtx
) -> None:
    """g++ 15 is versioned; an existing libstdc++.so path is `exists`; cmake 4 has major 4."""
    lib = tmp_path / "gcc" / "15" / "libstdc++.so"
    lib.parent.mkdir(parents=True)
    lib.write_text("/* GNU ld script */")
    add_gxx(fakebin, "g++", "gxx-15.txt", str(lib))
    fakebin.link("c++", str(fakebin.root / "g++"))
    fakebin.add_printer("cmake", banner("cmake-4.txt"))
    facts = toolchain.probe(make_ctx(env={"PATH": f"{fakebin.path}:{tools}"}))
    assert facts["gxx"]["version"] == "15.1.1" and facts["gxx"]["major"] == 15
    assert facts["cxx"]["path"] == str(fakebin.root / "c++") and facts["cxx"]["major"] == 15
    assert facts["libstdcxx"] == {"printed": str(lib), "exists": True, "error": None}
    assert facts["cmake"]["version"] == "4.0.2" and facts["cmake"]["major"] == 4
    json.dumps(facts)


def test_libstdcxx_not_resolved(fakebin: FakeBin, tools: str, make_ctx: MakeCtx) -> None:
    """g++ printing the bare name `libstdc++.so` means the library does not resolve."""
    add_gxx(fakebin, "g++", "gxx-12.txt")
    facts = toolchain.probe(make_ctx(env={"PATH": f"{fakebin.path}:{tools}"}))
    assert facts["libstdcxx"]["printed"] == "libstdc++.so"
    assert facts["libstdcxx"]["exists"] is False


def test_nothing_installed(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """On an empty PATH every tool is missing, as facts."""
    facts = toolchain.probe(make_ctx(env={"PATH": str(tmp_path / "empty")}))
    for key in ("gxx", "cxx", "cmake", "pkg_config", "git", "cargo", "rustc"):
        assert facts[key]["path"] is None, key
    assert facts["libstdcxx"]["exists"] is False
    assert facts["openssl"] == {
        "found": False,
        "version": None,
        "via": None,
        "error": "pkg-config not found",
    }
    assert facts["cxx_env"] is None and facts["ccbin"] is None and facts["gxx_versions"] == []


def test_cxx_and_nvcc_ccbin_are_versioned(
    tmp_path: Path, fakebin: FakeBin, tools: str, make_ctx: MakeCtx
) -> None:
    """CXX (behind ccache) and NVCC_CCBIN (a directory) name compilers that are versioned."""
    add_gxx(fakebin, "g++", "gxx-15.txt")
    add_gxx(fakebin, "g++-13", "gxx-13.txt")
    ccbin_dir = FakeBin(tmp_path / "gcc11")
    add_gxx(ccbin_dir, "g++", "gxx-11.txt")
    env = {"PATH": f"{fakebin.path}:{tools}", "CXX": "ccache g++-13", "NVCC_CCBIN": ccbin_dir.path}
    facts = toolchain.probe(make_ctx(env=env))
    assert facts["cxx_env"]["value"] == "ccache g++-13"
    assert facts["cxx_env"]["path"] == str(fakebin.root / "g++-13")
    assert facts["cxx_env"]["major"] == 13
    assert facts["ccbin"]["path"] == str(ccbin_dir.root / "g++")
    assert facts["ccbin"]["major"] == 11
    assert facts["gxx_versions"] == [
        {"name": "g++-13", "path": str(fakebin.root / "g++-13"), "major": 13}
    ]


def test_cxx_naming_a_missing_compiler(fakebin: FakeBin, tools: str, make_ctx: MakeCtx) -> None:
    """CXX naming a compiler that is not installed is recorded with path None."""
    add_gxx(fakebin, "g++", "gxx-12.txt")
    facts = toolchain.probe(make_ctx(env={"PATH": f"{fakebin.path}:{tools}", "CXX": "g++-14"}))
    assert facts["cxx_env"]["path"] is None and facts["cxx_env"]["error"] == "not found"


def test_openssl_through_fake_pkg_config(fakebin: FakeBin, tools: str, make_ctx: MakeCtx) -> None:
    """`pkg-config --exists openssl` failing means no OpenSSL headers."""
    fakebin.add(
        "pkg-config",
        'case "$1" in\n  --version) echo 1.8.1 ;;\n  *) exit 1 ;;\nesac\n',
    )
    facts = toolchain.probe(make_ctx(env={"PATH": f"{fakebin.path}:{tools}"}))
    assert facts["pkg_config"]["version"] == "1.8.1"
    assert facts["openssl"]["found"] is False and facts["openssl"]["via"] == "pkg-config"


def test_cargo_off_path_in_cargo_home(tmp_path: Path, tools: str, make_ctx: MakeCtx) -> None:
    """cargo/rustc only in ~/.cargo/bin are found there and reported as not on PATH."""
    home = tmp_path / "home"
    cargo_bin = FakeBin(home / ".cargo" / "bin")
    cargo_bin.add_printer("cargo", banner("cargo.txt"))
    cargo_bin.add_printer("rustc", banner("rustc.txt"))
    facts = toolchain.probe(make_ctx(env={"PATH": tools, "HOME": str(home)}))
    assert facts["cargo"]["path"] == str(cargo_bin.root / "cargo")
    assert facts["cargo"]["on_path"] is False and facts["cargo"]["version"] == "1.95.0"
    assert facts["cargo"]["cargo_home"] == str(home / ".cargo")
    assert facts["rustc"]["version"] == "1.95.0"


def test_cargo_home_variable_is_honoured(tmp_path: Path, tools: str, make_ctx: MakeCtx) -> None:
    """With CARGO_HOME set, cargo is looked for in `$CARGO_HOME/bin`."""
    cargo_bin = FakeBin(tmp_path / "rust" / "bin")
    cargo_bin.add_printer("cargo", banner("cargo.txt"))
    facts = toolchain.probe(make_ctx(env={"PATH": tools, "CARGO_HOME": str(tmp_path / "rust")}))
    assert facts["cargo"]["path"] == str(cargo_bin.root / "cargo")
    assert facts["rustc"]["path"] is None


def test_hanging_tool_is_recorded_and_the_probe_goes_on(
    fakebin: FakeBin, tools: str, make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cmake that never answers is `timed out` after the per-command limit; git is still read."""
    monkeypatch.setattr(toolchain, "TOOL_TIMEOUT_S", 0.3)
    fakebin.add("cmake", "/bin/sleep 30\n")
    fakebin.add_printer("git", banner("git.txt"))
    facts = toolchain.probe(make_ctx(env={"PATH": f"{fakebin.path}:{tools}"}, timeout=5.0))
    assert facts["cmake"]["error"] == "timed out" and facts["cmake"]["version"] is None
    assert facts["git"]["version"] == "2.39.5"


@pytest.mark.skipif(shutil.which("g++") is None, reason="no g++ here")
def test_real_tools_on_this_machine(make_ctx: MakeCtx) -> None:
    """The real g++, its libstdc++, cmake and pkg-config/openssl here are read correctly."""
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}
    facts = toolchain.probe(make_ctx(env=env))
    assert facts["gxx"]["compiler"] == "gcc" and isinstance(facts["gxx"]["major"], int)
    assert facts["libstdcxx"]["exists"] is True
    if shutil.which("cmake"):
        assert isinstance(facts["cmake"]["major"], int)
    if shutil.which("pkg-config"):
        assert facts["pkg_config"]["version"]
