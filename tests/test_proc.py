"""The bounded command runner: results for absence, time limits, output caps, process groups."""

from __future__ import annotations

import os
import time

import psutil
import pytest

from kyudoctor.errors import ProbeTimeout
from kyudoctor.probes._proc import ProcessRunner
from tests.conftest import FakeBin


def _runner(fakebin: FakeBin, seconds: float = 10.0) -> ProcessRunner:
    return ProcessRunner({"PATH": f"{fakebin.path}:/usr/bin:/bin"}, time.monotonic() + seconds)


def _alive_with(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(marker in part for part in proc.info["cmdline"] or []):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def test_missing_executable_is_a_result(fakebin: FakeBin) -> None:
    """A command that is not on PATH gives found=False instead of raising."""
    result = _runner(fakebin).run(["no-such-tool-kyudoctor", "--version"])
    assert not result.found and result.error == "not found" and result.returncode is None


def test_output_and_exit_code(fakebin: FakeBin) -> None:
    """stdout, stderr and the exit code of a command are captured."""
    fakebin.add_printer("tool", "hello\n", stderr="warn\n", code=3)
    result = _runner(fakebin).run(["tool"])
    assert (result.stdout, result.stderr, result.returncode, result.ok) == (
        "hello\n",
        "warn\n",
        3,
        False,
    )


def test_uses_the_given_path_not_the_callers(fakebin: FakeBin) -> None:
    """Executables resolve on the runner's PATH, so tests control what a probe sees."""
    fakebin.add_printer("nvcc", "fake nvcc\n")
    assert _runner(fakebin).run(["nvcc"]).stdout == "fake nvcc\n"


def test_per_command_timeout_kills_the_process_group(fakebin: FakeBin) -> None:
    """A command past its own timeout is killed with its children and reported timed_out."""
    fakebin.add("spin", "while :; do /bin/sleep 0.05; done\n")
    fakebin.add("hang", f'"{fakebin.path}/spin" &\n"{fakebin.path}/spin"\n')
    started = time.monotonic()
    result = _runner(fakebin).run(["hang"], timeout=0.5)
    assert result.timed_out and time.monotonic() - started < 3
    time.sleep(0.1)
    assert _alive_with(fakebin.path) == []


def test_probe_deadline_raises_probe_timeout(fakebin: FakeBin) -> None:
    """Reaching the probe's own deadline raises ProbeTimeout, so the probe becomes `timeout`."""
    fakebin.add("hang", "exec /bin/sleep 1000\n")
    with pytest.raises(ProbeTimeout):
        _runner(fakebin, seconds=0.5).run(["hang"])


def test_flooding_output_is_capped(fakebin: FakeBin) -> None:
    """A command that floods stdout cannot exhaust memory: output is capped."""
    fakebin.add("flood", "exec /usr/bin/yes kyudoctor\n")
    result = _runner(fakebin).run(["flood"], timeout=1.0, max_bytes=4096)
    assert result.timed_out and len(result.stdout) == 4096


def test_exec_format_error_is_a_result(fakebin: FakeBin) -> None:
    """An executable file that the kernel cannot run gives an error result, not an exception."""
    path = fakebin.root / "garbage"
    path.write_bytes(b"\x00\x01\x02 not a program")
    path.chmod(0o755)
    result = _runner(fakebin).run(["garbage"])
    assert result.found and result.returncode is None and result.error


def test_crashing_command_reports_the_signal(fakebin: FakeBin) -> None:
    """A command killed by a signal reports a negative return code."""
    fakebin.add("crash", "kill -SEGV $$\n")
    result = _runner(fakebin).run(["crash"])
    assert result.returncode == -11


def test_cancel_kills_running_commands(fakebin: FakeBin) -> None:
    """cancel() kills every command still running for the probe, from another thread."""
    import threading

    fakebin.add("hang", "while :; do /bin/sleep 0.05; done\n")
    runner = _runner(fakebin)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            runner.run(["hang"])
        except ProbeTimeout as exc:
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    time.sleep(0.3)
    runner.cancel()
    thread.join(5)
    assert not thread.is_alive() and errors
    assert _alive_with(fakebin.path) == []


def test_environment_is_passed(fakebin: FakeBin) -> None:
    """The command sees the runner's environment, not kyudoctor's."""
    fakebin.add("show", 'echo "$KYU_TEST_VALUE"\n')
    runner = ProcessRunner(
        {"PATH": fakebin.path + ":/usr/bin:/bin", "KYU_TEST_VALUE": "seen"},
        time.monotonic() + 5,
    )
    assert runner.run(["show"]).stdout == "seen\n"
    assert "KYU_TEST_VALUE" not in os.environ
