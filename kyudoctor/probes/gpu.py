"""The NVIDIA driver and GPUs: driver version, the driver's maximum CUDA version, and per GPU the
name, UUID, compute capability, memory and the compute processes holding it.

NVML (``pynvml`` from NVIDIA's ``nvidia-ml-py``) is asked first. When it cannot be loaded or
answers with an error, ``nvidia-smi`` is run instead. Its commands get no shorter timeout than the
probe's own deadline: a driver that hangs ``nvidia-smi`` makes this probe ``timeout`` (and the
command is killed with its process group), which is itself the diagnosis.

Option ``nvml`` (default True) lets tests skip NVML; the product always tries it first.
"""

from __future__ import annotations

import csv
import importlib
import re
from collections.abc import Sequence
from typing import Any

from kyudoctor.probes import CommandResult, ProbeContext

QUERY_FIELDS: tuple[str, ...] = (
    "index",
    "name",
    "uuid",
    "memory.total",
    "memory.free",
    "memory.used",
    "compute_cap",
    "driver_version",
)
"""The ``--query-gpu`` fields, in order. ``compute_cap`` exists from driver R510 on."""

APPS_FIELDS = "pid,process_name,used_memory,gpu_uuid"

_UNAVAILABLE = re.compile(r"^\[.*\]$|^n/?a$", re.IGNORECASE)
_DRIVER_RE = re.compile(r"Driver Version:\s*([0-9][0-9.]*)")
_CUDA_RE = re.compile(r"CUDA Version:\s*([0-9]+\.[0-9]+|N/A)", re.IGNORECASE)
_SMI_RE = re.compile(r"NVIDIA-SMI\s+([0-9][0-9.]*)")
_NO_DEVICES = "No devices were found"
_MIB = 1024 * 1024


def probe(ctx: ProbeContext) -> dict[str, Any]:
    """Gather the ``gpu`` facts (see the contract in docs/architecture.md)."""
    facts: dict[str, Any] = {
        "source": None,
        "nvml": {"loaded": False, "error": None},
        "nvidia_smi": {"path": None, "returncode": None, "error": None},
        "driver_version": None,
        "driver_max_cuda": None,
        "gpus": [],
        "error": None,
    }
    if ctx.options.get("nvml", True):
        nvml = read_nvml()
        facts["nvml"] = {"loaded": nvml["loaded"], "error": nvml["error"]}
        if nvml["error"] is None:
            facts.update(
                source="nvml",
                driver_version=nvml["driver_version"],
                driver_max_cuda=nvml["driver_max_cuda"],
                gpus=nvml["gpus"],
                error=None if nvml["gpus"] else "NVML lists no GPU",
            )
            return facts
    else:
        facts["nvml"]["error"] = "not tried (disabled by option)"
    _from_nvidia_smi(ctx, facts)
    if facts["source"] is None:
        facts["error"] = (
            f"NVML: {facts['nvml']['error']}; nvidia-smi: {facts['nvidia_smi']['error']}"
        )
    return facts


# --- NVML -----------------------------------------------------------------------------------


def read_nvml() -> dict[str, Any]:
    """Ask NVML; ``error`` is None on success, else NVML's own words ("Driver Not Loaded")."""
    out: dict[str, Any] = {
        "loaded": False,
        "error": None,
        "driver_version": None,
        "driver_max_cuda": None,
        "gpus": [],
    }
    try:
        # Imported by name: nvidia-ml-py ships no type information, and NVML is all Any here.
        pynvml: Any = importlib.import_module("pynvml")
    except ImportError as exc:
        out["error"] = f"the pynvml module (nvidia-ml-py) is not installed: {exc}"
        return out
    errors: tuple[type[BaseException], ...] = (
        pynvml.NVMLError,
        getattr(pynvml, "NVMLLibraryMismatchError", pynvml.NVMLError),
        OSError,
    )
    try:
        pynvml.nvmlInit()
    except errors as exc:
        out["error"] = _nvml_error(exc)
        return out
    out["loaded"] = True
    try:
        out["driver_version"] = _text(pynvml.nvmlSystemGetDriverVersion())
        try:
            out["driver_max_cuda"] = cuda_version_from_int(
                int(pynvml.nvmlSystemGetCudaDriverVersion())
            )
        except errors:
            out["driver_max_cuda"] = None
        for index in range(int(pynvml.nvmlDeviceGetCount())):
            out["gpus"].append(_nvml_device(pynvml, index, errors))
    except errors as exc:
        out["error"] = _nvml_error(exc)
        out["gpus"] = []
    finally:
        try:
            pynvml.nvmlShutdown()
        except errors:
            pass
    return out


def _nvml_device(
    pynvml: Any, index: int, errors: tuple[type[BaseException], ...]
) -> dict[str, Any]:
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    gpu: dict[str, Any] = {
        "index": index,
        "name": _text(pynvml.nvmlDeviceGetName(handle)),
        "uuid": None,
        "compute_cap": None,
        "memory_total_mib": None,
        "memory_free_mib": None,
        "memory_used_mib": None,
        "processes": [],
    }
    # Each of these may be "Not Supported" on some boards; one missing value is not a failure.
    try:
        gpu["uuid"] = _text(pynvml.nvmlDeviceGetUUID(handle))
    except errors:
        pass
    try:
        major, minor = pynvml.nvmlDeviceGetCudaComputeCapability(handle)
        gpu["compute_cap"] = f"{int(major)}.{int(minor)}"
    except errors:
        pass
    try:
        memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
        gpu["memory_total_mib"] = int(memory.total) // _MIB
        gpu["memory_free_mib"] = int(memory.free) // _MIB
        gpu["memory_used_mib"] = int(memory.used) // _MIB
    except errors:
        pass
    try:
        for proc in pynvml.nvmlDeviceGetComputeRunningProcesses(handle):
            used = getattr(proc, "usedGpuMemory", None)
            gpu["processes"].append(
                {
                    "pid": int(proc.pid),
                    "name": _process_name(int(proc.pid)),
                    "used_mib": int(used) // _MIB if isinstance(used, int) else None,
                }
            )
    except errors:
        pass
    return gpu


def _nvml_error(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - NVMLError.__str__ calls into the library, which may fail
        text = ""
    return text or type(exc).__name__


def _process_name(pid: int) -> str | None:
    try:
        psutil: Any = importlib.import_module("psutil")
        return str(psutil.Process(pid).name())
    except Exception:  # noqa: BLE001 - gone, no permission, other PID namespace: name unknown
        return None


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def cuda_version_from_int(value: int) -> str | None:
    """NVML/cudaDriverGetVersion's ``1000*major + 10*minor`` as ``"12.4"``; None for 0."""
    if value <= 0:
        return None
    return f"{value // 1000}.{(value % 1000) // 10}"


# --- nvidia-smi -----------------------------------------------------------------------------


def _from_nvidia_smi(ctx: ProbeContext, facts: dict[str, Any]) -> None:
    smi = facts["nvidia_smi"]
    path = ctx.which("nvidia-smi")
    smi["path"] = path
    if path is None:
        smi["error"] = "not found on PATH"
        return
    fields: Sequence[str] = QUERY_FIELDS
    query = ctx.run(_query_argv(path, fields))
    if not query.ok and "not a valid field" in query.output and "compute_cap" in query.output:
        # Drivers before R510 do not know compute_cap: ask again without it.
        fields = tuple(f for f in QUERY_FIELDS if f != "compute_cap")
        query = ctx.run(_query_argv(path, fields))
    smi["returncode"] = query.returncode
    if _NO_DEVICES in query.output:
        # The driver answered; it just lists no GPU.
        facts["source"] = "nvidia-smi"
        facts["error"] = smi["error"] = _NO_DEVICES
        return
    if not query.ok:
        smi["error"] = failure_text(query)
        return
    gpus = parse_query_gpu(query.stdout, fields)
    facts["source"] = "nvidia-smi"
    if not gpus:
        facts["error"] = smi["error"] = "nvidia-smi listed no GPU"
    facts["gpus"] = [_contract_gpu(g) for g in gpus]
    facts["driver_version"] = next((g["driver_version"] for g in gpus if g["driver_version"]), None)

    header = ctx.run([path])
    if header.ok:
        parsed = parse_smi_header(header.stdout)
        facts["driver_max_cuda"] = parsed["cuda_version"]
        facts["driver_version"] = facts["driver_version"] or parsed["driver_version"]

    apps = ctx.run([path, f"--query-compute-apps={APPS_FIELDS}", "--format=csv,noheader,nounits"])
    if apps.ok:
        _attach_processes(facts["gpus"], parse_compute_apps(apps.stdout))


def _query_argv(path: str, fields: Sequence[str]) -> list[str]:
    return [path, f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits"]


def _contract_gpu(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "index": row["index"],
        "name": row["name"],
        "uuid": row["uuid"],
        "compute_cap": row["compute_cap"],
        "memory_total_mib": row["memory_total_mib"],
        "memory_free_mib": row["memory_free_mib"],
        "memory_used_mib": row["memory_used_mib"],
        "processes": [],
    }


def _attach_processes(gpus: list[dict[str, Any]], apps: list[dict[str, Any]]) -> None:
    by_uuid = {g["uuid"]: g for g in gpus if g["uuid"]}
    for app in apps:
        gpu = by_uuid.get(app["gpu_uuid"])
        if gpu is None and len(gpus) == 1:
            gpu = gpus[0]
        if gpu is not None:
            gpu["processes"].append(
                {"pid": app["pid"], "name": app["name"], "used_mib": app["used_mib"]}
            )


def failure_text(result: CommandResult) -> str:
    """What a failed ``nvidia-smi`` said, in one line (its message, else how it ended)."""
    lines = [line.strip() for line in result.output.splitlines() if line.strip()]
    if lines:
        return " ".join(lines[:2])[:300]
    how = result.failure() or "exited with status 0"
    return f"nvidia-smi {how}" if result.error is None else how


def _value(text: str) -> str | None:
    text = text.strip()
    if not text or _UNAVAILABLE.match(text):
        return None
    return text


def _int(text: str) -> int | None:
    value = _value(text)
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


def _cc(text: str) -> str | None:
    value = _value(text)
    if value is None or not re.fullmatch(r"[0-9]+\.[0-9]+", value):
        return None
    return value


def parse_query_gpu(text: str, fields: Sequence[str] = QUERY_FIELDS) -> list[dict[str, Any]]:
    """Rows of ``nvidia-smi --query-gpu=<fields> --format=csv,noheader,nounits``.

    Missing fields (``compute_cap`` on old drivers) and ``[N/A]``/``[Not Supported]`` values
    become None. Lines that do not have the expected number of fields are ignored.
    """
    gpus: list[dict[str, Any]] = []
    # Python 3.10's csv raises on NUL ("line contains NUL"); a driver never prints one.
    for row in csv.reader(text.replace("\x00", "").splitlines(), skipinitialspace=True):
        if len(row) != len(fields):
            continue
        values = dict(zip(fields, row, strict=True))
        index = _int(values.get("index", ""))
        name = _value(values.get("name", ""))
        if index is None or name is None:
            continue
        gpus.append(
            {
                "index": index,
                "name": name,
                "uuid": _value(values.get("uuid", "")),
                "compute_cap": _cc(values.get("compute_cap", "")),
                "memory_total_mib": _int(values.get("memory.total", "")),
                "memory_free_mib": _int(values.get("memory.free", "")),
                "memory_used_mib": _int(values.get("memory.used", "")),
                "driver_version": _value(values.get("driver_version", "")),
            }
        )
    return gpus


def parse_smi_header(text: str) -> dict[str, str | None]:
    """The banner of plain ``nvidia-smi``: ``nvidia_smi_version``, ``driver_version`` and
    ``cuda_version`` (the driver's maximum CUDA, None when it says ``N/A`` or is absent)."""
    smi = _SMI_RE.search(text)
    driver = _DRIVER_RE.search(text)
    cuda = _CUDA_RE.search(text)
    cuda_version = cuda.group(1) if cuda else None
    return {
        "nvidia_smi_version": smi.group(1) if smi else None,
        "driver_version": driver.group(1) if driver else None,
        "cuda_version": None
        if cuda_version is None or cuda_version.upper() == "N/A"
        else cuda_version,
    }


def parse_compute_apps(text: str) -> list[dict[str, Any]]:
    """Rows of ``--query-compute-apps=pid,process_name,used_memory,gpu_uuid`` (csv, no header,
    no units). A process name may itself hold commas: the pid is the first field and the memory
    and UUID the last two."""
    apps: list[dict[str, Any]] = []
    for line in text.splitlines():
        if not line.strip() or line.count(",") < 3:
            continue
        pid_text, rest = line.split(",", 1)
        name_text, used_text, uuid_text = rest.rsplit(",", 2)
        pid = _int(pid_text)
        if pid is None:
            continue
        apps.append(
            {
                "pid": pid,
                "name": _value(name_text),
                "used_mib": _int(used_text),
                "gpu_uuid": _value(uuid_text),
            }
        )
    return apps
