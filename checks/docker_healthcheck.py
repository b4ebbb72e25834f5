"""docker.healthcheck: health checks give moshi-server the time it needs to start.

What it checks
    The ``HEALTHCHECK`` in force in each image that runs moshi-server, and the ``healthcheck``
    of each compose service that runs it: the start period (``--start-period`` /
    ``start_period``, Docker's default 0s when absent) against the policy's minimum
    (``healthcheck_start_period_min_s``, Kyutai's 10 minutes). ``HEALTHCHECK NONE`` and
    ``disable: true`` are not judged.

Why it matters
    DOCKER006: moshi-server opens its port only once the model is downloaded, loaded and warm,
    minutes on a first start, longer when the container builds moshi-server at start (Kyutai's
    image does). A health check that counts failures sooner marks a healthy start unhealthy;
    ``depends_on: condition: service_healthy`` and orchestrators then give up or restart it.

How to fix
    ``HEALTHCHECK --start-period=10m CMD curl --fail http://localhost:8080/api/build_info``, or
    in compose ``start_period: 10m`` with the same test.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kyudoctor.compose import parse_duration
from kyudoctor.model import Check, Facts, Finding, Outcome

from ._docker import (
    MOSHI_SERVER_DEFAULT_PORT,
    Image,
    docker_policy,
    files_facts,
    images,
    installs_moshi_server,
    is_moshi_server_image,
    iter_scripts,
    nothing_found,
    parsed,
    service_runs_moshi_server,
    where,
)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def _builds_at_start(image: Image | None) -> bool:
    return image is not None and any(installs_moshi_server(c.words) for c in image.start)


def _why(builds: bool) -> str:
    what = "builds moshi-server, then downloads" if builds else "downloads"
    return f"the container {what} and loads the model before the port opens"


def _port(text: str) -> int:
    """The port a health check probes (``localhost:8089``), else moshi-server's default."""
    match = re.search(r"(?:localhost|127\.0\.0\.1|\[::1\]):(\d+)", text)
    return int(match.group(1)) if match else MOSHI_SERVER_DEFAULT_PORT


def _finding(file: str, line: int, given: Any, seconds: float, builds: bool, port: int) -> Finding:
    minimum = docker_policy().healthcheck_start_period_min_s
    shown = f"start period {given}" if given not in (None, "") else "no start period (0s)"
    return Finding(
        "DOCKER006",
        f"{where(file, line)}: health check with {shown}, under {_minutes(minimum)}; "
        f"{_why(builds)}, so a healthy first start is marked unhealthy",
        evidence={"file": file, "line": line, "start_period_s": seconds},
        params={"port": port},
    )


def _image_healthcheck(image: Image) -> Mapping[str, Any] | None:
    found = None
    for ins in image.instructions:
        if ins.get("keyword") == "HEALTHCHECK" and image.in_chain(ins):
            found = ins
    return found


def check(facts: Facts) -> Outcome:
    """DOCKER006 for each moshi-server health check with too short a start period."""
    files = files_facts(facts)
    reason = nothing_found(files)
    if reason is not None or files is None:
        return Outcome.skip(reason or "no facts")
    minimum = docker_policy().healthcheck_start_period_min_s
    findings: list[Finding] = []
    judged = 0
    all_images = images(files)
    for image in all_images:
        if not is_moshi_server_image(image):
            continue
        ins = _image_healthcheck(image)
        if ins is None or ins.get("none"):
            continue
        judged += 1
        given = (ins.get("flags") or {}).get("start-period")
        seconds = parse_duration(given) if given else 0.0
        if seconds is not None and seconds < minimum:
            port = _port(str(ins.get("command") or ""))
            findings.append(
                _finding(image.path, image.line(ins), given, seconds, _builds_at_start(image), port)
            )
    by_path = {image.path: image for image in all_images}
    scripts = list(iter_scripts(files))
    for compose in parsed(files.get("compose_files") or []):
        path = str(compose.get("path"))
        for service in compose.get("services") or []:
            health = service.get("healthcheck")
            if not isinstance(health, Mapping) or health.get("disable"):
                continue
            if service_runs_moshi_server(service, path, by_path, scripts) is None:
                continue
            judged += 1
            given = health.get("start_period")
            seconds = parse_duration(given) if given not in (None, "") else 0.0
            if seconds is None or seconds >= minimum:
                continue
            build = service.get("build") or {}
            built = by_path.get(str(build.get("dockerfile_path"))) if build else None
            line = int(health.get("start_period_line") or health.get("line") or 1)
            port = _port(str(health.get("test") or ""))
            findings.append(_finding(path, line, given, seconds, _builds_at_start(built), port))
    if not judged:
        return Outcome.skip("no health check on a moshi-server image or service")
    if findings:
        return Outcome.found(f"{len(findings)} health check(s) too eager", *findings)
    return Outcome.ok(f"{judged} health check(s) allow {_minutes(minimum)} or more to start")


CHECK = Check(
    id="docker.healthcheck",
    group="files",
    title="Health checks allow moshi-server time to start",
    codes=("DOCKER006",),
    probes=("files",),
    run=check,
)
