"""The ``gpu`` probe: nvidia-smi parsers on real output shapes, the probe with fake nvidia-smi
executables (NVML disabled), NVML through a stand-in module (no driver exists here), and the
time-limit contract for a hanging nvidia-smi."""

from __future__ import annotations

import shutil
import sys
import time
import types
from pathlib import Path
from typing import Any

import psutil
import pytest

from kyudoctor.model import Status
from kyudoctor.probes import gpu
from kyudoctor.runner import run_probes
from tests.conftest import FakeBin, MakeCtx

DATA = Path(__file__).resolve().parents[1] / "data" / "nvidia-smi"

H100_UUID = "GPU-6e4bd0f7-31d5-2c3c-7a77-9a2b8f4e0c1d"


def _sample(name: str) -> str:
    return (DATA / name).read_text()


def fake_smi(
    fakebin: FakeBin,
    *,
    query: str = "",
    header: str = "",
    apps: str = "",
    query_code: int = 0,
    old_driver: bool = False,
) -> Path:
    """A fake ``nvidia-smi`` answering the probe's three commands from sample files."""
    files = {"query": query, "header": header, "apps": apps}
    for key, text in files.items():
        (fakebin.root / f".smi-{key}").write_text(text)
    root = fakebin.path
    old = ""
    if old_driver:
        # R470 rejects the compute_cap field, as the real one does, and answers without it.
        old = (
            '  --query-gpu=*compute_cap*) echo \'Field "compute_cap" is not a valid field to '
            "query.'; echo; exit 2 ;;\n"
        )
    return fakebin.add(
        "nvidia-smi",
        f"""
        case "$1" in
        {old}  --query-gpu=*) cat "{root}/.smi-query"; exit {query_code} ;;
          --query-compute-apps=*) cat "{root}/.smi-apps" ;;
          *) cat "{root}/.smi-header" ;;
        esac
        """,
    )


def _env(fakebin: FakeBin) -> dict[str, str]:
    # The fakes are shell scripts that need cat; the fake nvidia-smi comes first.
    return {"PATH": f"{fakebin.path}:/usr/bin:/bin"}


def _alive_with(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            cmdline = proc.info["cmdline"] or []
            if proc.info["status"] != psutil.STATUS_ZOMBIE and any(marker in c for c in cmdline):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


# --- parsers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sample", "driver", "cuda"),
    [
        ("h100-570-smi.txt", "570.124.06", "12.8"),
        ("rtx4090-550-smi.txt", "550.54.14", "12.4"),
        ("1080ti-4090-550-smi.txt", "550.54.14", "12.4"),
        ("t4-470-smi.txt", "470.82.01", "11.4"),
        ("smi-580-cuda13-header.txt", "580.82.07", "13.0"),
        ("smi-cuda-na-header.txt", "570.124.06", None),
        ("failure-no-driver.txt", None, None),
    ],
)
def test_parse_smi_header(sample: str, driver: str | None, cuda: str | None) -> None:
    """The banner gives the driver version and the driver's maximum CUDA (None for N/A)."""
    parsed = gpu.parse_smi_header(_sample(sample))
    assert (parsed["driver_version"], parsed["cuda_version"]) == (driver, cuda)


def test_parse_query_gpu_h100() -> None:
    """One H100 row gives every contract field with integer MiB and a "9.0" capability."""
    (row,) = gpu.parse_query_gpu(_sample("h100-570-query-gpu.csv"))
    assert row == {
        "index": 0,
        "name": "NVIDIA H100 80GB HBM3",
        "uuid": H100_UUID,
        "compute_cap": "9.0",
        "memory_total_mib": 81559,
        "memory_free_mib": 81004,
        "memory_used_mib": 1,
        "driver_version": "570.124.06",
    }


def test_parse_query_gpu_two_models() -> None:
    """A GTX 1080 Ti + RTX 4090 box gives two rows with capabilities 6.1 and 8.9."""
    rows = gpu.parse_query_gpu(_sample("1080ti-4090-550-query-gpu.csv"))
    assert [(r["index"], r["name"], r["compute_cap"]) for r in rows] == [
        (0, "NVIDIA GeForce GTX 1080 Ti", "6.1"),
        (1, "NVIDIA GeForce RTX 4090", "8.9"),
    ]


def test_parse_query_gpu_without_compute_cap() -> None:
    """An R470 answer queried without compute_cap gives compute_cap None."""
    fields = tuple(f for f in gpu.QUERY_FIELDS if f != "compute_cap")
    (row,) = gpu.parse_query_gpu(_sample("t4-470-query-gpu-no-cc.csv"), fields)
    assert (row["name"], row["compute_cap"], row["memory_total_mib"]) == ("Tesla T4", None, 15109)


def test_parse_query_gpu_unavailable_values() -> None:
    """[N/A] and [Not Supported] values become None; malformed lines are ignored."""
    text = "0, NVIDIA GH200 480GB, [N/A], [Not Supported], [N/A], [N/A], 9.0, 560.35.03\ngarbage\n"
    (row,) = gpu.parse_query_gpu(text)
    assert row["uuid"] is None and row["memory_total_mib"] is None and row["compute_cap"] == "9.0"


def test_parse_compute_apps() -> None:
    """Compute apps give pid, name and MiB; [Not Found] and [N/A] become None."""
    assert gpu.parse_compute_apps(_sample("h100-570-compute-apps-container.csv")) == [
        {"pid": 2301, "name": None, "used_mib": None, "gpu_uuid": H100_UUID},
        {"pid": 31877, "name": "/opt/venv/bin/python3.12", "used_mib": 5821, "gpu_uuid": H100_UUID},
    ]


def test_parse_compute_apps_name_with_comma() -> None:
    """A process name holding a comma still parses (pid first, memory and UUID last)."""
    (app,) = gpu.parse_compute_apps("77, /srv/a,b/python, 1200, GPU-x\n")
    assert (app["name"], app["used_mib"]) == ("/srv/a,b/python", 1200)


def test_parse_compute_apps_empty() -> None:
    """No compute process prints nothing, which parses to an empty list."""
    assert gpu.parse_compute_apps(_sample("h100-570-compute-apps.csv")) == []


@pytest.mark.parametrize(
    ("value", "text"),
    [(12080, "12.8"), (12040, "12.4"), (11040, "11.4"), (13000, "13.0"), (0, None)],
)
def test_cuda_version_from_int(value: int, text: str | None) -> None:
    """NVML's 1000*major + 10*minor encoding becomes "major.minor"."""
    assert gpu.cuda_version_from_int(value) == text


# --- the probe with fake nvidia-smi ---------------------------------------------------------


def test_no_nvml_no_nvidia_smi(fakebin: FakeBin, make_ctx: MakeCtx) -> None:
    """With no NVML library and no nvidia-smi, source is None and the error names NVML."""
    if gpu.read_nvml()["error"] is None:  # pragma: no cover - only where a driver exists
        pytest.skip("a real NVIDIA driver is present")
    facts = gpu.probe(make_ctx(env={"PATH": fakebin.path}))
    assert facts["source"] is None and facts["gpus"] == []
    assert "NVML" in facts["error"] and "not found" in facts["error"]
    assert facts["nvml"]["loaded"] is False and facts["nvml"]["error"]
    assert facts["nvidia_smi"]["path"] is None


def test_h100_through_nvidia_smi(fakebin: FakeBin, make_ctx: MakeCtx) -> None:
    """A fake nvidia-smi printing the H100 sample gives the healthy facts shape."""
    fake_smi(
        fakebin,
        query=_sample("h100-570-query-gpu.csv"),
        header=_sample("h100-570-smi.txt"),
        apps=_sample("h100-570-compute-apps.csv"),
    )
    facts = gpu.probe(make_ctx(env=_env(fakebin), options={"nvml": False}))
    assert facts["source"] == "nvidia-smi" and facts["error"] is None
    assert (facts["driver_version"], facts["driver_max_cuda"]) == ("570.124.06", "12.8")
    assert facts["nvidia_smi"] == {
        "path": str(fakebin.root / "nvidia-smi"),
        "returncode": 0,
        "error": None,
    }
    assert facts["gpus"] == [
        {
            "index": 0,
            "name": "NVIDIA H100 80GB HBM3",
            "uuid": H100_UUID,
            "compute_cap": "9.0",
            "memory_total_mib": 81559,
            "memory_free_mib": 81004,
            "memory_used_mib": 1,
            "processes": [],
        }
    ]


def test_processes_attached_by_uuid(fakebin: FakeBin, make_ctx: MakeCtx) -> None:
    """Compute processes are attached to the GPU whose UUID they name."""
    fake_smi(
        fakebin,
        query=_sample("rtx4090-550-query-gpu.csv"),
        header=_sample("rtx4090-550-smi.txt"),
        apps=_sample("rtx4090-550-compute-apps.csv"),
    )
    facts = gpu.probe(make_ctx(env=_env(fakebin), options={"nvml": False}))
    assert facts["gpus"][0]["processes"] == [{"pid": 28771, "name": "python3", "used_mib": 7096}]
    assert facts["driver_max_cuda"] == "12.4"


def test_old_driver_without_compute_cap(fakebin: FakeBin, make_ctx: MakeCtx) -> None:
    """On R470 the probe asks again without compute_cap and records it as None."""
    fake_smi(
        fakebin,
        query=_sample("t4-470-query-gpu-no-cc.csv"),
        header=_sample("t4-470-smi.txt"),
        old_driver=True,
    )
    facts = gpu.probe(make_ctx(env=_env(fakebin), options={"nvml": False}))
    assert facts["source"] == "nvidia-smi"
    assert (facts["driver_version"], facts["driver_max_cuda"]) == ("470.82.01", "11.4")
    assert facts["gpus"][0]["name"] == "Tesla T4" and facts["gpus"][0]["compute_cap"] is None


@pytest.mark.parametrize(
    ("sample", "code", "expected"),
    [
        ("failure-no-driver.txt", 9, "couldn't communicate with the NVIDIA driver"),
        ("failure-version-mismatch.txt", 18, "Driver/library version mismatch"),
    ],
)
def test_nvidia_smi_failure(
    fakebin: FakeBin, make_ctx: MakeCtx, sample: str, code: int, expected: str
) -> None:
    """A failing nvidia-smi leaves source None with its own message and exit status."""
    fakebin.add_printer("nvidia-smi", _sample(sample), code=code)
    facts = gpu.probe(make_ctx(env=_env(fakebin), options={"nvml": False}))
    assert facts["source"] is None and facts["gpus"] == []
    assert facts["nvidia_smi"]["returncode"] == code
    assert expected in facts["nvidia_smi"]["error"] and expected in facts["error"]


def test_no_devices(fakebin: FakeBin, make_ctx: MakeCtx) -> None:
    """'No devices were found' means the driver answered with zero GPUs."""
    fakebin.add_printer("nvidia-smi", _sample("no-devices.txt"), code=6)
    facts = gpu.probe(make_ctx(env=_env(fakebin), options={"nvml": False}))
    assert facts["source"] == "nvidia-smi" and facts["gpus"] == []
    assert facts["error"] == "No devices were found"


def test_crashing_nvidia_smi(fakebin: FakeBin, make_ctx: MakeCtx) -> None:
    """An nvidia-smi that dies of SIGSEGV gives facts with the error, not an exception."""
    fakebin.add("nvidia-smi", "kill -SEGV $$\n")
    facts = gpu.probe(make_ctx(env=_env(fakebin), options={"nvml": False}))
    assert facts["source"] is None
    assert facts["nvidia_smi"]["error"] == "nvidia-smi killed by SIGSEGV"


@pytest.mark.parametrize("shape", ["exec", "fork"])
def test_hanging_nvidia_smi_times_out_and_leaves_nothing(fakebin: FakeBin, shape: str) -> None:
    """A never-ending nvidia-smi makes the probe time out at its limit, with no process left."""
    sleeper = fakebin.link("kyudoctor-sleeper", shutil.which("sleep") or "/bin/sleep")
    if shape == "exec":
        fakebin.add("nvidia-smi", f'exec "{sleeper}" 1000\n')
    else:  # the child keeps the output pipe open after the script itself has exited
        fakebin.add("nvidia-smi", f'"{sleeper}" 1000 &\nexit 0\n')
    started = time.monotonic()
    outcomes = run_probes(["gpu"], env=_env(fakebin), options={"nvml": False}, timeout=1.0)
    elapsed = time.monotonic() - started
    assert outcomes["gpu"].status is Status.TIMEOUT
    assert elapsed < 1.5
    deadline = time.monotonic() + 1.0
    while _alive_with(fakebin.path) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _alive_with(fakebin.path) == []


# --- NVML, through a stand-in module (no NVIDIA driver exists on a test machine) ------------


class _NVMLError(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


def _fake_pynvml(
    *, init_error: str | None = None, processes: list[Any] | None = None
) -> types.ModuleType:
    """A stand-in for pynvml with its names and return shapes (bytes names, int CUDA)."""
    module = types.ModuleType("pynvml")
    calls: list[str] = []

    def init() -> None:
        calls.append("init")
        if init_error:
            raise _NVMLError(init_error)

    def memory(_handle: object) -> Any:
        return types.SimpleNamespace(total=81559 * 2**20, free=81004 * 2**20, used=2**20)

    module.__dict__.update(
        NVMLError=_NVMLError,
        calls=calls,
        nvmlInit=init,
        nvmlShutdown=lambda: calls.append("shutdown"),
        nvmlSystemGetDriverVersion=lambda: "570.124.06",
        nvmlSystemGetCudaDriverVersion=lambda: 12080,
        nvmlDeviceGetCount=lambda: 1,
        nvmlDeviceGetHandleByIndex=lambda i: object(),
        nvmlDeviceGetName=lambda h: b"NVIDIA H100 80GB HBM3",
        nvmlDeviceGetUUID=lambda h: H100_UUID,
        nvmlDeviceGetCudaComputeCapability=lambda h: (9, 0),
        nvmlDeviceGetMemoryInfo=memory,
        nvmlDeviceGetComputeRunningProcesses=lambda h: processes or [],
    )
    return module


def test_nvml_gives_the_facts(
    fakebin: FakeBin, make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NVML answers become facts: bytes decoded, 12080 -> "12.8", MiB, process names."""
    me = psutil.Process()
    nvml = _fake_pynvml(processes=[types.SimpleNamespace(pid=me.pid, usedGpuMemory=7 * 2**30)])
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    facts = gpu.probe(make_ctx(env=_env(fakebin)))
    assert facts["source"] == "nvml" and facts["nvml"] == {"loaded": True, "error": None}
    assert (facts["driver_version"], facts["driver_max_cuda"]) == ("570.124.06", "12.8")
    (device,) = facts["gpus"]
    assert (device["name"], device["compute_cap"], device["memory_total_mib"]) == (
        "NVIDIA H100 80GB HBM3",
        "9.0",
        81559,
    )
    assert device["processes"] == [{"pid": me.pid, "name": me.name(), "used_mib": 7168}]
    assert nvml.calls == ["init", "shutdown"]


def test_nvml_optional_value_not_supported(
    fakebin: FakeBin, make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A per-GPU query that is Not Supported leaves that value None, not the whole probe."""
    nvml = _fake_pynvml()
    nvml.__dict__["nvmlDeviceGetMemoryInfo"] = _raise_not_supported
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    facts = gpu.probe(make_ctx(env=_env(fakebin)))
    assert facts["source"] == "nvml"
    assert facts["gpus"][0]["memory_total_mib"] is None
    assert facts["gpus"][0]["compute_cap"] == "9.0"


def _raise_not_supported(_handle: object) -> Any:
    raise _NVMLError("Not Supported")


def test_nvml_error_falls_back_to_nvidia_smi(
    fakebin: FakeBin, make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An NVML error is recorded and nvidia-smi answers instead."""
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml(init_error="Driver Not Loaded"))
    fake_smi(
        fakebin,
        query=_sample("h100-570-query-gpu.csv"),
        header=_sample("h100-570-smi.txt"),
    )
    facts = gpu.probe(make_ctx(env=_env(fakebin)))
    assert facts["nvml"] == {"loaded": False, "error": "Driver Not Loaded"}
    assert facts["source"] == "nvidia-smi" and facts["gpus"][0]["compute_cap"] == "9.0"


def test_nvml_with_no_gpu(
    fakebin: FakeBin, make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A driver that answers NVML with zero devices gives source nvml, no GPU, and says so."""
    nvml = _fake_pynvml()
    nvml.__dict__["nvmlDeviceGetCount"] = lambda: 0
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    facts = gpu.probe(make_ctx(env=_env(fakebin)))
    assert (facts["source"], facts["gpus"], facts["error"]) == ("nvml", [], "NVML lists no GPU")
