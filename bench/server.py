"""The live-server bars of issue #3 in one command; prints a table.

Run with the interpreter that has kyudoctor installed:  python bench/server.py

Starts ``kyudoctor simulate`` (first audio 300 ms after generation starts, batch size 256) as a
subprocess on a free loopback port, then runs the installed CLI against it, as a user would:

1. ``kyudoctor load --levels 1`` and ``--levels 64`` (default ramp-up, then ``--ramp-up 0``
   side by side): time to first audio p50 as kyudoctor measures it (first Text sent to first
   Audio received) against the configured 300 ms. Bars: within 10 ms at 1 session, p50 within
   20 ms at 64 concurrent sessions.
2. ``kyudoctor load --max 256``: the capacity it reports (bar: 256, no errors) and kyudoctor's
   own CPU time per session at the top level.
3. ``kyudoctor check --only server --url ...``: wall time (median of 3) and exit status
   (bar: under 2 s, exit 0).

Each TTFA row is the median over ``--rounds`` runs (default 3), so one unlucky scheduling
hiccup on a 2-core machine does not decide the figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

CONFIGURED_MS = 300.0


def kyudoctor(*args: str, timeout: float = 300) -> tuple[int, str, float]:
    """Run the CLI; (exit status, stdout, wall seconds)."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "kyudoctor", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return proc.returncode, proc.stdout, time.perf_counter() - started


def levels(stdout: str) -> list[dict[str, Any]]:
    """The per-level facts of a ``load --format json`` report."""
    report = json.loads(stdout)
    facts = report["checks"][0]["facts"]
    found: list[dict[str, Any]] = facts.get("levels") or []
    return found


def start_simulator() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kyudoctor", "simulate", "--port", "0", "--batch-size", "256"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:  # log lines first, then "simulating moshi-server on ws://..."
        seen.append(line.strip())
        url = next((w for w in line.split() if w.startswith("ws://")), None)
        if url is not None:
            # Keep reading its log, or the pipe fills and the simulator blocks on a write.
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            return proc, url.rstrip(";")
        if len(seen) > 20:
            break
    proc.kill()
    proc.wait()
    raise SystemExit("the simulator did not start: " + " / ".join(seen))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="TTFA runs per row (median)")
    ns = parser.parse_args()
    sim, url = start_simulator()
    rows: list[tuple[str, str, str, str]] = []
    try:
        for concurrency, ramp in ((1, None), (64, None), (64, "0")):
            p50s, cpus = [], []
            for _ in range(ns.rounds):
                extra = ["--ramp-up", ramp] if ramp is not None else []
                code, out, _ = kyudoctor(
                    "load", "--url", url, "--levels", str(concurrency), "--format", "json", *extra
                )
                (level,) = levels(out)
                if level["errors"] or level["accepted"] != concurrency:
                    raise SystemExit(f"load --levels {concurrency} failed: {level}")
                p50s.append(level["ttfa_p50_ms"])
                cpus.append(level["kyudoctor_cpu_ms_per_session"])
            p50 = statistics.median(p50s)
            bar = 10.0 if concurrency == 1 else 20.0
            error = p50 - CONFIGURED_MS
            how = "default ramp-up" if ramp is None else f"--ramp-up {ramp}"
            rows.append(
                (
                    f"TTFA p50, {concurrency} session(s), {how}",
                    f"{p50:.1f} ms ({error:+.1f}); runs {', '.join(f'{v:.1f}' for v in p50s)}",
                    f"|error| <= {bar:g} ms",
                    "yes" if abs(error) <= bar else "NO",
                )
            )

        code, out, wall = kyudoctor("load", "--url", url, "--max", "256", "--format", "json")
        report = json.loads(out)
        top = levels(out)[-1]
        capacity = report["checks"][0]["facts"].get("capacity")
        errors = sum(level["errors"] for level in levels(out))
        rows.append(
            (
                "load --max 256 (batch_size 256)",
                f"capacity {capacity}, {errors} errors, closes {top['close_codes']}, "
                f"{wall:.1f} s wall, exit {code}",
                "capacity 256, 0 errors",
                "yes" if capacity == 256 and errors == 0 else "NO",
            )
        )
        rows.append(
            (
                "kyudoctor CPU per session (256 level)",
                f"{top['kyudoctor_cpu_ms_per_session']:.1f} ms",
                "reported",
                "",
            )
        )

        walls, codes = [], []
        for _ in range(3):
            code, _, wall = kyudoctor("check", "--only", "server", "--url", url, "-q")
            walls.append(wall)
            codes.append(code)
        wall = statistics.median(walls)
        rows.append(
            (
                "check --only server (median of 3)",
                f"{wall:.2f} s, exit {sorted(set(codes))}",
                "< 2 s, exit 0",
                "yes" if wall < 2.0 and set(codes) == {0} else "NO",
            )
        )
    finally:
        sim.terminate()
        try:
            sim.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sim.kill()
            sim.wait()

    print(f"bench/server.py on {os.cpu_count()} CPUs, simulator {url}, first audio 300 ms")
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    head = ("measure", "measured", "bar", "met")
    widths = [max(w, len(h)) for w, h in zip(widths, head, strict=True)]
    for row in (head, tuple("-" * w for w in widths), *rows):
        print(" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    return 0 if all(r[3] != "NO" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
