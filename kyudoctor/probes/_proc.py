"""Running external commands for probes: bounded in time and output, never leaving children.

Every command runs in its own session (process group), so a timed-out command is killed with
all of its children. Output is read incrementally and capped, so a command that floods its
output cannot exhaust memory. "Not found" and "cannot execute" are results, not exceptions.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kyudoctor.errors import ProbeTimeout

MAX_OUTPUT_BYTES = 1 << 20
"""At most this much of each stream is kept; the rest is read and dropped."""


@dataclass(frozen=True)
class CommandResult:
    """What running one command gave. ``path`` is None when the executable was not found."""

    argv: tuple[str, ...]
    path: str | None
    returncode: int | None
    stdout: str
    stderr: str
    error: str | None
    duration_ms: float
    timed_out: bool = False

    @property
    def found(self) -> bool:
        """The executable exists (it may still have failed to start or run)."""
        return self.path is not None

    @property
    def ok(self) -> bool:
        """It ran and exited 0."""
        return self.returncode == 0 and self.error is None and not self.timed_out

    @property
    def output(self) -> str:
        """stdout then stderr, for parsers that accept either (banners go to both)."""
        return self.stdout + ("\n" + self.stderr if self.stderr else "")

    def failure(self) -> str | None:
        """One line saying why the command did not succeed, or None when it exited 0."""
        if self.ok:
            return None
        if self.path is None:
            return "not found"
        if self.timed_out:
            return "timed out"
        if self.error is not None:
            return self.error
        code = self.returncode
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"killed by {name}"
        first = next((ln.strip() for ln in self.output.splitlines() if ln.strip()), "")
        return f"exited with status {code}" + (f": {first[:200]}" if first else "")

    def fact(self) -> dict[str, Any]:
        """A JSON-ready summary (output truncated) for facts and bundles."""
        return {
            "argv": list(self.argv),
            "path": self.path,
            "returncode": self.returncode,
            "stdout": self.stdout[:4000],
            "stderr": self.stderr[:4000],
            "error": self.error,
            "timed_out": self.timed_out,
            "duration_ms": round(self.duration_ms, 1),
        }


class ProcessRunner:
    """Runs commands for one probe under that probe's deadline, and can kill what is left."""

    def __init__(self, env: Mapping[str, str], deadline: float) -> None:
        self.env = dict(env)
        self.deadline = deadline
        self._live: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self._cancelled = False

    def remaining(self) -> float:
        """Seconds left before this probe's deadline (never negative)."""
        return max(0.0, self.deadline - time.monotonic())

    def which(self, name: str) -> str | None:
        """The executable ``name`` resolves to on this run's PATH (not kyudoctor's own)."""
        if os.sep in name:
            return name if os.path.isfile(name) and os.access(name, os.X_OK) else None
        return shutil.which(name, path=self.env.get("PATH", os.defpath))

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float | None = None,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        max_bytes: int = MAX_OUTPUT_BYTES,
    ) -> CommandResult:
        """Run ``argv``; raise :class:`ProbeTimeout` only when the probe's own deadline passes.

        ``timeout`` is a shorter limit for this one command: when it expires the command is
        killed and the result says ``timed_out``, and the probe goes on.
        """
        argv = tuple(argv)
        started = time.monotonic()
        path = self.which(argv[0])
        if path is None:
            return CommandResult(argv, None, None, "", "", "not found", 0.0)
        limit = self.remaining() if timeout is None else min(timeout, self.remaining())
        if limit <= 0 or self._cancelled:
            raise ProbeTimeout(f"{argv[0]}: no time left")
        run_env = dict(self.env if env is None else env)
        run_env.setdefault("LC_ALL", "C")
        try:
            proc = subprocess.Popen(
                (path, *argv[1:]),
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=run_env,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            return CommandResult(argv, path, None, "", "", _os_error(exc), _ms(started))
        with self._lock:
            self._live.add(proc)
        try:
            out, err, finished = _communicate(proc, stdin, started + limit, max_bytes)
        finally:
            # Also reaps children that the command left behind in its process group.
            _kill_group(proc)
            proc.wait()
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
            with self._lock:
                self._live.discard(proc)
        if self._cancelled:
            raise ProbeTimeout(f"{' '.join(argv)} was stopped: the probe ran out of time")
        decoded_out = out.decode("utf-8", "replace")
        decoded_err = err.decode("utf-8", "replace")
        if not finished:
            if timeout is None or self.remaining() <= 0 or self._cancelled:
                raise ProbeTimeout(f"{' '.join(argv)} did not finish within {limit:.1f} s")
            return CommandResult(
                argv, path, None, decoded_out, decoded_err, "timed out", _ms(started), True
            )
        return CommandResult(
            argv, path, proc.returncode, decoded_out, decoded_err, None, _ms(started)
        )

    def cancel(self) -> None:
        """Kill every command still running for this probe, with its process group."""
        self._cancelled = True
        with self._lock:
            live = list(self._live)
        for proc in live:
            _kill_group(proc)


def _communicate(
    proc: subprocess.Popen[bytes], stdin: bytes | None, deadline: float, max_bytes: int
) -> tuple[bytes, bytes, bool]:
    """Read both streams until EOF or ``deadline``; keep at most ``max_bytes`` of each."""
    if proc.stdin is not None:
        try:
            proc.stdin.write(stdin or b"")
            proc.stdin.close()
        except OSError:
            pass
    buffers: dict[int, bytearray] = {}
    with selectors.DefaultSelector() as sel:
        for stream in (proc.stdout, proc.stderr):
            assert stream is not None
            os.set_blocking(stream.fileno(), False)
            sel.register(stream, selectors.EVENT_READ)
            buffers[stream.fileno()] = bytearray()
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                return bytes(buffers[_fd(proc.stdout)]), bytes(buffers[_fd(proc.stderr)]), False
            for key, _ in sel.select(timeout=left):
                try:
                    chunk = os.read(key.fd, 65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                buf = buffers[key.fd]
                if len(buf) < max_bytes:
                    buf += chunk[: max_bytes - len(buf)]
    # Both streams are closed; the process may still be exiting.
    left = deadline - time.monotonic()
    try:
        proc.wait(timeout=max(left, 0.0))
    except subprocess.TimeoutExpired:
        return bytes(buffers[_fd(proc.stdout)]), bytes(buffers[_fd(proc.stderr)]), False
    return bytes(buffers[_fd(proc.stdout)]), bytes(buffers[_fd(proc.stderr)]), True


def _fd(stream: Any) -> int:
    return int(stream.fileno())


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass


def _os_error(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000.0
