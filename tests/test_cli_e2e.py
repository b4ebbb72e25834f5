"""The installed command end to end: real processes, this machine's real tools, fake GPU tools."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import FakeBin
from tests.reportschema import validate_report

KYUDOCTOR = str(Path(sys.executable).parent / "kyudoctor")
REAL_NVCC_13 = Path("/usr/local/cuda-13.0/bin/nvcc")


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    full_env.pop("VIRTUAL_ENV", None)
    full_env.update(env or {})
    return subprocess.run(
        [KYUDOCTOR, *args],
        check=False,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )


def test_version() -> None:
    """`kyudoctor --version` prints the version and exits 0; `python -m kyudoctor` is the same CLI."""
    from kyudoctor import __version__

    assert run("--version").stdout == f"kyudoctor {__version__}\n"
    module = subprocess.run(
        [sys.executable, "-m", "kyudoctor", "--version"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert module.stdout == f"kyudoctor {__version__}\n" and module.returncode == 0


def test_version_imports_nothing_heavy() -> None:
    """The --version path imports neither rich, websockets, pynvml, psutil nor torch."""
    code = (
        "import sys; from kyudoctor.cli import main; main(['--version']); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'rich', 'websockets', 'pynvml', 'psutil', 'torch', 'argparse', 'packaging'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.skipif(not REAL_NVCC_13.exists(), reason="needs this machine's real CUDA 13.0 nvcc")
@pytest.mark.skipif(
    shutil.which("nvidia-smi") is not None, reason="needs a machine without an NVIDIA driver"
)
def test_this_machine_real_nvcc_13_and_no_driver() -> None:
    """On this machine the real nvcc 13.0 gives CUDA003 and the missing driver GPU001, exit 1."""
    proc = run("check", "--only", "host", "--format", "json")
    data = json.loads(proc.stdout)
    validate_report(data)
    codes = [f["code"] for f in data["findings"]]
    assert "CUDA003" in codes and "GPU001" in codes
    assert proc.returncode == data["exit_code"] == 1
    statuses = {c["id"]: c["status"] for c in data["checks"]}
    assert statuses["gpu.driver"] == "error"
    # Root cause first: nothing compares against a driver that is not there.
    assert "GPU003" not in codes and "CUDA005" not in codes
    assert statuses["gpu.driver_cuda"] == "skipped"


def test_console_report_of_this_machine() -> None:
    """The console report has one line per check and the fix commands of each finding."""
    proc = run("check", "--only", "host", env={"NO_COLOR": "1"})
    assert proc.returncode in (0, 1), proc.stderr
    assert "gpu.driver" in proc.stdout and "exit" in proc.stdout.splitlines()[-1]
    assert "\x1b[" not in proc.stdout


def test_no_color_is_respected_even_when_colour_is_forced() -> None:
    """NO_COLOR turns colours off even when FORCE_COLOR asks for a terminal."""
    coloured = run("check", "--only", "env.platform", env={"FORCE_COLOR": "1"})
    plain = run("check", "--only", "env.platform", env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert "\x1b[3" in coloured.stdout
    assert "\x1b[3" not in plain.stdout


def _processes_with(marker: str) -> list[int]:
    pids = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(marker in part for part in proc.info["cmdline"] or []):
                pids.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return pids


def test_hanging_nvidia_smi_becomes_timeout_and_leaves_no_process(fakebin: FakeBin) -> None:
    """A nvidia-smi that never exits makes gpu checks `timeout`; the rest report; nothing is left."""
    fakebin.add("nvidia-smi", f'"{fakebin.path}/spin" &\nexec "{fakebin.path}/spin"\n')
    fakebin.add("spin", "while :; do sleep 0.1; done\n")
    started = time.monotonic()
    proc = run(
        "check",
        "--only",
        "host",
        "--timeout",
        "2",
        "--format",
        "json",
        env={"PATH": f"{fakebin.path}:{os.environ['PATH']}"},
    )
    elapsed = time.monotonic() - started
    data = json.loads(proc.stdout)
    validate_report(data)
    statuses = {c["id"]: c["status"] for c in data["checks"]}
    assert statuses["gpu.driver"] == "timeout"
    assert all(s != "timeout" for k, s in statuses.items() if not k.startswith("gpu."))
    assert data["summary"]["timeouts"] >= 1
    assert elapsed < 10  # a hang guard, not a benchmark (bench/run.py measures the 3 s bar)
    time.sleep(0.2)
    assert _processes_with(fakebin.path) == []


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("check", "--python", "/nonexistent/python"), "no such file"),
        (("check", "--python", "/bin/ls"), "not a Python interpreter"),
        (("check", "--select", "XYZ999"), "XYZ999"),
        (("check", "--ignore", "NOPE"), "NOPE"),
        (("check", "--only", "nonsense"), "nonsense"),
        (("check", "--output", "/nonexistent-dir/report.json"), "does not exist"),
        (("explain", "NOPE123"), "NOPE123"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: tuple[str, ...], needle: str) -> None:
    """Unusable input gives exit 2 and one line on stderr naming the problem, never a traceback."""
    proc = run(*args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_unparsable_pyproject_is_exit_2_with_position(tmp_path: Path) -> None:
    """A broken --pyproject is refused with the parser's line and column, exit 2."""
    broken = tmp_path / "pyproject.toml"
    broken.write_text("[project\nname = 'x'\n")
    proc = run("check", "--pyproject", str(broken))
    assert proc.returncode == 2 and "line" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_timeout_option_is_validated() -> None:
    """--timeout 0 is a usage error (exit 2)."""
    assert run("check", "--timeout", "0").returncode == 2


def test_output_file_gets_the_report_and_console_gets_a_summary(tmp_path: Path) -> None:
    """--output writes the JSON report there and prints a summary line on the terminal."""
    out = tmp_path / "report.json"
    proc = run("check", "--only", "env.platform", "--format", "json", "--output", str(out))
    validate_report(json.loads(out.read_text()))
    assert "report written to" in proc.stdout
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".kyudoctor-")]


def test_output_never_overwrites_an_input(tmp_path: Path) -> None:
    """--output naming the --pyproject file is refused and the file is left untouched."""
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[project]\nname = 'tts-python'\ndependencies = []\n")
    proc = run("check", "--pyproject", str(pyproject), "--output", str(pyproject))
    assert proc.returncode == 2
    assert pyproject.read_text() == "[project]\nname = 'tts-python'\ndependencies = []\n"


@pytest.mark.skipif(not REAL_NVCC_13.exists(), reason="needs this machine's real CUDA 13.0 nvcc")
def test_select_and_ignore() -> None:
    """--select keeps only the named family; --ignore keeps a finding visible but harmless."""
    selected = json.loads(
        run("check", "--only", "host", "--select", "CUDA", "--format", "json").stdout
    )
    assert selected["findings"] and all(f["code"].startswith("CUDA") for f in selected["findings"])
    everything = [f["code"] for f in selected["findings"]]
    ignored = run(
        "check",
        "--only",
        "host",
        "--select",
        "CUDA",
        "--ignore",
        ",".join(everything),
        "--format",
        "json",
    )
    data = json.loads(ignored.stdout)
    validate_report(data)
    assert all(f["ignored"] for f in data["findings"])
    assert data["summary"]["ignored"] == len(everything) and data["summary"]["errors"] == 0
    assert ignored.returncode == 0


def test_fail_on_never_exits_zero() -> None:
    """--fail-on never makes findings informational for the exit status."""
    assert run("check", "--only", "host", "--fail-on", "never", "--format", "json").returncode in (
        0,
        3,
    )


def test_only_accepts_check_id_prefixes() -> None:
    """--only gpu runs exactly the gpu.* checks; --skip takes the same names."""
    data = json.loads(run("check", "--only", "gpu", "--format", "json").stdout)
    ids = [c["id"] for c in data["checks"]]
    assert ids and all(i.startswith("gpu.") for i in ids)
    rest = json.loads(
        run("check", "--only", "host", "--skip", "gpu,cuda.nvcc", "--format", "json").stdout
    )
    assert not [
        c["id"] for c in rest["checks"] if c["id"].startswith("gpu.") or c["id"] == "cuda.nvcc"
    ]


def test_progress_goes_to_stderr_only_on_a_terminal() -> None:
    """With stderr a terminal a live progress line is drawn there; stdout keeps the report only."""
    import pty

    master, slave = pty.openpty()
    env = dict(os.environ, TERM="xterm")
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.Popen(
        [KYUDOCTOR, "check", "--only", "env,gpu", "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
        text=True,
    )
    os.close(slave)
    out, _ = proc.communicate(timeout=60)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert b"kyudoctor: prob" in seen
    validate_report(json.loads(out))
    piped = run("check", "--only", "env,gpu", "--format", "json")
    assert piped.stderr == ""


def test_huge_or_special_pyproject_is_refused_unread(tmp_path: Path) -> None:
    """A 1 GB --pyproject is refused at once without reading it; a device file is refused too."""
    huge = tmp_path / "pyproject.toml"
    with huge.open("wb") as handle:
        handle.truncate(2**30)  # sparse: no disk used
    started = time.monotonic()
    proc = run("check", "--only", "python", "--pyproject", str(huge))
    assert proc.returncode == 2 and "too large" in proc.stderr
    assert time.monotonic() - started < 10  # a hang guard: reading 1 GB of NULs would be slow
    device = run("check", "--pyproject", "/dev/null")
    assert device.returncode == 2 and "not a regular file" in device.stderr
    for each in (proc, device):
        assert len(each.stderr.strip().splitlines()) == 1 and "Traceback" not in each.stderr
