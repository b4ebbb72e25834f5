"""Every DOCKER check and bin.crlf judge the facts of any generated project without raising."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kyudoctor.checks import (
    bin_crlf,
    docker_base,
    docker_compose_gpu,
    docker_healthcheck,
    docker_install,
    docker_parse,
    docker_python,
)
from tests.dockerfiles import facts_of

CHECKS = (
    docker_parse.CHECK,
    bin_crlf.CHECK,
    docker_base.CHECK,
    docker_install.CHECK,
    docker_python.CHECK,
    docker_compose_gpu.CHECK,
    docker_healthcheck.CHECK,
)

LINES = st.sampled_from(
    [
        "FROM nvidia/cuda:12.8.1-runtime-ubuntu22.04 AS build",
        "FROM build",
        "FROM ${BASE}",
        "FROM python:3.13-slim",
        "ARG BASE=ubuntu",
        "WORKDIR /app",
        "COPY . .",
        "COPY start.sh /app/",
        "COPY --from=build /root/.cargo/bin/moshi-server /usr/local/bin/",
        "COPY <<EOF /app/start.sh",
        "EOF",
        "RUN <<EOF",
        "RUN pip install torch==2.6.0+cpu moshi",
        "RUN uv pip install torch --torch-backend=cu130 'moshi<0.2.8'",
        "RUN cargo install --features cuda moshi-server@",
        "RUN sh -c",
        'RUN ["sh", "-c"]',
        'ENTRYPOINT ["./start.sh"]',
        "ENTRYPOINT moshi-server",
        'CMD ["moshi-server", "worker", "--config", "c.toml"]',
        "CMD",
        "HEALTHCHECK --start-period=bogus CMD true",
        "HEALTHCHECK --start-period=1m CMD curl localhost:99999",
        "HEALTHCHECK NONE",
        "ENV HF_TOKEN=hf_x",
        "\\",
        "",
    ]
)
COMPOSE = st.sampled_from(
    [
        "services:",
        "  tts:",
        "    build: .",
        "    build: {context: ., dockerfile: Dockerfile, target: nope}",
        "    image: moshi-server",
        "    command: [worker, --config, c.toml]",
        "    command: ./start.sh",
        "    gpus: 0",
        "    runtime: nvidia",
        "    extends: tts",
        "    extends: {file: x.yml, service: y}",
        "    healthcheck: {test: [NONE], start_period: 5}",
        "    healthcheck: {start_period: [1]}",
        "    deploy: {resources: {reservations: {devices: [{capabilities: [[gpu]], count: x}]}}}",
        "    volumes: [./start.sh:/app/start.sh, {type: bind, source: ., target: /app}]",
        "    environment: [A]",
        "  stt: &s {}",
        "  x: *s",
        "\t",
        "",
    ]
)

SERVICE_KEYS = COMPOSE.filter(lambda line: line.startswith("    ") and ":" in line)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.lists(LINES, max_size=14).map("\n".join),
        st.lists(LINES, max_size=14).map(lambda ls: "\n".join(["FROM ubuntu AS base", *ls])),
    ),
    st.one_of(
        st.lists(COMPOSE, max_size=12).map("\n".join),
        st.lists(SERVICE_KEYS, max_size=6, unique=True).map(
            lambda ks: "services:\n  tts:\n" + "\n".join(ks) + "\n"
        ),
    ),
    st.sampled_from([b"#!/bin/sh\nmoshi-server\n", b"#!/bin/sh\r\n", b"\x00\x01", b""]),
)
def test_checks_never_raise(dockerfile: str, compose: str, script: bytes) -> None:
    """Any mix of Dockerfile lines, compose keys and scripts: every check returns an outcome."""
    with tempfile.TemporaryDirectory() as tmp:
        facts = facts_of(
            Path(tmp),
            {"Dockerfile": dockerfile, "compose.yaml": compose, "start.sh": script},
        )
    for check in CHECKS:
        outcome = check.run(facts)
        for finding in outcome.findings:
            assert isinstance(finding.evidence.get("file"), str)
            assert isinstance(finding.evidence.get("line"), int)
