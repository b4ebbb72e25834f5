"""Ranking: root cause first, consequences folded under it, misleading surfaces handled."""

from __future__ import annotations

import pytest

from kyudoctor.model import Severity
from kyudoctor.triage import TriageResult, triage_text


def codes(result: TriageResult) -> list[str]:
    return [f.code for f in result.findings]


FOLDING = [
    (
        "GPU006 out of memory explains the dead model loop",
        "tts-1  | torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n"
        'tts-1  | 2025-01-01T00:00:01Z ERROR moshi_server: task failed name="model_loop"\n',
        "GPU006",
        {"WS007": "GPU006"},
    ),
    (
        "an out-of-memory error inside the model-loop line still shows WS007 under GPU006",
        'tts-1  | ERROR moshi_server: task failed name="model_loop" '
        'err=DriverError(CUDA_ERROR_OUT_OF_MEMORY, "out of memory")\n',
        "GPU006",
        {"WS007": "GPU006"},
    ),
    (
        "the Python shim explains the argparse usage error",
        "usage: moshi-server [-h] [--host HOST] [--gradio-tunnel]\n"
        "moshi-server: error: unrecognized arguments: worker\n"
        "SystemExit: 2\n",
        "BIN003",
        {},
    ),
    (
        "an embedded-interpreter mismatch explains the ModuleNotFoundError",
        "$ moshi-server worker --config configs/config-tts.toml\n"
        "Error: ModuleNotFoundError: No module named 'huggingface_hub'\n"
        + "$ uv run python scripts/tts_pytorch.py\n" * 40
        + "ModuleNotFoundError: No module named 'julius'\n",
        "PY005",
        {"PY002": "PY005"},
    ),
    (
        "no driver at all comes before 'driver version is insufficient'",
        "CUDA driver version is insufficient for CUDA runtime version\n"
        "bash: nvidia-smi: command not found\n",
        "GPU001",
        {"GPU003": "GPU001"},
    ),
    (
        "a torch wheel that does not exist explains the CPU-only torch installed instead",
        "ERROR: No matching distribution found for torch==1.13.1+cu117\n"
        "AssertionError: Torch not compiled with CUDA enabled\n",
        "TORCH003",
        {"TORCH002": "TORCH003"},
    ),
    (
        "a server still loading explains the refused connection",
        "tts-1  | INFO moshi_server: retrieving checkpoint\n"
        "client: ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 8080)\n",
        "NET006",
        {"NET001": "NET006"},
    ),
    (
        "a crashed server explains the client's refused connection",
        "tts-1  | RuntimeError: No CUDA GPUs are available\n"
        "backend-1  | [Errno 111] Connection refused\n",
        "GPU002",
        {"NET001": "GPU002"},
    ),
    (
        "the wrong Python explains the missing wheels",
        "ERROR: Package 'tts-python' requires a different Python: 3.13.1 not in '==3.12.8'\n"
        "ERROR: No matching distribution found for sphn==0.1.4\n",
        "PY001",
        {"PY006": "PY001"},
    ),
    (
        "a CUDA error inside the model-loop line is the cause, though WS007 matches it surer",
        'ERROR moshi_server::utils: task failed name="model_loop" '
        'err=DriverError(CUDA_ERROR_NOT_FOUND, "named symbol not found")\n',
        "GPU005",
        {"WS007": "GPU005"},
    ),
    (
        "the toml crate's parse-error header over a schema error is the schema error",
        "Error: TOML parse error at line 3, column 1\n  |\n3 | [modules.tts]\n  | ^^^^^\n"
        "missing field `path`\n",
        "CFG002",
        {"CFG001": "CFG002"},
    ),
    (
        "a service found unhealthy after its crash is the crash",
        "tts-1  | RuntimeError: No CUDA GPUs are available\n"
        "dependency failed to start: container app-tts-1 is unhealthy\n",
        "GPU002",
        {"DOCKER006": "GPU002"},
    ),
]


@pytest.mark.parametrize(("why", "log", "first", "folded"), FOLDING, ids=[c[0] for c in FOLDING])
def test_root_cause_first_and_consequences_folded(
    why: str, log: str, first: str, folded: dict[str, str]
) -> None:
    """The cause is the first finding; each consequence follows it, naming it."""
    result = triage_text(log)
    assert codes(result)[0] == first, codes(result)
    for code, cause in folded.items():
        finding = next(f for f in result.findings if f.code == code)
        assert finding.explained_by == cause
        assert codes(result).index(code) > codes(result).index(cause)


MISLEADING = [
    (
        "No such file or directory for a script next to CRLF evidence is BIN007",
        "$ git config core.autocrlf\ntrue\ntts-1  | /app/start_tts.sh: No such file or directory\n",
        "BIN007",
    ),
    (
        "the same error without CRLF evidence is not confident",
        "tts-1  | /app/start_tts.sh: No such file or directory\n",
        None,
    ),
    (
        "a 401 with a proxy's HTML page is a middlebox, not a bad key",
        "server rejected WebSocket connection: HTTP 401\n<html><head><title>401</title></head>"
        "<body>nginx</body></html>\n",
        "NET008",
    ),
    (
        "a bare 401 from the server is the key",
        "server rejected WebSocket connection: HTTP 401\n",
        "WS002",
    ),
    (
        "1005 after no free channels is the capacity error, not the close code",
        "{'type': 'Error', 'message': 'no free channels'}\n"
        "ConnectionClosedError: received 1005 (no status received [internal])\n",
        "WS005",
    ),
    (
        "no kernel image next to a torch traceback is torch's architecture list",
        '  File "/venv/lib/python3.12/site-packages/torch/nn/modules/module.py", line 1736\n'
        "RuntimeError: CUDA error: no kernel image is available for execution on the device\n",
        "TORCH008",
    ),
    (
        "no kernel image from the Rust server is the GPU's capability",
        "ERROR moshi_server: DriverError(CUDA_ERROR_NO_BINARY_FOR_GPU) no kernel image is "
        "available for execution on the device\n",
        "GPU005",
    ),
    (
        "No module named 'torch' is TORCH001 only, not also PY002",
        "ModuleNotFoundError: No module named 'torch'\n",
        "TORCH001",
    ),
    (
        "no CUDA device inside compose output is the container's GPU",
        "tts-1  | a\ntts-1  | b\ntts-1  | RuntimeError: No CUDA GPUs are available\n",
        "GPU002",
    ),
    (
        "no CUDA device on a plain host is the driver",
        "RuntimeError: No CUDA GPUs are available\n",
        "GPU001",
    ),
    (
        "torch's 'Found no NVIDIA driver' inside compose output is the container's GPU",
        "app-1  | x\napp-1  | y\napp-1  | RuntimeError: Found no NVIDIA driver on your system.\n",
        "GPU002",
    ),
    (
        "torch's 'Found no NVIDIA driver' on a plain host is the driver",
        "RuntimeError: Found no NVIDIA driver on your system.\n",
        "GPU001",
    ),
    (
        "a weak guess sharing the line does not take a surer match over as its cause",
        "requests.exceptions.ConnectionError: HTTPConnectionPool(host='127.0.0.1', port=8080): "
        "Max retries exceeded with url: /v1/tts (Caused by NewConnectionError('<conn>: "
        "Failed to establish a new connection: [Errno 111] Connection refused'))\n",
        "NET001",
    ),
    (
        "::1 refused together with 127.0.0.1 is nothing listening, not the IPv6 dial",
        "OSError: Multiple exceptions: [Errno 111] Connect call failed ('::1', 8080, 0, 0), "
        "[Errno 111] Connect call failed ('127.0.0.1', 8080)\n",
        "NET001",
    ),
    (
        "torch's own 'RuntimeError: CUDA error:' makes no kernel image torch's architecture list",
        "RuntimeError: CUDA error: no kernel image is available for execution on the device\n",
        "TORCH008",
    ),
    (
        "0.75 is a step below 0.8: the surer WS002 comes before NET002 of a lower layer",
        "websockets.exceptions.InvalidStatus: server rejected WebSocket connection: HTTP 401\n"
        "TimeoutError: timed out during opening handshake\n",
        "WS002",
    ),
]


@pytest.mark.parametrize(("why", "log", "first"), MISLEADING, ids=[c[0] for c in MISLEADING])
def test_misleading_surfaces(why: str, log: str, first: str | None) -> None:
    """A surface error that misleads is read in its context."""
    result = triage_text(log)
    if first is None:
        assert not result.findings or result.findings[0].confidence < 0.5
    else:
        assert codes(result)[:1] == [first], [(f.code, f.confidence) for f in result.findings]
        if first == "WS005":
            assert "WS006" not in codes(result)
        if first == "TORCH001":
            assert "PY002" not in codes(result)


def test_repeated_matches_count_once_with_count_and_first_line() -> None:
    """A message on many lines is one finding: its first line and the number of lines."""
    log = "start\n" + "ERROR no free channels\n" * 120 + "done\n"
    result = triage_text(log)
    (finding,) = result.findings
    assert (finding.code, finding.line, finding.count) == ("WS005", 2, 120)


def test_agreeing_signatures_raise_confidence() -> None:
    """Two distinct signatures of one code make it a little more confident than one."""
    one = triage_text("CUDA_ERROR_NOT_FOUND\n").findings[0].confidence
    two = triage_text('DriverError(CUDA_ERROR_NOT_FOUND, "named symbol not found")\n')
    assert two.findings[0].confidence > one


def test_evidence_lines_and_fix_from_the_log() -> None:
    """Evidence lists distinct lines; a value captured from the log fills the fix."""
    log = (
        "ERROR: Could not find a version that satisfies the requirement sphn==0.1.4\n"
        "ERROR: No matching distribution found for sphn==0.1.4\n"
    )
    (finding,) = triage_text(log).findings
    assert [e.line for e in finding.evidence] == [1, 2]
    assert "`sphn`" in finding.fix.text


def test_unfillable_placeholders_show_as_prose_and_drop_commands() -> None:
    """A fix placeholder the log cannot fill reads <name>; a command needing it is dropped."""
    (finding,) = triage_text("torch.OutOfMemoryError: CUDA out of memory.\n").findings
    assert "<config>" in finding.fix.text
    assert all("{" not in c and "<" not in c for c in finding.fix.commands)


def test_select_and_ignore() -> None:
    """--select keeps only those codes; --ignore keeps them listed but out of the exit code."""
    log = "CUDA out of memory\nConnection refused\n"
    selected = triage_text(log, select=frozenset({"NET001"}))
    assert codes(selected) == ["NET001"] and selected.findings[0].explained_by is None
    ignored = triage_text(log, ignore=frozenset({"GPU006", "NET001"}))
    assert all(f.ignored for f in ignored.findings) and ignored.exit_code == 0


@pytest.mark.parametrize(
    ("log", "fail_on", "exit_code"),
    [
        ("CUDA out of memory\n", "error", 1),
        ("CUDA out of memory\n", "never", 0),
        ("received 1005 (no status received [internal])\n", "error", 0),
        ("received 1005 (no status received [internal])\n", "warning", 0),
        ("sent 1011 (internal error) keepalive ping timeout\n", "warning", 1),
        ("sent 1011 (internal error) keepalive ping timeout\n", "error", 0),
        ("all good\n", "warning", 0),
    ],
)
def test_exit_code_follows_fail_on(log: str, fail_on: str, exit_code: int) -> None:
    """Exit 1 only when a finding reaches --fail-on; an info never does."""
    assert triage_text(log, fail_on=fail_on).exit_code == exit_code


def test_a_signature_can_prove_a_higher_severity() -> None:
    """BIN006 is a warning by default, an error when the log proves it (missing field script)."""
    (finding,) = triage_text("Error: missing field `script` at line 12 column 1\n").findings
    assert finding.code == "BIN006" and finding.severity is Severity.ERROR


def test_nothing_recognised() -> None:
    """A log with no known problem has no findings and exit 0."""
    result = triage_text("hello\nworld\n")
    assert result.findings == () and result.exit_code == 0 and result.lines == 2


QUIET = [
    (
        "a server's own 1011 with its reason is not the client's keepalive",
        "Exception: received 1011 (internal error) no audio received within the timeout window;"
        " then sent 1011 (internal error) no audio received within the timeout window\n",
        "WS012",
    ),
    (
        "a client saying it accepts a self-signed certificate",
        "N: accepting self-signed certificate\nE: SSL error: IP address mismatch\n",
        "TLS001",
    ),
    (
        "a PortAudio error on macOS that is not the permission status",
        "||PaMacCore (AUHAL)|| Error on line 2523: err='-50', msg=Unknown Error\n",
        "ENV003",
    ),
    (
        "a named kernel that is not a bf16 one missing",
        'Error: DriverError(CUDA_ERROR_NOT_FOUND, "named symbol not found") when loading ucopy_64\n',
        "GPU005",
    ),
]


@pytest.mark.parametrize(("why", "log", "code"), QUIET, ids=[c[0] for c in QUIET])
def test_lookalikes_are_not_confident(why: str, log: str, code: str) -> None:
    """A message that shares words with a signature but means something else is not named."""
    result = triage_text(log)
    assert all(f.code != code or f.confidence < 0.5 for f in result.findings), [
        (f.code, f.confidence) for f in result.findings
    ]
