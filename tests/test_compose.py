"""kyudoctor.compose: every compose schema in use, lines per key, hostile YAML stays harmless."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kyudoctor.compose import ComposeError, load, parse, parse_duration
from tests.conftest import REPO

DATA = REPO / "tests" / "data" / "docker"


def service(text: str, name: str = "tts") -> dict[str, Any]:
    facts = parse(text)
    return next(s for s in facts["services"] if s["name"] == name)


V2 = """\
version: "2.3"
services:
  tts:
    image: moshi-server
    runtime: nvidia
    environment:
      NVIDIA_VISIBLE_DEVICES: all
"""

V3 = """\
version: '3.8'
services:
  tts:
    image: moshi-server
    deploy:
      resources:
        reservations:
          devices:
            - driver: nvidia
              count: 1
              capabilities: [gpu]
"""

SPEC = """\
services:
  tts:
    image: moshi-server
    gpus: all
"""

CDI = """\
services:
  tts:
    image: moshi-server
    devices:
      - nvidia.com/gpu=all
"""

V1 = """\
tts:
  image: moshi-server
  command: moshi-server worker --config /configs/tts.toml
"""


@pytest.mark.parametrize(
    ("text", "key", "expected", "line"),
    [
        (V2, "runtime", "nvidia", 5),
        (V3, "deploy_devices", [{"line": 9, "driver": "nvidia", "count": 1}], 5),
        (SPEC, "gpus", "all", 4),
        (CDI, "cdi_devices", ["nvidia.com/gpu=all"], 4),
    ],
)
def test_gpu_forms_of_every_schema(text: str, key: str, expected: Any, line: int) -> None:
    """runtime (v2.3), deploy devices (v3 / spec), gpus (spec) and CDI devices are read."""
    svc = service(text)
    if key == "deploy_devices":
        device = svc[key][0]
        assert {k: device[k] for k in ("line", "driver", "count")} == expected[0]
        assert device["capabilities"] == ["gpu"]
        assert svc["deploy_line"] == line
    else:
        assert svc[key] == expected
        assert svc[f"{key}_line" if key != "cdi_devices" else "devices_line"] == line


def test_legacy_v1_layout() -> None:
    """A v1 file (services at the top level) is read, command as a string."""
    facts = parse(V1)
    assert facts["layout"] == "v1"
    assert facts["services"][0]["command"] == "moshi-server worker --config /configs/tts.toml"
    assert facts["services"][0]["line"] == 1


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ("    environment:\n      - A=1\n      - B\n", {"A": "1", "B": None}),
        ("    environment:\n      A: 1\n      B:\n", {"A": "1", "B": None}),
    ],
)
def test_environment_as_list_or_mapping(environment: str, expected: dict[str, Any]) -> None:
    """environment as a list of NAME=value or a mapping gives the same facts."""
    assert service(f"services:\n  tts:\n{environment}")["environment"] == expected


@pytest.mark.parametrize(
    ("build", "context", "dockerfile"),
    [
        ("    build: ./tts\n", "./tts", None),
        (
            "    build:\n      context: tts\n      dockerfile: public.Dockerfile\n",
            "tts",
            "public.Dockerfile",
        ),
        ("    build:\n      dockerfile: Dockerfile.gpu\n", ".", "Dockerfile.gpu"),
        ("    build: ${CTX:-services/tts}\n", "services/tts", None),
    ],
)
def test_build_as_string_or_mapping(build: str, context: str, dockerfile: str | None) -> None:
    """build: as a path or a mapping with dockerfile; ${VAR:-default} interpolated."""
    built = service(f"services:\n  tts:\n{build}")["build"]
    assert (built["context"], built["dockerfile"]) == (context, dockerfile)


def test_healthcheck_fields_and_lines() -> None:
    """healthcheck test/interval/start_period/retries are read with the start_period line."""
    svc = service(
        "services:\n"
        "  tts:\n"
        "    healthcheck:\n"
        '      test: ["CMD-SHELL", "curl -f http://localhost:8080/api/build_info"]\n'
        "      interval: 30s\n"
        "      start_period: 2m\n"
        "      retries: 5\n"
    )
    health = svc["healthcheck"]
    assert health["start_period"] == "2m" and health["start_period_line"] == 6
    assert (health["interval"], health["retries"], health["line"]) == ("30s", 5, 3)


def test_merge_keys_and_anchors_keep_lines() -> None:
    """<<: *anchor merges (explicit keys win) and lines point at the definitions."""
    svc = service(
        "x-gpu: &gpu\n"
        "  gpus: all\n"
        "  image: base\n"
        "services:\n"
        "  tts:\n"
        "    <<: *gpu\n"
        "    image: moshi-server\n"
    )
    assert svc["gpus"] == "all" and svc["image"] == "moshi-server"
    assert svc["image_line"] == 7 and svc["gpus_line"] == 2


def test_secrets_in_environment_are_masked() -> None:
    """Token-like variables show *** and references stay; nothing planted leaks."""
    svc = service(
        "services:\n  tts:\n    environment:\n"
        "      HF_TOKEN: hf_PlantedComposeSecret0123456789\n"
        "      KYUTAI_API_KEY: $KYUTAI_API_KEY\n"
    )
    assert svc["environment"] == {"HF_TOKEN": "***", "KYUTAI_API_KEY": "$KYUTAI_API_KEY"}
    assert "PlantedCompose" not in json.dumps(svc)


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9)
)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("services:\n\ttts:\n\t\timage: x\n", 2, "tabs"),
        ("services:\n  tts:\n    image: a\n    image: b\n", 4, "duplicate key 'image'"),
        (BOMB, 1, "alias bomb"),
        ("services:\n  tts: &x\n    self: *x\n", 2, "recursive"),
        ("[" * 100_000 + "]" * 100_000, 1, "nested deeper"),
        ("- " * 50_000 + "x", 1, "nested deeper"),
        ("- a\n- b\n", 1, "top level must be a mapping"),
        ("", 1, "empty compose file"),
        ("# nothing\n", 1, "empty compose file"),
        ("services: [a, b]\n", 1, "services must be a mapping"),
        ("services:\n  tts: moshi-server\n", 2, "must be a mapping"),
        ("services:\n  tts:\n    build: [a]\n", 3, "must be a string or a mapping"),
        ("a: b: c\n", 1, "YAML error"),
        ("x: \x00\n", 1, "binary"),
    ],
)
def test_errors_carry_the_line(text: str, line: int, message: str) -> None:
    """Broken, hostile or wrong-shaped YAML is a ComposeError with a line, never a crash."""
    with pytest.raises(ComposeError) as caught:
        parse(text)
    assert caught.value.line == line
    assert message in caught.value.message


def test_bom_and_crlf_are_read() -> None:
    """A BOM and CRLF line endings do not change values or lines."""
    text = "\ufeffservices:\r\n  tts:\r\n    image: moshi-server\r\n    gpus: all\r\n"
    svc = service(text)
    assert (svc["image"], svc["gpus"], svc["gpus_line"]) == ("moshi-server", "all", 4)


def test_located_lines() -> None:
    """load() keeps the line of every key and list item."""
    located = load("a:\n  b:\n    - x\n    - y\n")
    assert located.line("a", "b", 1) == 4
    assert located.line("a", "missing") == 1 and located.exact("a", "missing") is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("10m", 600.0),
        ("1m30s", 90.0),
        ("1.5h", 5400.0),
        ("500ms", 0.5),
        ("30", 30.0),
        (45, 45.0),
        ("", None),
        ("ten minutes", None),
        ("5x", None),
        (True, None),
        (None, None),
    ],
)
def test_parse_duration(value: Any, seconds: float | None) -> None:
    """Docker/Go durations in seconds; junk is None."""
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("path", ["unmute/docker-compose.yml", "dsm/compose.yaml"])
def test_kyutai_shapes(path: str) -> None:
    """Kyutai's compose shapes parse and request a GPU for the TTS."""
    svc = service((DATA / path).read_bytes().decode("utf-8"))
    assert svc["deploy_devices"] or svc["gpus"] == "all"


YAML_PIECES = st.sampled_from(
    [
        "services:",
        "\n",
        "  ",
        "\t",
        "- ",
        ": ",
        "tts",
        "&a ",
        "*a",
        "<<: ",
        "[",
        "]",
        "{",
        "}",
        "'",
        '"',
        "gpus: all",
        "deploy:",
        "build:",
        "healthcheck:",
        "environment:",
        "!!python/object:os.system",
        "!!binary",
        "? ",
        "---",
        "%YAML 1.1",
        "\r\n",
        "\ufeff",
        "1e9999",
        ".nan",
        "2001-12-14",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.lists(YAML_PIECES, max_size=60).map("".join)))
def test_parse_never_raises_anything_but_compose_error(text: str) -> None:
    """Any text parses to JSON facts or raises ComposeError with a positive line."""
    try:
        facts = parse(text)
    except ComposeError as exc:
        assert exc.line >= 1
        return
    json.dumps(facts, allow_nan=False)
