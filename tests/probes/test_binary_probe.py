"""The ``binary`` probe on real files: compiled ELFs, pip-style console scripts, cargo records."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kyudoctor.checks import bin_install, bin_libraries
from kyudoctor.probes import binary
from tests.conftest import FakeBin, MakeCtx
from tests.fixtures_elf import (
    LIBPYTHON_SONAME,
    ElfKit,
    build_elf_kit,
    install,
    write_console_script,
    write_long_path_console_script,
    write_shell_wrapper,
)
from tests.healthy import facts

REGISTRY = "registry+https://github.com/rust-lang/crates.io-index"
RUSTC_VV = (
    "rustc 1.85.0 (4d91de4e4 2025-02-17)\nbinary: rustc\n"
    "commit-hash: 4d91de4e48198da2e33413efdcd9cd2cc0c46688\ncommit-date: 2025-02-17\n"
    "host: x86_64-unknown-linux-gnu\nrelease: 1.85.0\nLLVM version: 19.1.7\n"
)


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> ElfKit:
    """Real ELF programs compiled once for this module."""
    return build_elf_kit(tmp_path_factory.mktemp("elf"))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def crates2(version: str = "0.6.4", features: list[str] | None = None) -> str:
    """A ``.crates2.json`` as cargo writes it (one line, ``rustc -vV`` in full)."""
    entry = {
        "version_req": None,
        "bins": ["moshi-server"],
        "features": ["cuda"] if features is None else features,
        "all_features": False,
        "no_default_features": False,
        "profile": "release",
        "target": "x86_64-unknown-linux-gnu",
        "rustc": RUSTC_VV,
    }
    return json.dumps(
        {"installs": {f"moshi-server {version} ({REGISTRY})": entry}}, separators=(",", ":")
    )


def crates_toml(version: str = "0.6.4") -> str:
    return f'[v1]\n"moshi-server {version} ({REGISTRY})" = ["moshi-server"]\n'


def run_probe(make_ctx: MakeCtx, home: Path, path: list[Path | str], **env: str) -> dict[str, Any]:
    ctx = make_ctx(env={"HOME": str(home), "PATH": os.pathsep.join(map(str, path)), **env})
    facts = binary.probe(ctx)
    json.dumps(facts)  # facts are JSON types only
    return facts


def test_nothing_installed(make_ctx: MakeCtx, home: Path, fakebin: FakeBin) -> None:
    """With no moshi-server anywhere every fact says absent and ldd is not run."""
    facts = run_probe(make_ctx, home, [fakebin.path])
    assert facts["candidates"] == []
    assert facts["first_on_path"] is None and facts["first_kind"] is None
    assert facts["cargo_bin"] == str(home / ".cargo" / "bin")
    assert facts["cargo_binary"] is None and facts["cargo_bin_on_path"] is False
    assert facts["install"] is None and facts["install_error"] is None
    assert facts["ldd"] == {
        "ran": False,
        "not_found": [],
        "resolved": {},
        "realpaths": {},
        "error": None,
        "binary": None,
    }


def test_cargo_elf_on_path(make_ctx: MakeCtx, home: Path, fakebin: FakeBin, kit: ElfKit) -> None:
    """An ELF in ~/.cargo/bin on PATH is the first candidate and ldd resolves libc."""
    cargo_bin = home / ".cargo" / "bin"
    target = install(kit.plain, cargo_bin)
    fakebin.link("ldd", "/usr/bin/ldd")
    facts = run_probe(make_ctx, home, [fakebin.path, cargo_bin])
    assert [(c["path"], c["kind"], c["on_path"]) for c in facts["candidates"]] == [
        (str(target), "elf", True)
    ]
    assert facts["first_on_path"] == str(target) and facts["first_kind"] == "elf"
    assert facts["cargo_bin_on_path"] is True and facts["cargo_binary"] == str(target)
    ldd = facts["ldd"]
    assert ldd["ran"] is True and ldd["error"] is None and ldd["binary"] == str(target)
    assert ldd["not_found"] == []
    assert ldd["resolved"]["libc.so.6"].endswith("libc.so.6")


def test_cargo_elf_not_on_path(
    make_ctx: MakeCtx, home: Path, fakebin: FakeBin, kit: ElfKit
) -> None:
    """An ELF only in cargo's bin, which PATH lacks, is listed off PATH and still inspected."""
    target = install(kit.plain, home / ".cargo" / "bin")
    fakebin.link("ldd", "/usr/bin/ldd")
    facts = run_probe(make_ctx, home, [fakebin.path])
    assert [(c["kind"], c["on_path"]) for c in facts["candidates"]] == [("elf", False)]
    assert facts["first_on_path"] is None and facts["cargo_bin_on_path"] is False
    assert facts["cargo_binary"] == str(target)
    assert facts["ldd"]["ran"] is True and facts["ldd"]["binary"] == str(target)


def test_cargo_home_from_env(make_ctx: MakeCtx, home: Path, tmp_path: Path, kit: ElfKit) -> None:
    """``$CARGO_HOME`` replaces ~/.cargo for the bin directory and the install record."""
    cargo_home = tmp_path / "cargo-home"
    target = install(kit.plain, cargo_home / "bin")
    (cargo_home / ".crates2.json").write_text(crates2())
    facts = run_probe(make_ctx, home, [cargo_home / "bin"], CARGO_HOME=str(cargo_home))
    assert facts["cargo_bin"] == str(cargo_home / "bin") and facts["cargo_binary"] == str(target)
    assert facts["cargo_bin_on_path"] is True
    assert facts["install"]["version"] == "0.6.4"


def test_python_script_shadows_elf(
    make_ctx: MakeCtx, home: Path, tmp_path: Path, fakebin: FakeBin, kit: ElfKit
) -> None:
    """A pip console script first on PATH is a python-script; ldd inspects the ELF after it."""
    venv_bin = tmp_path / "venv" / "bin"
    script = write_console_script(venv_bin, str(venv_bin / "python"))
    cargo_bin = home / ".cargo" / "bin"
    elf = install(kit.plain, cargo_bin)
    fakebin.link("ldd", "/usr/bin/ldd")
    facts = run_probe(make_ctx, home, [venv_bin, fakebin.path, cargo_bin])
    kinds = [(c["path"], c["kind"], c["on_path"]) for c in facts["candidates"]]
    assert kinds == [(str(script), "python-script", True), (str(elf), "elf", True)]
    first = facts["candidates"][0]
    assert first["shebang"] == f"#!{venv_bin / 'python'}"
    assert first["interpreter"] == str(venv_bin / "python")
    assert facts["first_kind"] == "python-script"
    assert facts["ldd"]["binary"] == str(elf)


def test_long_path_launcher(make_ctx: MakeCtx, home: Path, tmp_path: Path) -> None:
    """pip's /bin/sh launcher for long interpreter paths is a python-script with that interpreter."""
    long_venv = tmp_path / ("v" * 120) / "bin"
    script = write_long_path_console_script(long_venv, str(long_venv / "python3.12"))
    facts = run_probe(make_ctx, home, [long_venv])
    (candidate,) = facts["candidates"]
    assert candidate["path"] == str(script) and candidate["kind"] == "python-script"
    assert candidate["shebang"] == "#!/bin/sh"
    assert candidate["interpreter"] == str(long_venv / "python3.12")


@pytest.mark.parametrize(
    ("content", "kind", "interpreter"),
    [
        (
            "#!/usr/bin/env python3\nfrom moshi.server import main\nmain()\n",
            "python-script",
            "python3",
        ),
        ("#!/usr/bin/env -S python3 -u\nimport sys\n", "python-script", "python3"),
        ("import moshi.server\nmoshi.server.main()\n", "python-script", None),
        ('#!/bin/bash\nexec /opt/moshi/moshi-server "$@"\n', "script", None),
        ("MZ\x90\x00binary-ish", "other", None),
        ("", "other", None),
    ],
    ids=["env-python", "env-split", "no-shebang-import", "shell", "not-elf", "empty"],
)
def test_classification(
    make_ctx: MakeCtx,
    home: Path,
    fakebin: FakeBin,
    content: str,
    kind: str,
    interpreter: str | None,
) -> None:
    """Non-ELF files are told apart by shebang and by importing moshi.server."""
    fakebin.add("moshi-server", content, shebang="").write_text(content)
    facts = run_probe(make_ctx, home, [fakebin.path])
    (candidate,) = facts["candidates"]
    assert (candidate["kind"], candidate["interpreter"]) == (kind, interpreter)
    assert facts["ldd"]["ran"] is False  # ldd runs on ELF files only


def test_shell_wrapper_then_elf(
    make_ctx: MakeCtx, home: Path, tmp_path: Path, fakebin: FakeBin, kit: ElfKit
) -> None:
    """A shell wrapper first on PATH is a script; the ELF it wraps is the one ldd inspects."""
    elf = install(kit.plain, tmp_path / "opt")
    wrapper = write_shell_wrapper(tmp_path / "wrap", elf)
    fakebin.link("ldd", "/usr/bin/ldd")
    facts = run_probe(make_ctx, home, [tmp_path / "wrap", fakebin.path, tmp_path / "opt"])
    assert [c["kind"] for c in facts["candidates"]] == ["script", "elf"]
    assert facts["first_on_path"] == str(wrapper)
    assert facts["ldd"]["binary"] == str(elf)


def test_same_file_listed_once(make_ctx: MakeCtx, home: Path, tmp_path: Path, kit: ElfKit) -> None:
    """One file reached through two PATH entries (a symlinked directory) is one candidate."""
    real_dir = tmp_path / "usr-bin"
    install(kit.plain, real_dir)
    (tmp_path / "bin").symlink_to(real_dir)
    facts = run_probe(make_ctx, home, [tmp_path / "bin", real_dir])
    assert [c["path"] for c in facts["candidates"]] == [str(tmp_path / "bin" / "moshi-server")]


def test_non_executable_on_path_ignored(make_ctx: MakeCtx, home: Path, tmp_path: Path) -> None:
    """A non-executable file named moshi-server on PATH is not a candidate (the shell skips it)."""
    directory = tmp_path / "d"
    directory.mkdir()
    (directory / "moshi-server").write_text("#!/bin/sh\n")
    assert run_probe(make_ctx, home, [directory])["candidates"] == []


def test_ldd_libpython_not_found(
    make_ctx: MakeCtx, home: Path, fakebin: FakeBin, kit: ElfKit
) -> None:
    """ldd's "not found" for libpython is reported; LD_LIBRARY_PATH to its dir resolves it."""
    cargo_bin = home / ".cargo" / "bin"
    install(kit.needs_libpython, cargo_bin)
    fakebin.link("ldd", "/usr/bin/ldd")
    missing = run_probe(make_ctx, home, [fakebin.path, cargo_bin])["ldd"]
    assert missing["ran"] is True and missing["error"] is None
    assert missing["not_found"] == [LIBPYTHON_SONAME]
    assert LIBPYTHON_SONAME not in missing["resolved"]
    found = run_probe(make_ctx, home, [fakebin.path, cargo_bin], LD_LIBRARY_PATH=str(kit.libdir))[
        "ldd"
    ]
    assert found["not_found"] == []
    assert found["resolved"][LIBPYTHON_SONAME] == str(kit.libdir / LIBPYTHON_SONAME)


def test_ldd_static_binary(make_ctx: MakeCtx, home: Path, fakebin: FakeBin, kit: ElfKit) -> None:
    """A static ELF: ldd ran, resolved nothing, and its complaint is the error."""
    if kit.static is None:
        pytest.skip("no static libc to link a static test binary")
    install(kit.static, fakebin.root)
    fakebin.link("ldd", "/usr/bin/ldd")
    ldd = run_probe(make_ctx, home, [fakebin.path])["ldd"]
    assert ldd["ran"] is True and ldd["not_found"] == [] and ldd["resolved"] == {}
    assert ldd["error"] == "not a dynamic executable"


def test_ldd_fallback_outside_path(
    make_ctx: MakeCtx, home: Path, tmp_path: Path, kit: ElfKit
) -> None:
    """With ldd not on a trimmed PATH, /usr/bin/ldd is used."""
    directory = tmp_path / "only"
    install(kit.plain, directory)
    ldd = run_probe(make_ctx, home, [directory])["ldd"]
    assert ldd["ran"] is True and "libc.so.6" in ldd["resolved"]


def test_ldd_hang_is_bounded(
    make_ctx: MakeCtx,
    home: Path,
    fakebin: FakeBin,
    kit: ElfKit,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An ldd that hangs is killed after its own short limit and said in one line."""
    monkeypatch.setattr(binary, "LDD_TIMEOUT_S", 0.3)
    install(kit.plain, fakebin.root)
    fakebin.add("ldd", "exec /bin/sleep 30\n")
    ldd = run_probe(make_ctx, home, [fakebin.path])["ldd"]
    assert ldd["ran"] is False and ldd["error"] == "ldd did not finish within 0.3 s"


@pytest.mark.parametrize(
    ("files", "install_facts", "error_part"),
    [
        (
            {".crates2.json": crates2()},
            {"version": "0.6.4", "features": ["cuda"], "source": REGISTRY},
            None,
        ),
        (
            {".crates2.json": crates2("0.6.1", features=[])},
            {"version": "0.6.1", "features": [], "source": REGISTRY},
            None,
        ),
        (
            {".crates.toml": crates_toml("0.6.3")},
            {"version": "0.6.3", "features": None, "source": REGISTRY},
            None,
        ),
        (
            {".crates2.json": '{"installs": {"', ".crates.toml": crates_toml()},
            {"version": "0.6.4", "features": None, "source": REGISTRY},
            "invalid JSON: Unterminated string",
        ),
        ({".crates2.json": "{not json"}, None, "invalid JSON: Expecting property name"),
        ({".crates2.json": '["installs"]'}, None, 'unexpected layout (no "installs" object)'),
        ({".crates2.json": json.dumps({"installs": {}})}, None, None),
        ({}, None, None),
    ],
    ids=[
        "good",
        "no-features",
        "toml-only",
        "corrupt-with-toml",
        "corrupt",
        "layout",
        "other-crates",
        "absent",
    ],
)
def test_install_record(
    make_ctx: MakeCtx,
    home: Path,
    kit: ElfKit,
    files: dict[str, str],
    install_facts: dict[str, Any] | None,
    error_part: str | None,
) -> None:
    """cargo's record gives version, features and source; a corrupt one is a one-line error."""
    cargo_home = home / ".cargo"
    install(kit.plain, cargo_home / "bin")
    for name, text in files.items():
        (cargo_home / name).write_text(text)
    facts = run_probe(make_ctx, home, [cargo_home / "bin"])
    got = facts["install"]
    if install_facts is None:
        assert got is None
    else:
        assert {k: got[k] for k in install_facts} == install_facts
    if error_part is None:
        assert facts["install_error"] is None
    else:
        error = facts["install_error"]
        assert error.startswith(str(cargo_home / ".crates2.json") + ": ")
        assert error_part in error and "\n" not in error


def test_install_record_details(make_ctx: MakeCtx, home: Path) -> None:
    """The JSON record's build settings are kept, rustc reduced to its first line."""
    cargo_home = home / ".cargo"
    cargo_home.mkdir()
    (cargo_home / ".crates2.json").write_text(crates2())
    install_facts = run_probe(make_ctx, home, ["/nonexistent"])["install"]
    assert install_facts == {
        "version": "0.6.4",
        "features": ["cuda"],
        "source": REGISTRY,
        "record": str(cargo_home / ".crates2.json"),
        "all_features": False,
        "no_default_features": False,
        "profile": "release",
        "target": "x86_64-unknown-linux-gnu",
        "rustc": "rustc 1.85.0 (4d91de4e4 2025-02-17)",
    }


@pytest.fixture(scope="module")
def cargo_installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CARGO_HOME into which real ``cargo install --features cuda`` put a stub moshi-server."""
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("cargo is not installed")
    root = tmp_path_factory.mktemp("cargo")
    crate = root / "moshi-server"
    (crate / "src").mkdir(parents=True)
    (crate / "Cargo.toml").write_text(
        '[package]\nname = "moshi-server"\nversion = "0.6.4"\nedition = "2021"\n\n'
        "[features]\ncuda = []\n"
    )
    (crate / "src" / "main.rs").write_text("fn main() {}\n")
    env = {**os.environ, "CARGO_HOME": str(root / "home"), "CARGO_TARGET_DIR": str(root / "t")}
    env.setdefault("RUSTUP_HOME", str(Path.home() / ".rustup"))
    done = subprocess.run(
        [cargo, "install", "--offline", "--features", "cuda", "--path", str(crate)],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cargo install failed here: {done.stderr.decode()[-300:]}")
    return root / "home"


def test_real_cargo_install(
    make_ctx: MakeCtx, home: Path, fakebin: FakeBin, cargo_installed: Path
) -> None:
    """What real ``cargo install`` records and builds is read back: version, cuda, an ELF."""
    fakebin.link("ldd", "/usr/bin/ldd")
    facts = run_probe(
        make_ctx, home, [fakebin.path, cargo_installed / "bin"], CARGO_HOME=str(cargo_installed)
    )
    assert facts["first_kind"] == "elf" and facts["cargo_bin_on_path"] is True
    install_facts = facts["install"]
    assert install_facts["version"] == "0.6.4" and install_facts["features"] == ["cuda"]
    assert install_facts["source"].startswith("path+file://")
    assert install_facts["rustc"].startswith("rustc ") and "\n" not in install_facts["rustc"]
    assert facts["install_error"] is None and facts["ldd"]["ran"] is True


def test_real_files_through_the_checks(
    make_ctx: MakeCtx, home: Path, tmp_path: Path, fakebin: FakeBin, kit: ElfKit
) -> None:
    """Real probe facts of a shadowed, unlinkable install give BIN003 and BIN005 in the checks."""
    venv_bin = tmp_path / "venv" / "bin"
    write_console_script(venv_bin, str(venv_bin / "python"))
    cargo_bin = home / ".cargo" / "bin"
    install(kit.needs_libpython, cargo_bin)
    fakebin.link("ldd", "/usr/bin/ldd")
    probed = run_probe(make_ctx, home, [venv_bin, fakebin.path, cargo_bin])
    all_facts = facts(binary=probed)
    assert [f.code for f in bin_install.CHECK.run(all_facts).findings] == ["BIN003"]
    (finding,) = bin_libraries.CHECK.run(all_facts).findings
    assert finding.code == "BIN005"
    assert f"{LIBPYTHON_SONAME} => not found" in finding.message
    assert "built against Python 3.99" in finding.message
