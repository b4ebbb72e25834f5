"""docker.gpu: every compose service that runs moshi-server reserves a GPU.

What it checks
    Each service of each compose file that runs moshi-server: its ``command``/``entrypoint``
    runs it (or is moshi-server's ``worker --config ...``), a start script it runs does, the
    image it builds starts it, or its image name says ``moshi-server``. Such a service must
    request a GPU in one of the forms Docker Compose honours:
    ``deploy.resources.reservations.devices`` with ``capabilities: [gpu]`` (Compose
    Specification, v3.x), ``gpus: all`` (Compose Specification), ``runtime: nvidia`` (v2.3), or
    a CDI device ``nvidia.com/gpu=all``. ``<<: *anchor`` merges and ``extends`` within the same
    file are followed.

Why it matters
    DOCKER004: without a reservation the container sees no GPU (no ``/dev/nvidia*``,
    ``nvidia-smi`` missing, GPU002) and the TTS, which runs torch on ``cuda``, cannot start.

How to fix
    Add to the service::

        deploy:
          resources:
            reservations:
              devices:
                - driver: nvidia
                  count: all
                  capabilities: [gpu]

    or ``gpus: all``. The host needs the NVIDIA Container Toolkit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kyudoctor.model import Check, Facts, Finding, Outcome

from ._docker import (
    files_facts,
    images,
    iter_scripts,
    nothing_found,
    parsed,
    service_runs_moshi_server,
    where,
)


def gpu_request(service: Mapping[str, Any]) -> str | None:
    """How the service asks for a GPU, or None."""
    for device in service.get("deploy_devices") or []:
        capabilities = {str(c).lower() for c in device.get("capabilities") or []}
        if "gpu" in capabilities and device.get("count") not in (0, "0"):
            return f"deploy.resources.reservations.devices (line {device.get('line')})"
    gpus = service.get("gpus")
    if gpus not in (None, 0, "0", "", []):
        return f"gpus: {gpus}"
    if str(service.get("runtime") or "").lower() == "nvidia":
        return "runtime: nvidia"
    if service.get("cdi_devices"):
        return f"devices: {service['cdi_devices'][0]}"
    return None


def _resolve(
    service: Mapping[str, Any], by_name: Mapping[str, Mapping[str, Any]]
) -> tuple[str | None, bool]:
    """The GPU request of a service or of what it ``extends`` in this file; False when it
    extends a service of another file (not read)."""
    seen: set[str] = set()
    current: Mapping[str, Any] | None = service
    while current is not None:
        request = gpu_request(current)
        if request is not None:
            return request, True
        extends = current.get("extends")
        if not isinstance(extends, Mapping):
            return None, True
        if extends.get("file"):
            return None, False
        name = str(extends.get("service"))
        if name in seen:
            return None, True
        seen.add(name)
        current = by_name.get(name)
    return None, True


def check(facts: Facts) -> Outcome:
    """DOCKER004 for each moshi-server service without a GPU reservation."""
    files = files_facts(facts)
    reason = nothing_found(files)
    if reason is not None or files is None:
        return Outcome.skip(reason or "no facts")
    composes = parsed(files.get("compose_files") or [])
    if not composes:
        return Outcome.skip("no compose file to check")
    by_path = {image.path: image for image in images(files)}
    scripts = list(iter_scripts(files))
    findings: list[Finding] = []
    served: list[str] = []
    unknown: list[str] = []
    for compose in composes:
        path = str(compose.get("path"))
        services = [s for s in compose.get("services") or [] if isinstance(s, Mapping)]
        by_name = {str(s.get("name")): s for s in services}
        for service in services:
            why = service_runs_moshi_server(service, path, by_path, scripts)
            if why is None:
                continue
            name = str(service.get("name"))
            request, known = _resolve(service, by_name)
            if not known:
                unknown.append(name)
                continue
            served.append(f"{name} ({request})" if request else name)
            if request is None:
                line = int(service.get("line") or 1)
                findings.append(
                    Finding(
                        "DOCKER004",
                        f"{where(path, line)}: service {name!r} runs moshi-server ({why[0]}, "
                        f"line {why[1]}) but reserves no GPU: the container will see none",
                        evidence={"file": path, "line": line, "service": name},
                    )
                )
    if not served and not unknown:
        return Outcome.skip("no compose service runs moshi-server")
    if findings:
        return Outcome.found(f"{len(findings)} moshi-server service(s) without a GPU", *findings)
    if not served:
        return Outcome.skip(f"services {', '.join(unknown)} extend a service of another file")
    return Outcome.ok(f"GPU reserved for {', '.join(served)}")


CHECK = Check(
    id="docker.gpu",
    group="files",
    title="Compose services running moshi-server reserve a GPU",
    codes=("DOCKER004",),
    probes=("files",),
    run=check,
)
