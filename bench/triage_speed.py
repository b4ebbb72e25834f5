"""Throughput and memory of `kyudoctor triage` against `grep -E -c` (issue #4's bars).

Run with the interpreter that has kyudoctor installed:

    python bench/triage_speed.py [--size-mb 1000] [--keep] [--python-matcher] [--log FILE]

1. Generates a realistic log of `--size-mb` megabytes (default 1000, the size of the memory bar;
   the whole run takes about 15 s here, a few minutes with `--python-matcher`): moshi-server start-up and tracing lines with ANSI colours and docker-compose
   prefixes, uvicorn access lines, Python warnings, tqdm progress bars with carriage returns,
   tracebacks, a few very long lines, CRLF lines, invalid UTF-8; a symptom line of some catalog
   codes every few megabytes. (`--log FILE` times an existing file instead.)
2. Times `kyudoctor triage --format json` on it (in a child process: wall time and peak RSS from
   `wait4`), with the default matcher and, with `--python-matcher`, the pure-Python fallback.
3. Times `LC_ALL=C grep -E -c -i -f PATTERNS` on the same file, PATTERNS being every catalog
   signature converted to POSIX ERE (`kyudoctor.triage._signatures.to_ere`).
4. Prints MB/s of each, the ratio triage/grep (bar: >= 1/3), and the peak RSS (bar: < 100 MB on
   a 1 GB log).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
KYUDOCTOR = shutil.which("kyudoctor", path=str(BIN)) or "kyudoctor"
RATIO_BAR = 1 / 3
RSS_BAR_MB = 100

SYMPTOMS = [
    "tts-1  | torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB",
    'tts-1  | 2025-06-01T12:00:02.123Z ERROR moshi_server: task failed name="model_loop"',
    "Error: connect ECONNREFUSED 127.0.0.1:8080",
    "websockets.exceptions.ConnectionClosedError: sent 1011 (internal error) keepalive ping timeout",
    "/usr/bin/env: 'bash\\r': No such file or directory",
    "ModuleNotFoundError: No module named 'julius'",
    "error: linker `cc` not found",
    "  Unsupported cuda toolkit version: `13.0`. Please raise a github issue.",
]


def _noise_lines(rng: random.Random, n: int) -> list[str]:
    voices = ["expresso/ex03-ex01_happy_001_channel1_334s.wav", "unmute-prod-website/default.wav"]
    out: list[str] = []
    for i in range(n):
        ts = f"2025-06-01T12:{(i // 60) % 60:02d}:{i % 60:02d}.{rng.randrange(10**6):06d}Z"
        kind = rng.randrange(12)
        if kind == 0:
            out.append(
                f"tts-1  | \x1b[2m{ts}\x1b[0m \x1b[32m INFO\x1b[0m \x1b[2mmoshi_server::py_module"
                f"\x1b[0m: step {rng.randrange(10**6)} active={rng.randrange(8)} batch_size=8"
            )
        elif kind == 1:
            out.append(
                f"INFO:     172.18.0.{rng.randrange(2, 250)}:{rng.randrange(30000, 60000)} - "
                f'"GET /api/build_info HTTP/1.1" 200 OK'
            )
        elif kind == 2:
            out.append(
                f"{ts}  INFO moshi_server: moshi-server/src/tts.rs:{rng.randrange(100, 900)}: "
                f"session started voice={rng.choice(voices)} format=PcmMessagePack"
            )
        elif kind == 3:
            bar = "".join(
                f"model.safetensors: {p:3d}%|{'█' * (p // 10):<10}| {p * 26 // 10}M/2.6G "
                f"[00:{p // 4:02d}<00:{(100 - p) // 4:02d}, 98.1MB/s]\r"
                for p in range(0, 101, rng.choice((10, 20, 25)))
            )
            out.append(bar.rstrip("\r"))
        elif kind == 4:
            out.append(
                "/app/.venv/lib/python3.12/site-packages/torch/nn/utils/weight_norm.py:143: "
                "FutureWarning: `torch.nn.utils.weight_norm` is deprecated in favor of "
                "`torch.nn.utils.parametrizations.weight_norm`."
            )
        elif kind == 5:
            out.append(
                f"tts-1  | {ts} DEBUG tokio_tungstenite: received frame len={rng.randrange(4096)}"
                " opcode=Binary"
            )
        elif kind == 6:
            out.append(
                f'  File "/app/server/handler_{rng.randrange(50)}.py", line {i % 400}, in run'
            )
        elif kind == 7:
            out.append(f"{ts} WARN moshi_server::metrics: slow step {rng.random():.3f}s\r")
        elif kind == 8:
            out.append(
                f"stt-1       | {ts}  INFO moshi_server::batched_asr: word "
                f"'{rng.choice(['hello', 'bonjour', 'world', 'monde'])}' at {rng.random() * 60:.2f}"
            )
        elif kind == 9:
            out.append("   Compiling candle-core v0.9.1")
        elif kind == 10:
            out.append(
                f"backend-1   | {ts} - unmute.main_websocket - INFO - Response from "
                "http://tts:8080/api/build_info: <Response [200]>"
            )
        else:
            out.append(f"[{i}] handled {rng.randrange(10**4)} frames in {rng.random():.4f}s")
    return out


def generate(path: Path, size_mb: int, seed: int = 4) -> int:
    """Write a log of about ``size_mb`` MB; return the number of symptom lines planted."""
    rng = random.Random(seed)
    blocks: list[bytes] = []
    for _ in range(16):
        text = "\n".join(_noise_lines(rng, 9000)) + "\n"
        data = text.encode("utf-8")
        # a little invalid UTF-8 and one long line per block
        data += b"binary junk \xff\xfe\xc3\x28 in a line\n" + b"x" * 200_000 + b"\n"
        blocks.append(data)
    target = size_mb * 1_000_000
    written = 0
    planted = 0
    next_symptom = 3_000_000
    with open(path, "wb") as out:
        i = 0
        while written < target:
            block = blocks[i % len(blocks)]
            out.write(block)
            written += len(block)
            i += 1
            if written >= next_symptom:
                line = (SYMPTOMS[planted % len(SYMPTOMS)] + "\n").encode("utf-8")
                out.write(line)
                written += len(line)
                planted += 1
                next_symptom += 5_000_000
    return planted


TIME = "/usr/bin/time"


def _run(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) of the command, and its stdout.

    The peak RSS comes from GNU time (``%M``) when it is installed: ``wait4``'s figure for a
    child also counts what the forked child shared with this (big) benchmark process.
    """
    use_time = os.access(TIME, os.X_OK)
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile("r") as rss_file:
        command = [TIME, "-f", "%M", "-o", rss_file.name, *argv] if use_time else argv
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL, env=env)
        _, _status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        rss_mb = usage.ru_maxrss / 1024
        if use_time:
            try:
                rss_mb = int(rss_file.read().strip().splitlines()[-1]) / 1024
            except (ValueError, IndexError):
                pass
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    return elapsed, rss_mb, text


def grep_patterns(path: Path) -> int:
    """Write every catalog signature as POSIX ERE, one per line; return how many."""
    from kyudoctor import catalog
    from kyudoctor.triage._signatures import to_ere

    patterns = [to_ere(s.signature.pattern) for s in catalog.compiled_signatures()]
    path.write_text("\n".join(patterns) + "\n", encoding="utf-8")
    return len(patterns)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1000, help="size of the generated log")
    parser.add_argument("--log", help="time this file instead of generating one")
    parser.add_argument("--keep", action="store_true", help="keep the generated log")
    parser.add_argument(
        "--python-matcher", action="store_true", help="also time the pure-Python fallback"
    )
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="kyudoctor-triage-speed-"))
    try:
        if args.log:
            log = Path(args.log)
            planted = -1
        else:
            log = workdir / "generated.log"
            started = time.perf_counter()
            planted = generate(log, args.size_mb)
            print(
                f"generated {log} ({log.stat().st_size / 1e6:.0f} MB, {planted} symptom lines) "
                f"in {time.perf_counter() - started:.1f} s"
            )
        size_mb = log.stat().st_size / 1e6
        patterns = workdir / "patterns.ere"
        count = grep_patterns(patterns)
        # Warm the page cache so that both tools read from memory.
        with open(log, "rb") as stream:
            while stream.read(64 << 20):
                pass

        rows: list[tuple[str, float, float, str]] = []
        env = dict(os.environ)
        for matcher in ("auto", *(["python"] if args.python_matcher else [])):
            env["KYUDOCTOR_TRIAGE_MATCHER"] = matcher
            seconds, rss, out = _run([KYUDOCTOR, "triage", "--format", "json", str(log)], env)
            try:
                data = json.loads(out)
                name = f"kyudoctor triage ({data['matcher']})"
                codes = ",".join(f["code"] for f in data["findings"])
            except (ValueError, KeyError):
                name, codes = f"kyudoctor triage ({matcher})", "(no JSON output)"
            rows.append((name, seconds, rss, codes))
        grep_env = {**os.environ, "LC_ALL": "C"}
        seconds, rss, out = _run(
            ["grep", "-E", "-c", "-i", "-f", str(patterns), str(log)], grep_env
        )
        rows.append((f"grep -E -c -i ({count} patterns)", seconds, rss, f"{out.strip()} lines"))

        grep_mbs = size_mb / rows[-1][1]
        print(f"\nlog: {size_mb:.0f} MB\n")
        print(f"{'tool':<40}{'seconds':>9}{'MB/s':>9}{'vs grep':>9}{'peak RSS':>10}")
        for name, secs, rss, _ in rows:
            mbs = size_mb / secs
            print(f"{name:<40}{secs:>9.2f}{mbs:>9.0f}{mbs / grep_mbs:>8.2f}x{rss:>7.0f} MB")
        print()
        for name, _, _, found in rows:
            print(f"{name}: {found}")
        triage_mbs = size_mb / rows[0][1]
        ratio_ok = triage_mbs / grep_mbs >= RATIO_BAR
        rss_ok = rows[0][2] < RSS_BAR_MB
        print(
            f"\nbar: triage >= 1/3 of grep's MB/s: {'yes' if ratio_ok else 'NO'} "
            f"({triage_mbs / grep_mbs:.2f}x); peak RSS < {RSS_BAR_MB} MB: "
            f"{'yes' if rss_ok else 'NO'} ({rows[0][2]:.0f} MB)"
        )
        return 0
    finally:
        if args.keep and not args.log:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
