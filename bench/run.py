"""Benchmarks of issue #2's bars, measured side by side in one run, printed as a table.

Run with the interpreter that has kyudoctor installed:  python bench/run.py [--quick]

1. start-up: `kyudoctor --version` vs `python -c pass` (median of N runs; bar: <= 3x)
2. host check vs `python -m torch.utils.collect_env`, both on a venv holding the real CPU torch
   wheel (torch==2.13.0; the venv is cached in bench/.cache; bar: kyudoctor <= 1/5 of collect_env)
3. a fake `nvidia-smi` that never exits, `--timeout 2`: wall time (bar: < 3 s), the status of
   gpu.driver (bar: timeout), the other checks' statuses, leftover processes (bar: none)
4. bad inputs: exit status and whether a traceback was printed (bar: 2 or a finding, never one)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
BIN = Path(sys.executable).parent
KYUDOCTOR = str(BIN / "kyudoctor")


def timed(
    argv: list[str], env: dict[str, str] | None = None, timeout: float = 600
) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    proc = subprocess.run(
        argv, check=False, capture_output=True, text=True, env=env, timeout=timeout
    )
    return time.perf_counter() - started, proc


def median_time(argv: list[str], runs: int) -> float:
    timed(argv)  # warm the page cache
    return statistics.median(timed(argv)[0] for _ in range(runs))


def torch_venv() -> Path:
    """A venv with the real CPU torch wheel, created once and cached."""
    venv = CACHE / f"torch-venv-py{sys.version_info[0]}{sys.version_info[1]}"
    python = venv / "bin" / "python"
    if not (venv / ".complete").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "torch==2.13.0"], check=True, timeout=1200
        )
        (venv / ".complete").write_text("ok\n")
    return python


def leftover(marker: str) -> int:
    import psutil

    count = 0
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(marker in part for part in proc.info["cmdline"] or []):
                count += 1
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer repetitions, skip the torch venv"
    )
    args = parser.parse_args()
    runs = 5 if args.quick else 21
    rows: list[tuple[str, str, str, str]] = []

    # 1. start-up
    base = median_time([sys.executable, "-c", "pass"], runs)
    ours = median_time([KYUDOCTOR, "--version"], runs)
    rows.append(
        (
            "kyudoctor --version vs python -c pass",
            f"{ours * 1000:.0f} ms vs {base * 1000:.0f} ms",
            f"{ours / base:.2f}x",
            "<= 3x: " + ("PASS" if ours <= 3 * base else "FAIL"),
        )
    )

    # 2. host check vs collect_env on the torch venv
    if not args.quick:
        python = torch_venv()
        check_times, env_times = [], []
        for _ in range(3):
            t, proc = timed(
                [KYUDOCTOR, "check", "--only", "host", "--python", str(python), "--format", "json"]
            )
            check_times.append(t)
            report = json.loads(proc.stdout)
            t2, _ = timed([str(python), "-m", "torch.utils.collect_env"])
            env_times.append(t2)
        ours, theirs = statistics.median(check_times), statistics.median(env_times)
        codes = sorted({f["code"] for f in report["findings"]})
        rows.append(
            (
                "check --only host vs torch collect_env (same venv)",
                f"{ours:.2f} s vs {theirs:.2f} s",
                f"{ours / theirs:.2f}x",
                "<= 0.2x: " + ("PASS" if ours <= theirs / 5 else "FAIL"),
            )
        )
        rows.append(
            (
                "  codes found on that venv",
                ", ".join(codes),
                "",
                "TORCH002 expected: " + ("PASS" if "TORCH002" in codes else "FAIL"),
            )
        )

    # 3. hanging nvidia-smi
    with tempfile.TemporaryDirectory() as tmp:
        fake = Path(tmp) / "nvidia-smi"
        fake.write_text(f"#!/bin/sh\n# {tmp}\nexec sleep 1000\n")
        fake.chmod(0o755)
        env = dict(os.environ, PATH=f"{tmp}:{os.environ.get('PATH', '')}")
        t, proc = timed(
            [KYUDOCTOR, "check", "--only", "host", "--timeout", "2", "--format", "json"], env=env
        )
        time.sleep(0.2)
        report = json.loads(proc.stdout)
        statuses = {c["id"]: c["status"] for c in report["checks"]}
        others = sorted({s for k, s in statuses.items() if not k.startswith("gpu.")})
        left = leftover(tmp)
        rows.append(
            (
                "hanging nvidia-smi, --timeout 2: wall",
                f"{t:.2f} s",
                "",
                "< 3 s: " + ("PASS" if t < 3 else "FAIL"),
            )
        )
        rows.append(
            (
                "  gpu.driver status / others",
                f"{statuses.get('gpu.driver')} / {','.join(others)}",
                "",
                "timeout: " + ("PASS" if statuses.get("gpu.driver") == "timeout" else "FAIL"),
            )
        )
        rows.append(
            ("  processes left behind", str(left), "", "0: " + ("PASS" if left == 0 else "FAIL"))
        )

    # 4. bad inputs
    with tempfile.TemporaryDirectory() as tmp:
        broken = Path(tmp) / "pyproject.toml"
        broken.write_text("[project\nname = 'x'\n")
        cargo = Path(tmp) / "cargo"
        cargo.mkdir()
        (cargo / ".crates2.json").write_text("{not json")
        (cargo / "bin").mkdir()
        (cargo / "bin" / "moshi-server").write_bytes(Path("/bin/true").read_bytes())
        (cargo / "bin" / "moshi-server").chmod(0o755)
        cases = {
            "--python missing file": ["check", "--python", f"{tmp}/nope"],
            "--python not an interpreter": ["check", "--python", "/bin/ls"],
            "--pyproject unparsable": ["check", "--pyproject", str(broken)],
            "--select unknown code": ["check", "--select", "XYZ999"],
            "corrupt .crates2.json": ["check", "--only", "binary.build", "--format", "console"],
        }
        for name, argv in cases.items():
            env = dict(os.environ, CARGO_HOME=str(cargo))
            _, proc = timed([KYUDOCTOR, *argv], env=env)
            traceback = "Traceback" in proc.stderr or "Traceback" in proc.stdout
            lines = len(proc.stderr.strip().splitlines())
            verdict = (
                "PASS"
                if not traceback
                and (proc.returncode == 2 and lines == 1 or proc.returncode in (0, 1))
                else "FAIL"
            )
            said = next((ln.strip() for ln in proc.stdout.splitlines() if "binary.build" in ln), "")
            value = f"exit {proc.returncode}, {lines} stderr line(s)"
            if said:
                value += f"; {said[:72]}"
            rows.append((f"bad input: {name}", value, "", verdict))

    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    header = ("measure", "value", "ratio", "bar")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=False)]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)))
    return 0 if all("FAIL" not in r[3] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
