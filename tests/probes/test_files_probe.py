"""The ``files`` probe on real directories: discovery, compose builds, scripts, limits, secrets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from kyudoctor.errors import UnusableInput
from kyudoctor.probes import files
from tests.conftest import REPO, MakeCtx

DATA = REPO / "tests" / "data" / "docker"


def write(root: Path, tree: dict[str, str | bytes]) -> None:
    for name, content in tree.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8"))


def run(make_ctx: MakeCtx, root: Path, **options: Any) -> dict[str, Any]:
    return files.probe(make_ctx(cwd=root, options=options))


def test_discovery_in_the_current_directory(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """Dockerfile*, docker-compose*.y*ml and compose.y*ml are found; backups and dirs are not."""
    write(
        tmp_path,
        {
            "Dockerfile": "FROM ubuntu\n",
            "Dockerfile.gpu": "FROM nvidia/cuda:12.8.1-devel-ubuntu22.04\n",
            "Dockerfile~": "FROM broken\nNOPE\n",
            "docker-compose.yml": "services: {}\n",
            "docker-compose.override.yaml": "services: {}\n",
            "compose.yaml": "services: {}\n",
            "notes.yml": "services: {}\n",
            "Dockerfile.d/x": "",
        },
    )
    facts = run(make_ctx, tmp_path)
    assert facts["source"] == "discovered"
    assert [d["path"] for d in facts["dockerfiles"]] == ["Dockerfile", "Dockerfile.gpu"]
    assert [c["path"] for c in facts["compose_files"]] == [
        "compose.yaml",
        "docker-compose.override.yaml",
        "docker-compose.yml",
    ]
    json.dumps(facts)


def test_nothing_to_find(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """An empty directory gives empty lists, not an error."""
    facts = run(make_ctx, tmp_path)
    assert facts["dockerfiles"] == [] and facts["compose_files"] == [] and facts["scripts"] == []


def test_named_files_turn_discovery_off(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """--dockerfile alone lints that file only, keeping the path as given."""
    write(tmp_path, {"Dockerfile": "FROM ubuntu\n", "docker/tts.Dockerfile": "FROM ubuntu\n"})
    facts = run(make_ctx, tmp_path, dockerfiles=["docker/tts.Dockerfile"])
    assert [d["path"] for d in facts["dockerfiles"]] == ["docker/tts.Dockerfile"]
    assert facts["compose_files"] == [] and facts["source"] == "command line"


@pytest.mark.parametrize(
    ("option", "name", "message"),
    [
        ("dockerfiles", "missing.Dockerfile", "--dockerfile missing.Dockerfile: no such file"),
        ("compose_files", "adir", "--compose adir: is a directory"),
    ],
)
def test_named_file_unusable(
    tmp_path: Path, make_ctx: MakeCtx, option: str, name: str, message: str
) -> None:
    """A named file that is missing or a directory is UnusableInput (exit 2)."""
    (tmp_path / "adir").mkdir()
    with pytest.raises(UnusableInput, match=message):
        run(make_ctx, tmp_path, **{option: [name]})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfeF\x00R\x00O\x00M\x00", "UTF-16"),
        (b"FROM ubuntu\n" + b"# padding\n" * 120_000, "larger than 1 MiB"),
        (b"FROM ubuntu\nRUNN x\n", "unknown instruction: RUNN"),
    ],
)
def test_unparsable_file_is_a_fact(
    tmp_path: Path, make_ctx: MakeCtx, content: bytes, message: str
) -> None:
    """A file that cannot be read or parsed is recorded with a line, not raised."""
    write(tmp_path, {"Dockerfile": content})
    facts = run(make_ctx, tmp_path)
    error = facts["dockerfiles"][0]["error"]
    assert message in error["message"] and error["line"] >= 1


def test_compose_build_follows_the_dockerfile(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """A compose build: adds its Dockerfile with args and target; missing and remote are noted."""
    write(
        tmp_path,
        {
            "deploy/compose.yaml": (
                "services:\n"
                "  tts:\n"
                "    build:\n"
                "      context: ../tts\n"
                "      dockerfile: gpu.Dockerfile\n"
                "      target: run\n"
                "      args:\n"
                "        CUDA: 12.8.1\n"
                "        HF_TOKEN: hf_PlantedBuildArgSecret0123456\n"
                "  ghost:\n"
                "    build: ./nowhere\n"
                "  remote:\n"
                "    build: https://github.com/kyutai-labs/unmute.git\n"
            ),
            "tts/gpu.Dockerfile": (
                "ARG CUDA=12.1.0\nFROM nvidia/cuda:${CUDA}-devel-ubuntu22.04 AS build\n"
                'FROM build AS run\nCMD ["true"]\nFROM ubuntu AS other\n'
            ),
        },
    )
    facts = run(make_ctx, tmp_path, compose_files=["deploy/compose.yaml"])
    built, ghost = facts["dockerfiles"]
    assert built["path"] == "tts/gpu.Dockerfile" and built["final_stage"] == 1
    assert built["stages"][0]["base"] == "nvidia/cuda:12.8.1-devel-ubuntu22.04"
    assert built["referenced_by"] == [{"file": "deploy/compose.yaml", "line": 3, "service": "tts"}]
    assert (
        ghost["path"] == "deploy/nowhere/Dockerfile" and ghost["error"]["message"] == "no such file"
    )
    assert "PlantedBuildArg" not in json.dumps(facts)


def test_inline_dockerfile_lines_count_in_the_compose_file(
    tmp_path: Path, make_ctx: MakeCtx
) -> None:
    """dockerfile_inline is parsed, its lines counted where they sit in the compose file."""
    write(
        tmp_path,
        {
            "compose.yaml": (
                "services:\n"
                "  tts:\n"
                "    build:\n"
                "      dockerfile_inline: |\n"
                "        FROM nvidia/cuda:12.8.1-runtime-ubuntu22.04\n"
                "        RUN cargo install moshi-server\n"
            )
        },
    )
    facts = run(make_ctx, tmp_path)
    inline = facts["dockerfiles"][0]
    assert inline["path"] == "compose.yaml" and inline["inline"]
    assert [i["line"] for i in inline["instructions"]] == [5, 6]


def test_scripts_are_followed_through_copies(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """ENTRYPOINT/RUN scripts resolve through COPY, WORKDIR and stages; CRLF lines recorded."""
    write(
        tmp_path,
        {
            "Dockerfile": (
                "FROM nvidia/cuda:12.8.1-devel-ubuntu22.04 AS base\n"
                "WORKDIR /app\n"
                "COPY scripts/ ./scripts/\n"
                "COPY install.sh /opt/\n"
                "RUN bash /opt/install.sh\n"
                "COPY bin/*.sh /usr/local/bin/\n"
                "FROM base\n"
                "COPY <<EOF /app/inline.sh\n"
                "#!/bin/sh\n"
                "exec moshi-server worker\n"
                "EOF\n"
                'ENTRYPOINT ["./scripts/start.sh"]\n'
                'CMD ["/usr/local/bin/run.sh", "/app/inline.sh"]\n'
            ),
            "scripts/start.sh": b"#!/bin/bash\r\ncargo install moshi-server\r\n",
            "install.sh": "#!/bin/sh\npip install --token hf_PlantedScriptSecret012345 x\n",
            "bin/run.sh": '#!/bin/sh\nexec /root/.cargo/bin/moshi-server "$@"\n',
            "unrelated.sh": b"#!/bin/sh\r\n",
        },
    )
    facts = run(make_ctx, tmp_path)
    scripts = {s["label"]: s for s in facts["scripts"]}
    start = scripts["scripts/start.sh"]
    assert (start["run_at"], start["crlf_line"], start["container_path"]) == (
        "start",
        1,
        "/app/scripts/start.sh",
    )
    assert start["commands"] == [{"line": 2, "text": "cargo install moshi-server"}]
    assert scripts["install.sh"]["run_at"] == "build"
    assert scripts["bin/run.sh"]["run_at"] == "start"
    inline = scripts["COPY on line 8 (heredoc EOF)"]
    assert inline["path"] == "Dockerfile" and inline["commands"][0]["line"] == 10
    assert "unrelated.sh" not in scripts
    assert "PlantedScript" not in json.dumps(facts)


def test_bind_mounted_script_of_a_service(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """A compose command running a bind-mounted script reads that script from the host."""
    write(
        tmp_path,
        {
            "docker-compose.yml": (
                "services:\n"
                "  tts:\n"
                "    image: nvidia/cuda:12.8.1-devel-ubuntu22.04\n"
                "    volumes:\n"
                "      - ./run:/run-scripts:ro\n"
                "    command: bash /run-scripts/tts.sh\n"
            ),
            "run/tts.sh": b"#!/bin/bash\r\nmoshi-server worker\r\n",
        },
    )
    facts = run(make_ctx, tmp_path)
    (script,) = facts["scripts"]
    assert script["path"] == "run/tts.sh" and script["crlf_line"] == 1
    assert script["referenced_by"] == [{"file": "docker-compose.yml", "line": 6, "service": "tts"}]


def test_kyutai_unmute_shape(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """Kyutai's unmute layout: the compose build, its Dockerfile and its start script."""
    shutil.copytree(DATA / "unmute", tmp_path / "unmute")
    facts = run(make_ctx, tmp_path / "unmute")
    assert [d["path"] for d in facts["dockerfiles"]] == [
        "services/moshi-server/public.Dockerfile",
        "frontend/Dockerfile",
    ]
    (script,) = facts["scripts"]
    assert script["path"] == "services/moshi-server/dockerless/start_moshi_server_public.sh"
    assert script["crlf_line"] is None and script["run_at"] == "start"
    assert len(facts["dockerfiles"][0]["referenced_by"]) == 2  # tts and stt build it


def test_compact_view(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """compact() names the files and the CRLF scripts only."""
    write(
        tmp_path,
        {
            "Dockerfile": 'FROM ubuntu\nCOPY s.sh /\nCMD ["/s.sh"]\n',
            "s.sh": b"#!/bin/sh\r\n",
            "compose.yaml": "a: b: c\n",
        },
    )
    view = files.compact(run(make_ctx, tmp_path))
    assert view == {
        "source": "discovered",
        "dockerfiles": ["Dockerfile"],
        "compose_files": [
            "compose.yaml (line 1: YAML error: mapping values are not allowed in this context)"
        ],
        "scripts": ["s.sh (CRLF from line 1)"],
    }
