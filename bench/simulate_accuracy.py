"""How faithful the simulator's timing is, and what a session costs it; prints a table.

Run with the interpreter that has kyudoctor installed:  python bench/simulate_accuracy.py

Starts the simulator (first audio 300 ms, rtf 0.44, batch size 256) in a subprocess, then runs
rounds of N concurrent sessions from this process, each as a client would: connect with
``format=PcmMessagePack``, wait for Ready, send one Text per word (10 words) and Eos, read until
the server closes. The N sessions connect first, then send their text at the same instant
(the worst case: N x 11 messages in one burst on both sides) or a few milliseconds apart.

Columns, per N:
- client TTFA p50 / p95 and the p50's error against the configured 300 ms: measured here from
  the first Text sent to the first Audio message received (stamped before decoding it);
- server error p50 / max: when the simulator handed each session's first Audio to its socket
  minus when it was due (``Simulator.first_audio_lateness_s``), i.e. the simulator's own error,
  without this client's;
- CPU ms per session of the simulator process (psutil, user + system) and of this client.

Bars (issue #3): error within 10 ms at 1 session, p50 within 20 ms at 64.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil  # type: ignore[import-untyped]
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from kyudoctor.protocol import Audio, Eos, Text, decode_server, encode

REPO = Path(__file__).resolve().parents[1]
CONFIGURED_S = 0.300
TEXT = "one two three four five six seven eight nine ten"
KEY = {"kyutai-api-key": "public_token"}

# The simulator, in-process in a child: prints its URL, then on each "stats" line from stdin
# prints (and clears) the first-audio lateness it measured, as JSON.
DRIVER = """
import asyncio, json, sys
from kyudoctor.simulate import SimConfig, Simulator

async def main():
    async with Simulator(SimConfig(port=0, batch_size=256)) as sim:
        print(sim.url, flush=True)
        while (await asyncio.to_thread(sys.stdin.readline)).strip() == "stats":
            print(json.dumps(list(sim.first_audio_lateness_s)), flush=True)
            sim.first_audio_lateness_s.clear()

asyncio.run(main())
"""


async def session(url: str, go: asyncio.Event, delay: float) -> float:
    """One session; returns its time to first audio."""
    async with connect(url, additional_headers=KEY, open_timeout=30, max_queue=None) as ws:
        await ws.recv()  # Ready
        await go.wait()
        if delay:
            await asyncio.sleep(delay)
        started = time.perf_counter()
        for word in TEXT.split():
            await ws.send(encode(Text(word)))
        await ws.send(encode(Eos()))
        ttfa = None
        try:
            while True:
                data = await ws.recv()
                assert isinstance(data, bytes)
                # An Audio map starts with fixmap, "type", "Audio": decode only the first one.
                if ttfa is None and b"Audio" in data[:12]:
                    ttfa = time.perf_counter() - started  # before decoding: it costs ~0.4 ms
                    assert isinstance(decode_server(data), Audio)
        except ConnectionClosed:
            pass
    if ttfa is None:
        raise RuntimeError("a session ended without audio")
    return ttfa


async def level(url: str, sessions: int, stagger: float) -> list[float]:
    """N sessions connected first, then they send their text ``stagger`` seconds apart."""
    go = asyncio.Event()
    tasks = [asyncio.create_task(session(url, go, i * stagger)) for i in range(sessions)]
    await asyncio.sleep(0.5 + sessions * 0.004)  # let every handshake and Ready complete
    go.set()
    return await asyncio.gather(*tasks)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument(
        "--levels",
        default="1,64,64/3,256",
        help="concurrency levels, N or N/MS for starts MS milliseconds apart "
        "(default 1,64,64/3,256)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds per level (default 5)")
    args = parser.parse_args()
    levels = [
        (int(n), float(ms or 0) / 1000)
        for n, _, ms in (spec.partition("/") for spec in args.levels.split(","))
    ]

    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        url = proc.stdout.readline().strip() + "?format=PcmMessagePack"
        server = psutil.Process(proc.pid)
        rows = []
        for sessions, stagger in levels:
            ttfas: list[float] = []
            server_cpu = sum(server.cpu_times()[:2])
            client_cpu = time.process_time()
            for _ in range(args.rounds):
                ttfas += asyncio.run(level(url, sessions, stagger))
            client_cpu = time.process_time() - client_cpu
            server_cpu = sum(server.cpu_times()[:2]) - server_cpu
            proc.stdin.write("stats\n")
            proc.stdin.flush()
            lateness = json.loads(proc.stdout.readline())
            p50 = statistics.median(ttfas)
            rows.append(
                (
                    sessions,
                    f"{stagger * 1000:g} ms apart" if stagger else "same instant",
                    len(ttfas),
                    p50,
                    percentile(ttfas, 0.95),
                    p50 - CONFIGURED_S,
                    statistics.median(lateness),
                    max(lateness),
                    server_cpu / len(ttfas),
                    client_cpu / len(ttfas),
                )
            )
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
        proc.stdout.close()

    print(f"time to first audio vs the configured {CONFIGURED_S * 1000:.0f} ms (all times in ms)")
    header = (
        "sessions",
        "text sent   ",
        "samples",
        "client p50",
        "p95",
        "p50 error",
        "server error p50",
        "max",
    )
    cpu = ("CPU/session server", "client")
    print(" ".join(f"{h:>{max(len(h), 7)}}" for h in header + cpu))
    for sessions, start, samples, p50, p95, error, s50, smax, scpu, ccpu in rows:
        cells = [
            f"{sessions:>8}",
            f"{start:>12}",
            f"{samples:>7}",
            f"{p50 * 1000:>10.1f}",
            f"{p95 * 1000:>7.1f}",
        ]
        cells += [f"{error * 1000:>+9.1f}", f"{s50 * 1000:>+16.2f}", f"{smax * 1000:>+7.2f}"]
        cells += [f"{scpu * 1000:>18.1f}", f"{ccpu * 1000:>7.1f}"]
        print(" ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
