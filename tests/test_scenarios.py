"""End to end: whole fake machines (tests/scenarios) diagnosed by the installed
``kyudoctor check --only host``, one scenario per deployment problem.

Every scenario asserts the exact set of error and warning codes, the status of the checks that
matter, the exit status, and the fix commands the catalog promises, computed for the machine.
The only finding this real machine forces on every scenario is PY001 at severity info (its
Python is 3.11, moshi-server's lock is made for 3.12); ENV002 would be added where the temporary
directory's disk has less than 10 GB free.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from kyudoctor import policy
from tests import fixtures_elf
from tests.helpers_venv import find_python
from tests.scenario_runner import every_format  # noqa: F401 - autouse: every report, every format
from tests.scenarios import (
    Host,
    check,
    codes,
    commands,
    embedding_elf,
    finding,
    gpu_host,
    invoke,
    orphan_libpython_elf,
    problems,
    rtx4090_470,
    rtx5090_575,
    run,
    statuses,
)

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="fake Linux hosts: ELF binaries, ldd, /bin/sh"
)

CRATES = "cargo install --force --features cuda moshi-server@0.6.4"


@dataclass(frozen=True)
class Elves:
    """Real programs named moshi-server, built once per session."""

    kit: fixtures_elf.ElfKit
    embeds_target: Path  # links this interpreter's own libpython (what a healthy build does)
    workdir: Path


@pytest.fixture(scope="session")
def elves(tmp_path_factory: pytest.TempPathFactory) -> Elves:
    """The ELF kit of tests/fixtures_elf.py plus a program embedding this Python's libpython."""
    workdir = tmp_path_factory.mktemp("elves")
    libdir = sysconfig.get_config_var("LIBDIR")
    soname = sysconfig.get_config_var("INSTSONAME")
    if not sysconfig.get_config_var("Py_ENABLE_SHARED") or not libdir or not soname:
        pytest.skip("the Python running the tests has no shared libpython to embed")
    kit = fixtures_elf.build_elf_kit(workdir / "kit")
    return Elves(
        kit=kit, embeds_target=embedding_elf(workdir / "embeds", libdir, soname), workdir=workdir
    )


def machine_forced(root: Path) -> set[str]:
    """Warnings this machine imposes whatever the scenario: ENV002 on a nearly full disk."""
    floor_bytes = policy.load().disk_min_free_gb * 1e9
    return {"ENV002"} if shutil.disk_usage(root).free < floor_bytes else set()


def libdir_of(python: Path) -> str:
    """``sysconfig``'s LIBDIR of an interpreter, asked the way the fix text tells the user."""
    return subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_config_var('LIBDIR'))"],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout.strip()


def processes_with(marker: str) -> list[int]:
    """PIDs of live processes whose command line mentions ``marker``."""
    pids = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(marker in part for part in proc.info["cmdline"] or []):
                pids.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return pids


def assert_only_forced(report: dict, host: Host) -> None:
    """No error or warning beyond what this machine forces; PY001 is info at most."""
    assert problems(report) == machine_forced(host.root), report["findings"]
    assert codes(report, "info") <= {"PY001"}


# --- 1. healthy -----------------------------------------------------------------------------------


def test_healthy_gpu_host(tmp_path: Path, elves: Elves) -> None:
    """An H100 on driver 570 with the 12.8 toolkit, moshi-server 0.6.4 (cuda) and its venv is healthy."""
    host = gpu_host(tmp_path, elves.embeds_target)
    exit_code, report = run(host)
    assert_only_forced(report, host)
    assert exit_code == 0
    status = statuses(report)
    # The venv has no websockets client library: nothing for WS013 to judge.
    assert status.pop("client.websockets") == "skipped"
    assert {s for k, s in status.items() if k != "env.disk"} == {"ok"}, status
    # The fake nvidia-smi was asked exactly what the gpu probe asks (no NVML driver here).
    calls = host.nvidia_smi_calls()
    assert [c.split(" ", 1)[0].split("=", 1)[0] for c in calls] == [
        "--query-gpu",
        "",
        "--query-compute-apps",
    ]
    assert "NVIDIA H100 80GB HBM3" in check(report, "gpu.driver")["summary"]
    assert "570.124.06" in check(report, "gpu.driver")["summary"]
    assert str(host.toolkit) in check(report, "cuda.nvcc")["summary"]
    assert "12.8.93" in check(report, "cuda.nvcc")["summary"]
    assert "sm_90 supported" in check(report, "torch.wheel")["summary"]
    # ldd found the target interpreter's own libpython through LD_LIBRARY_PATH.
    assert libdir_of(host.venv.python) in check(report, "python.embedded")["summary"]
    # The only finding: Python 3.11 instead of the pinned 3.12, said as info with its command.
    assert finding(report, "PY001")["severity"] == "info"
    assert commands(report, "PY001") == ["uv venv -p 3.12"]
    assert report["summary"]["errors"] == 0 and report["summary"]["timeouts"] == 0


def test_activated_venv_is_the_default_target(tmp_path: Path, elves: Elves) -> None:
    """Without --python, the activated venv (VIRTUAL_ENV, its bin first on PATH) is the target."""
    host = gpu_host(tmp_path, elves.embeds_target)
    assert host.venv is not None
    host.extra_path.append(host.venv.root / "bin")
    host.extra_env["VIRTUAL_ENV"] = str(host.venv.root)
    exit_code, report = run(host, python_arg=False)
    assert report["targets"]["python"] == str(host.venv.python)
    assert report["targets"]["python_source"] == "VIRTUAL_ENV"
    assert_only_forced(report, host)
    assert exit_code == 0
    assert statuses(report)["python.deps"] == statuses(report)["torch.wheel"] == "ok"


# --- 2. CPU torch -------------------------------------------------------------------------------


def test_cpu_torch_on_a_gpu_host(tmp_path: Path, elves: Elves) -> None:
    """A +cpu torch on a GPU host is TORCH002 with the pip command of a CUDA index the driver runs."""
    host = gpu_host(tmp_path, elves.embeds_target, torch=("2.9.1+cpu", None))
    exit_code, report = run(host)
    assert problems(report) == {"TORCH002"} | machine_forced(host.root)
    assert exit_code == 1
    status = statuses(report)
    assert status["torch.wheel"] == "error"
    assert status["torch.install"] == status["gpu.driver"] == status["gpu.driver_cuda"] == "ok"
    torch002 = finding(report, "TORCH002")
    assert torch002["severity"] == "error" and torch002["check"] == "torch.wheel"
    [command] = torch002["fix"]["commands"]
    assert command == (
        f"{host.venv.python} -m pip install --force-reinstall torch==2.9.1 torchaudio==2.9.1 "
        "--index-url https://download.pytorch.org/whl/cu128"
    )
    # The flavour is one this driver (CUDA 12.8) runs and whose arch list has the H100's sm_90.
    pol = policy.load()
    flavour = command.rsplit("/", 1)[1]
    assert pol.driver_supports_cuda("12.8", pol.flavour_cuda(flavour), "570.124.06") == "yes"
    assert pol.torch_supports_cc("2.9.1", flavour, "9.0") is True


def test_cpu_torch_console_report(tmp_path: Path, elves: Elves) -> None:
    """The console report of the CPU-torch host names TORCH002 and prints its pip command whole."""
    host = gpu_host(tmp_path, elves.embeds_target, torch=("2.9.1+cpu", None))
    result = invoke(host, fmt="console", env=host.env(NO_COLOR="1", COLUMNS="60"))
    assert result.exit_code == 1, result.stderr
    assert "\x1b[" not in result.stdout
    lines = result.stdout.splitlines()
    assert any("TORCH002" in line and "torch-cpu-only" in line for line in lines)
    expected = (
        f"$ {host.venv.python} -m pip install --force-reinstall torch==2.9.1 torchaudio==2.9.1 "
        "--index-url https://download.pytorch.org/whl/cu128"
    )
    assert expected in [line.strip() for line in lines], result.stdout
    assert "exit 1" in lines[-1]


# --- 3. driver too old ------------------------------------------------------------------------------


def test_driver_too_old_for_the_wheel_and_the_toolkit(tmp_path: Path, elves: Elves) -> None:
    """An RTX 4090 on driver 470 (CUDA 11.4) with torch cu128 is TORCH005 (not GPU003) and CUDA005."""
    host = gpu_host(tmp_path, elves.embeds_target, gpu=rtx4090_470())
    exit_code, report = run(host)
    assert problems(report) == {"TORCH005", "CUDA005"} | machine_forced(host.root)
    assert "GPU003" not in codes(report)  # one problem, one code: the installed wheel's
    assert exit_code == 1
    status = statuses(report)
    assert status["gpu.driver"] == "ok"
    assert status["gpu.capability"] == "ok"  # 8.9 from kyudoctor's table: R470 has no compute_cap
    assert status["gpu.driver_cuda"] == "skipped"
    assert "TORCH005" in check(report, "gpu.driver_cuda")["summary"]
    assert status["torch.wheel"] == "error"
    assert status["cuda.driver"] == "warning"
    # R470 rejects compute_cap: the probe asked again without it.
    calls = host.nvidia_smi_calls()
    assert "compute_cap" in calls[0] and "compute_cap" not in calls[1]
    torch005 = finding(report, "TORCH005")
    assert torch005["severity"] == "error"
    assert torch005["evidence"]["driver_max_cuda"] == "11.4"
    # No CUDA build of torch 2.9.1 runs on CUDA 11.4 (cu126 needs >= 525): no pip command, the
    # fix is the driver of the wheel's CUDA release.
    assert torch005["fix"]["commands"] == []
    assert "570.26" in torch005["message"]
    cuda005 = finding(report, "CUDA005")
    assert cuda005["severity"] == "warning"
    assert "12.8" in cuda005["message"] and "470.82.01" in cuda005["message"]


# --- 4. Blackwell with an old wheel ---------------------------------------------------------------


def test_blackwell_with_an_old_wheel(tmp_path: Path, elves: Elves) -> None:
    """An RTX 5090 (sm_120) with torch 2.6.0+cu124 is TORCH008, and TORCH004 below the lock's 2.9.1."""
    host = gpu_host(tmp_path, elves.embeds_target, gpu=rtx5090_575(), torch=("2.6.0+cu124", "12.4"))
    exit_code, report = run(host)
    # TORCH004 is right per symptoms.md ("below the lock's version": 2.6.0 < 2.9.1); no PY003:
    # moshi 0.2.13 accepts torch>=2.2.0,<2.10 and torchaudio 2.6.0 matches torch 2.6 (no TORCH006).
    assert problems(report) == {"TORCH008", "TORCH004"} | machine_forced(host.root)
    assert exit_code == 1
    status = statuses(report)
    assert status["torch.wheel"] == status["torch.install"] == "error"
    assert status["gpu.driver_cuda"] == "ok"  # driver 575 (CUDA 12.9) runs the lock's cu128
    assert status["cuda.arch"] == "ok"  # nvcc 12.8 lists compute_120
    torch008 = finding(report, "TORCH008")
    assert torch008["evidence"]["compute_cap"] == "12.0"
    # torch 2.6 has no build with sm_120: the fix is the lock's torch 2.9.1 from cu128.
    assert torch008["fix"]["commands"] == [
        f"{host.venv.python} -m pip install --force-reinstall torch==2.9.1 torchaudio==2.9.1 "
        "--index-url https://download.pytorch.org/whl/cu128"
    ]
    torch004 = finding(report, "TORCH004")
    assert torch004["evidence"]["lock"] == "2.9.1"


# --- 5. Python shim first on PATH -------------------------------------------------------------------


def test_python_script_shadows_the_binary(tmp_path: Path, elves: Elves) -> None:
    """An old moshi's console script first on PATH is BIN003, with the binary's full path."""
    host = gpu_host(tmp_path, elves.embeds_target)
    old = tmp_path / "old-venv" / "bin"
    shim = host.python_shim(old, old / "python3")
    exit_code, report = run(host)
    assert problems(report) == {"BIN003"} | machine_forced(host.root)
    assert exit_code == 1
    status = statuses(report)
    assert status["binary.install"] == "error"
    assert status["binary.libraries"] == "ok"  # ldd still looks at the ELF in cargo's bin
    bin003 = finding(report, "BIN003")
    assert str(shim) in bin003["message"]
    assert bin003["fix"]["commands"] == [
        f"{host.cargo_bin / 'moshi-server'} worker --config configs/config-tts.toml",
        f"{old / 'python3'} -m pip install -U 'moshi>=0.2.8'",
    ]


# --- 6. libpython not found ---------------------------------------------------------------------------


def test_binary_linked_to_a_deleted_libpython(tmp_path: Path, elves: Elves) -> None:
    """A binary needing a libpython3.99 nobody has is BIN005: rebuild with the target's LIBDIR."""
    host = gpu_host(tmp_path, elves.kit.needs_libpython)
    exit_code, report = run(host)
    assert problems(report) == {"BIN005"} | machine_forced(host.root)
    assert exit_code == 1
    status = statuses(report)
    assert status["binary.libraries"] == "error"
    assert status["python.embedded"] == "skipped"  # BIN005's, not PY005's
    assert "BIN005" in check(report, "python.embedded")["summary"]
    libdir = libdir_of(host.venv.python)
    assert commands(report, "BIN005") == [
        f"source {host.venv.root}/bin/activate",
        f"export LD_LIBRARY_PATH={shlex.quote(libdir)}:$LD_LIBRARY_PATH",
        CRATES,
    ]


def test_target_libpython_not_on_the_loader_path(tmp_path: Path, elves: Elves) -> None:
    """A binary built for the target's Python whose LIBDIR is not searched is BIN005: one export."""
    python = find_python("3.12")
    if python is None:
        pytest.skip("needs a Python 3.12 on this machine")
    cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=False).stdout
    if "libpython3.12.so.1.0" in cache:
        pytest.skip("this machine's loader already knows a libpython3.12")
    elf = orphan_libpython_elf(elves.workdir / "orphan", "libpython3.12.so.1.0")
    host = gpu_host(tmp_path, elf, python=python)
    assert host.toolkit is not None
    host.ld_library_path = [str(host.toolkit / "lib64")]  # the venv's LIBDIR is not there
    exit_code, report = run(host)
    assert problems(report) == {"BIN005"} | machine_forced(host.root)
    assert exit_code == 1
    assert statuses(report)["binary.libraries"] == "error"
    libdir = libdir_of(host.venv.python)
    assert commands(report, "BIN005") == [
        f"export LD_LIBRARY_PATH={shlex.quote(libdir)}:$LD_LIBRARY_PATH"
    ]
    assert libdir in finding(report, "BIN005")["message"]


def test_binary_embeds_another_installation_of_the_same_python(
    tmp_path: Path, elves: Elves
) -> None:
    """LD_LIBRARY_PATH leading to another copy of libpython3.X is PY005 (warning), exit 0."""
    host = gpu_host(tmp_path, elves.embeds_target)
    assert host.venv is not None and host.toolkit is not None
    soname = str(sysconfig.get_config_var("INSTSONAME"))
    other = tmp_path / "opt-python" / "lib"
    other.mkdir(parents=True)
    # A real copy (not a link): another installation, whatever way a path is compared.
    shutil.copy2(Path(str(sysconfig.get_config_var("LIBDIR"))) / soname, other / soname)
    host.ld_library_path = [str(other), str(host.toolkit / "lib64")]
    exit_code, report = run(host)
    assert problems(report) == {"PY005"} | machine_forced(host.root)
    assert exit_code == 0
    assert statuses(report)["python.embedded"] == "warning"
    assert statuses(report)["binary.libraries"] == "ok"
    py005 = finding(report, "PY005")
    assert py005["severity"] == "warning"
    assert str(other / soname) in py005["message"]
    libdir = libdir_of(host.venv.python)
    assert py005["fix"]["commands"] == [
        f"source {host.venv.root}/bin/activate",
        f"export LD_LIBRARY_PATH={shlex.quote(libdir)}:$LD_LIBRARY_PATH",
        CRATES,
    ]


def test_system_python_found_through_the_ldconfig_cache(tmp_path: Path, elves: Elves) -> None:
    """A venv of the distribution's Python, its libpython found by the loader's cache under the
    /lib alias of /usr/lib (merged /usr), is the target's own: no PY005."""
    system_python = Path("/usr/bin/python3")
    if not system_python.exists():
        pytest.skip("no distribution Python at /usr/bin/python3")
    config = subprocess.run(
        [
            str(system_python),
            "-c",
            "import sysconfig as s; print(s.get_config_var('LIBDIR')); "
            "print(s.get_config_var('INSTSONAME')); print(s.get_config_var('Py_ENABLE_SHARED'))",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    ).stdout.split()
    cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=False).stdout
    if len(config) != 3 or config[2] != "1" or f"{config[1]} (" not in cache:
        pytest.skip("the distribution Python has no shared libpython in the ldconfig cache")
    libdir, soname = config[0], config[1]
    probe = subprocess.run(
        [str(system_python), "-m", "venv", "--without-pip", str(tmp_path / "probe-venv")],
        capture_output=True,
        check=False,
        timeout=60,
    )
    if probe.returncode != 0:
        pytest.skip("the distribution Python cannot make a venv (no python3-venv)")
    elf = embedding_elf(elves.workdir / "system", libdir, soname)
    host = gpu_host(tmp_path / "host", elf, python=system_python)
    assert host.toolkit is not None
    host.ld_library_path = [str(host.toolkit / "lib64")]  # libpython comes from the cache
    exit_code, report = run(host)
    assert_only_forced(report, host)
    assert exit_code == 0
    assert statuses(report)["python.embedded"] == "ok"
    assert soname in check(report, "binary.libraries")["summary"]


# --- 7. built without cuda, outdated ------------------------------------------------------------------


def test_binary_without_cuda_and_outdated(tmp_path: Path, elves: Elves) -> None:
    """moshi-server 0.6.1 installed without the cuda feature is BIN004 and BIN006."""
    host = gpu_host(tmp_path, elves.embeds_target)
    host.crates2("0.6.1", features=())
    exit_code, report = run(host)
    assert problems(report) == {"BIN004", "BIN006"} | machine_forced(host.root)
    assert exit_code == 1
    assert statuses(report)["binary.build"] == "error"
    assert finding(report, "BIN004")["severity"] == "error"
    assert finding(report, "BIN006")["severity"] == "warning"
    assert commands(report, "BIN004") == [CRATES]
    assert commands(report, "BIN006") == [CRATES]
    assert "missing field `script`" in finding(report, "BIN006")["message"]


# --- 8. gcc too new for nvcc ----------------------------------------------------------------------------


def test_gcc_too_new_for_nvcc(tmp_path: Path, elves: Elves) -> None:
    """nvcc 12.1 with g++ 13 first on PATH is CXX003, selecting the installed g++-12; with a
    current cuda build installed it is a warning (needed only to rebuild), like every
    build-toolchain problem."""
    host = gpu_host(tmp_path, elves.embeds_target, cuda="12.1")
    host.gxx("gxx-13", versioned=13)
    host.script("g++-12", f'exec {shlex.quote(str(shutil.which("g++") or "/usr/bin/g++"))} "$@"\n')
    exit_code, report = run(host)
    assert problems(report) == {"CXX003"} | machine_forced(host.root)
    assert exit_code == 0
    status = statuses(report)
    assert status["cxx.compiler"] == "warning"
    assert "needed only to (re)build moshi-server" in finding(report, "CXX003")["message"]
    assert status["cuda.nvcc"] == status["cuda.arch"] == status["cuda.driver"] == "ok"
    cxx003 = finding(report, "CXX003")
    assert "12.1.105" in cxx003["message"] and "13.3.0" in cxx003["message"]
    assert str(host.bin / "g++") in cxx003["message"]
    assert cxx003["fix"]["commands"] == ["export CC=gcc-12 CXX=g++-12 NVCC_CCBIN=g++-12"]


# --- 9. cmake 4 --------------------------------------------------------------------------------------------


def test_cmake_4_with_the_binary_installed(tmp_path: Path, elves: Elves) -> None:
    """cmake 4 is CXX005 with the policy workaround; a warning while a cuda build is installed."""
    host = gpu_host(tmp_path, elves.embeds_target)
    host.cmake("cmake-4")
    exit_code, report = run(host)
    assert problems(report) == {"CXX005"} | machine_forced(host.root)
    cxx005 = finding(report, "CXX005")
    assert cxx005["severity"] == "warning"  # build-only: see the report of this suite
    assert "4.0.2" in cxx005["message"]
    assert cxx005["fix"]["commands"] == ["export CMAKE_POLICY_VERSION_MINIMUM=3.5"]
    assert statuses(report)["cxx.cmake"] == "warning"
    assert exit_code == 0
    exit_code, report = run(host, "--fail-on", "warning")
    assert exit_code == report["exit_code"] == 1


def test_cmake_4_before_the_build(tmp_path: Path, elves: Elves) -> None:
    """cmake 4 on a host that has still to build moshi-server is CXX005 as an error, beside BIN001."""
    host = gpu_host(tmp_path, elves.embeds_target)
    host.cmake("cmake-4")
    (host.cargo_bin / "moshi-server").unlink()
    (host.cargo_home / ".crates2.json").unlink()
    exit_code, report = run(host)
    assert problems(report) == {"CXX005", "BIN001"} | machine_forced(host.root)
    assert finding(report, "CXX005")["severity"] == "error"
    assert commands(report, "CXX005") == ["export CMAKE_POLICY_VERSION_MINIMUM=3.5"]
    assert commands(report, "BIN001") == ["cargo install --features cuda moshi-server@0.6.4"]
    status = statuses(report)
    assert status["cxx.cmake"] == status["binary.install"] == "error"
    assert status["binary.build"] == status["binary.libraries"] == "skipped"
    assert exit_code == 1


# --- 10. hanging nvidia-smi ---------------------------------------------------------------------------------


def test_hanging_nvidia_smi(tmp_path: Path, elves: Elves) -> None:
    """A nvidia-smi that never answers makes the gpu checks `timeout` (exit 3); nothing is left."""
    host = gpu_host(tmp_path, elves.embeds_target)
    host.nvidia_smi_hanging()
    started = time.monotonic()
    exit_code, report = run(host, "--timeout", "2")
    elapsed = time.monotonic() - started
    status = statuses(report)
    gpu_checks = {k for k in status if k.startswith("gpu.")}
    assert gpu_checks == {"gpu.driver", "gpu.capability", "gpu.memory", "gpu.driver_cuda"}
    assert {status[k] for k in gpu_checks} == {"timeout"}
    assert all(s != "timeout" for k, s in status.items() if k not in gpu_checks)
    # Checks that only use the gpu facts say what they could not compare.
    assert status["torch.wheel"] == status["cuda.driver"] == status["cuda.arch"] == "skipped"
    assert "nvidia-smi" in check(report, "gpu.driver")["summary"]
    assert report["summary"]["timeouts"] == len(gpu_checks)
    # cli.md: 3 when kyudoctor could not finish and nothing else reached the threshold.
    assert problems(report) == machine_forced(host.root)
    assert exit_code == 3
    assert elapsed < 15  # a hang guard, not a benchmark
    deadline = time.monotonic() + 2
    while processes_with(str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(str(tmp_path)) == []


def test_hanging_nvidia_smi_with_another_error(tmp_path: Path, elves: Elves) -> None:
    """A hang beside a real error exits 1: the finding reaches the threshold, the timeout is shown."""
    host = gpu_host(tmp_path, elves.embeds_target, torch=("2.9.1+cpu", None))
    host.nvidia_smi_hanging()
    exit_code, report = run(host, "--timeout", "2")
    assert statuses(report)["gpu.driver"] == "timeout"
    assert problems(report) == {"TORCH002"} | machine_forced(host.root)
    assert exit_code == 1
    # Without driver facts the command uses torch 2.9.1's default flavour (cu128).
    assert commands(report, "TORCH002")[0].endswith(
        "--index-url https://download.pytorch.org/whl/cu128"
    )
    deadline = time.monotonic() + 2
    while processes_with(str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(str(tmp_path)) == []


# --- 11. crashing nvidia-smi -----------------------------------------------------------------------------


def test_crashing_nvidia_smi(tmp_path: Path, elves: Elves) -> None:
    """A nvidia-smi killed by SIGSEGV is GPU001 naming the signal, and no traceback anywhere."""
    host = gpu_host(tmp_path, elves.embeds_target)
    host.nvidia_smi_crashing()
    result = invoke(host)
    report = result.report
    assert report is not None
    assert "Traceback" not in result.stdout + result.stderr
    # One problem, one code: cuda.arch is skipped naming GPU001 (and CUDA_COMPUTE_CAP).
    assert problems(report) == {"GPU001"} | machine_forced(host.root)
    assert result.exit_code == report["exit_code"] == 1
    status = statuses(report)
    assert status["gpu.driver"] == "error"
    assert (
        status["gpu.capability"] == status["gpu.memory"] == status["gpu.driver_cuda"] == "skipped"
    )
    assert status["torch.wheel"] == status["cuda.driver"] == "skipped"
    assert report["summary"]["crashed"] == 0
    gpu001 = finding(report, "GPU001")
    assert "nvidia-smi killed by SIGSEGV" in gpu001["message"]
    assert gpu001["severity"] == "error"
    assert status["cuda.arch"] == "skipped"


# --- bugs found while building the suite (each failed before its fix) -----------------------------------------------------------------------


def test_cudart_of_another_cuda_major_does_not_count(tmp_path: Path, elves: Elves) -> None:
    """With only CUDA 13's libcudart.so.13 in the ldconfig cache, a 12.8 toolkit's libcudart.so.12
    outside LD_LIBRARY_PATH is reported with the other toolkit-only libraries (CUDA004)."""
    host = gpu_host(tmp_path, elves.embeds_target)
    host.ld_library_path = host.ld_library_path[:1]  # the venv's LIBDIR, not the toolkit's lib64
    host.script(
        "ldconfig",
        """\
        cat <<'EOF'
        3 libs found in cache `/etc/ld.so.cache'
        \tlibcudart.so.13 (libc6,x86-64) => /usr/local/cuda-13.0/lib/libcudart.so.13
        \tlibcudart.so (libc6,x86-64) => /usr/local/cuda-13.0/lib/libcudart.so
        \tlibc.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libc.so.6
        EOF
        """,
    )
    _, report = run(host)
    assert problems(report) == {"CUDA004"} | machine_forced(host.root)
    assert "libcudart" in finding(report, "CUDA004")["evidence"]["toolkit_only"]


def test_symlink_to_the_target_libpython_is_the_target_libpython(
    tmp_path: Path, elves: Elves
) -> None:
    """LD_LIBRARY_PATH leading to a symlink to the target's own libpython is no PY005."""
    host = gpu_host(tmp_path, elves.embeds_target)
    assert host.toolkit is not None
    soname = str(sysconfig.get_config_var("INSTSONAME"))
    linked = tmp_path / "usr-local-lib"
    linked.mkdir()
    (linked / soname).symlink_to(Path(str(sysconfig.get_config_var("LIBDIR"))) / soname)
    host.ld_library_path = [str(linked), str(host.toolkit / "lib64")]
    exit_code, report = run(host)
    assert problems(report) == machine_forced(host.root)
    assert statuses(report)["python.embedded"] == "ok"
    assert exit_code == 0
