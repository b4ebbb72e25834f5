"""kyudoctor.dockerfile: BuildKit's parsing rules, line numbers, substitution, redaction."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kyudoctor.dockerfile import (
    DockerfileError,
    expand,
    parse,
    redact,
    runtime,
    split_commands,
    to_facts,
)
from tests.conftest import REPO

DATA = REPO / "tests" / "data" / "docker"

CONTINUED = """\
FROM ubuntu:22.04
RUN apt-get update && apt-get install -y \\
    curl \\
    # a comment inside the continuation is dropped
\tgit \\

    cmake
CMD ["bash"]
"""


def test_continuations_join_lines_and_keep_the_first_line_number() -> None:
    """Continued lines join, comments and blank lines inside are dropped, lines are physical."""
    df = parse(CONTINUED)
    run = df.instructions[1]
    assert (run.keyword, run.line, run.end_line) == ("RUN", 2, 7)
    assert run.text.split() == "apt-get update && apt-get install -y curl git cmake".split()
    assert df.instructions[2].line == 8


def test_crlf_and_bom_parse_like_lf() -> None:
    """A CRLF file with a UTF-8 BOM gives the same instructions and lines as the LF file."""
    windows = "\ufeff" + CONTINUED.replace("\n", "\r\n")
    lf, crlf = parse(CONTINUED), parse(windows)
    assert [(i.keyword, i.line, i.text) for i in crlf.instructions] == [
        (i.keyword, i.line, i.text) for i in lf.instructions
    ]
    assert crlf.bom and crlf.crlf and not lf.bom


def test_backtick_escape_directive() -> None:
    """`# escape=`` makes the backtick the continuation character; backslashes are literal."""
    df = parse("# escape=`\nFROM mcr.microsoft.com/windows\nRUN dir C:\\ `\n    && echo done\n")
    assert df.escape == "`"
    assert df.instructions[1].text.split() == ["dir", "C:\\", "&&", "echo", "done"]


def test_directives_only_at_the_top() -> None:
    """A directive after a comment is an ordinary comment."""
    df = parse("# hello\n# escape=`\nFROM scratch\n")
    assert df.escape == "\\" and df.directives == {}


@pytest.mark.parametrize(
    ("line", "form", "exec_words"),
    [
        ('CMD ["moshi-server", "worker"]', "exec", ("moshi-server", "worker")),
        ("CMD moshi-server worker", "shell", None),
        ("CMD ['moshi-server']", "shell", None),  # single quotes are not JSON: shell form
        ('ENTRYPOINT ["a", 1]', "shell", None),  # not all strings: shell form, as Docker does
        ('RUN ["/bin/sh", "-c", "echo hi"]', "exec", ("/bin/sh", "-c", "echo hi")),
    ],
)
def test_exec_and_shell_forms(line: str, form: str, exec_words: tuple[str, ...] | None) -> None:
    """A JSON array of strings is exec form; anything else is shell form."""
    ins = parse(f"FROM scratch\n{line}\n").instructions[1]
    assert ins.exec_form == exec_words
    assert to_facts(parse(f"FROM scratch\n{line}\n"))["instructions"][1]["form"] == form


def test_heredocs_keep_bodies_and_lines() -> None:
    """Heredoc bodies (plain, <<- with tabs, quoted, two on a line) belong to their instruction."""
    text = (
        "FROM ubuntu\n"
        "RUN <<EOF\n"
        "cargo install --features cuda moshi-server\n"
        "EOF\n"
        "COPY <<-'A' <<\"B\" /app/\n"
        "\techo a\n"
        "\tA\n"
        "echo b\n"
        "B\n"
        'CMD ["/app/A"]\n'
    )
    df = parse(text)
    run, copy, cmd = df.instructions[1:]
    assert run.heredocs[0].text == "cargo install --features cuda moshi-server"
    assert (run.line, run.end_line, run.heredocs[0].line) == (2, 4, 3)
    assert [(h.name, h.text) for h in copy.heredocs] == [("A", "echo a"), ("B", "echo b")]
    assert (copy.end_line, cmd.line) == (9, 10)


def test_multi_stage_names_parents_and_flags() -> None:
    """Stages keep names (case-insensitive), their parent stage, and COPY --from flags."""
    df = parse(
        "FROM rust:1.85 AS Builder\n"
        "RUN cargo install moshi-server\n"
        "FROM builder AS test\n"
        "FROM --platform=linux/amd64 nvidia/cuda:12.8.1-runtime-ubuntu22.04\n"
        "COPY --from=builder --chmod=755 /usr/local/cargo/bin/moshi-server /usr/local/bin/\n"
    )
    assert [(s.name, s.parent, s.line) for s in df.stages] == [
        ("builder", None, 1),
        ("test", 0, 3),
        (None, None, 4),
    ]
    assert df.stages[2].platform == "linux/amd64"
    assert df.instructions[-1].flags == {"from": "builder", "chmod": "755"}
    assert df.stage_named("BUILDER") is df.stages[0]


@pytest.mark.parametrize(
    ("text", "build_args", "base", "unresolved"),
    [
        ("ARG V=12.8.1\nFROM nvidia/cuda:${V}-devel\n", None, "nvidia/cuda:12.8.1-devel", ()),
        (
            "ARG V=12.8.1\nFROM nvidia/cuda:$V-devel\n",
            {"V": "13.0.0"},
            "nvidia/cuda:13.0.0-devel",
            (),
        ),
        ("FROM nvidia/cuda:${V:-12.4.1}-devel\n", None, "nvidia/cuda:12.4.1-devel", ()),
        ("FROM nvidia/cuda:${V}-devel\n", None, "nvidia/cuda:-devel", ("V",)),
        (
            "ARG A=12\nARG B=${A}.8.1\nFROM nvidia/cuda:${B}-devel\n",
            None,
            "nvidia/cuda:12.8.1-devel",
            (),
        ),
    ],
)
def test_arg_substitution_in_from(
    text: str, build_args: dict[str, str] | None, base: str, unresolved: tuple[str, ...]
) -> None:
    """ARG before FROM (overridable by build args), defaults and unset variables in FROM."""
    stage = parse(text, build_args=build_args).stages[0]
    assert stage.base == base
    assert stage.unresolved == unresolved


def test_env_and_arg_substitution_where_docker_applies_it() -> None:
    """WORKDIR and COPY see ENV/ARG values; RUN text is left for the shell."""
    df = parse(
        "FROM ubuntu\n"
        "ARG APP=/srv\n"
        "ENV HOME_DIR=${APP}/tts\n"
        "WORKDIR $HOME_DIR\n"
        "WORKDIR sub\n"
        "COPY start.sh ${HOME_DIR}/bin/\n"
        "RUN echo $HOME_DIR\n"
    )
    workdir, copy, run = df.instructions[4], df.instructions[5], df.instructions[6]
    assert workdir.workdir == "/srv/tts/sub"
    assert copy.expanded == "start.sh /srv/tts/bin/"
    assert run.text == "echo $HOME_DIR" and run.expanded is None


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("FROM ubuntu\nRUNN apt-get update\n", 2, "unknown instruction: RUNN"),
        ("# comment\nRUN echo\nFROM ubuntu\n", 2, "before the first FROM"),
        ("FROM ubuntu\nRUN <<EOF\necho\n", 2, "never closed"),
        ("# escape=x\nFROM ubuntu\n", 1, "invalid escape"),
        ("", 1, "no instructions"),
        ("# only a comment\n\n", 1, "no instructions"),
        ("FROM a b\n", 1, "one or three arguments"),
        ("FROM ubuntu\nRUN\n", 2, "at least one argument"),
        ("FROM ubuntu\nHEALTHCHECK --start-period 10m CMD true\n", 2, "CMD or NONE"),
        ("FROM ubuntu\nSHELL /bin/bash -c\n", 2, "JSON array"),
        ("FROM ubuntu\nRUN echo \x00\n", 2, "binary content"),
        ("ARG X=1\n", 1, "no FROM"),
        ("FROM ubuntu\nENV NAME\n", 2, "has no value"),
    ],
)
def test_errors_docker_reports_carry_the_line(text: str, line: int, message: str) -> None:
    """What Docker refuses raises DockerfileError with the line."""
    with pytest.raises(DockerfileError) as caught:
        parse(text)
    assert caught.value.line == line
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("text", "entrypoint", "cmd"),
    [
        ('FROM a\nENTRYPOINT ["x"]\nCMD ["y"]\n', 2, 3),
        ('FROM a AS base\nCMD ["y"]\nFROM base\nENTRYPOINT ["x"]\n', 4, None),
        ('FROM a AS base\nENTRYPOINT ["x"]\nFROM base\nCMD ["y"]\n', 2, 4),
        ('FROM a\nCMD ["old"]\nCMD ["new"]\n', None, 3),
        ('FROM a AS one\nCMD ["one"]\nFROM b\nRUN true\n', None, None),
    ],
)
def test_runtime_follows_the_stage_chain(
    text: str, entrypoint: int | None, cmd: int | None
) -> None:
    """The ENTRYPOINT and CMD in force: last wins, a later-stage ENTRYPOINT resets CMD."""
    facts = runtime(parse(text))
    assert (facts["entrypoint_line"], facts["cmd_line"]) == (entrypoint, cmd)


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        ("${A:-x}-${B:+y}-${C-z}", {"B": "1"}, "x-y-z"),
        ("${A:-${B}}", {"B": "nested"}, "nested"),
        ("'$A' \\$A $A", {"A": "v"}, "'$A' $A v"),
        ("$1 $ ${", {}, "$1 $ ${"),
    ],
)
def test_expand(text: str, variables: dict[str, str], expected: str) -> None:
    """Docker's substitution forms, quotes and escapes."""
    assert expand(text, variables) == expected


def test_split_commands() -> None:
    """Shell text splits into simple commands at && ; | and newlines; comments go."""
    assert split_commands("a b && c 'd e' | f ; g\n# no\nh") == [
        ["a", "b"],
        ["c", "d e"],
        ["f"],
        ["g"],
        ["h"],
    ]


SECRET = "hf_PlantedSecretValue0123456789"


@pytest.mark.parametrize(
    "text",
    [
        f"ENV HF_TOKEN={SECRET}",
        f"ENV HUGGING_FACE_HUB_TOKEN {SECRET}",
        f'ARG KYUTAI_API_KEY="{SECRET}"',
        f"RUN huggingface-cli login --token {SECRET}",
        f"RUN huggingface-cli login --token={SECRET}",
        f"RUN curl -H 'kyutai-api-key: {SECRET}' http://localhost:8080",
        f"RUN curl -H 'Authorization: Bearer {SECRET}' http://x",
        f"RUN git clone https://user:{SECRET}@github.com/x/y",
        f"RUN curl 'ws://h:8080/api/tts_streaming?auth_id={SECRET}'",
        f"RUN echo {SECRET} > /root/.cache/huggingface/token",
    ],
)
def test_redact_hides_planted_secrets(text: str) -> None:
    """Every place a secret hides in a Dockerfile line is masked, references are kept."""
    assert SECRET not in redact(text)
    assert "***" in redact(text)


def test_redact_keeps_references_and_ordinary_values() -> None:
    """$VAR references and ordinary variables stay readable."""
    text = "ENV HF_TOKEN=$HF_TOKEN CUDA_VISIBLE_DEVICES=0 PATH=/root/.cargo/bin:$PATH"
    assert redact(text) == text


def test_facts_are_json_and_redacted() -> None:
    """to_facts gives JSON types only and no planted secret."""
    text = (DATA / "handmade" / "Dockerfile").read_bytes().decode("utf-8")
    facts = to_facts(parse(text))
    dumped = json.dumps(facts)
    assert "hf_PlantedDockerSecret" not in dumped
    assert facts["bom"] and facts["crlf"]
    assert facts["stages"][0]["base"] == "nvidia/cuda:12.4.1-runtime-ubuntu22.04"


@pytest.mark.parametrize(
    ("path", "bases"),
    [
        (
            "unmute/services/moshi-server/public.Dockerfile",
            ["nvidia/cuda:12.8.1-devel-ubuntu22.04"],
        ),
        ("dsm/Dockerfile", ["nvidia/cuda:12.8.1-devel-ubuntu22.04"]),
        ("handmade/Dockerfile", ["nvidia/cuda:12.4.1-runtime-ubuntu22.04"]),
    ],
)
def test_real_shapes_parse(path: str, bases: list[str]) -> None:
    """Kyutai's image shapes and a hand-written CRLF/BOM/heredoc Dockerfile parse."""
    df = parse((DATA / path).read_bytes().decode("utf-8"))
    assert [s.base for s in df.stages] == bases


DOCKERFILE_WORDS = st.sampled_from(
    [
        "FROM",
        "from",
        "RUN",
        "CMD",
        "ENTRYPOINT",
        "ARG",
        "ENV",
        "COPY",
        "HEALTHCHECK",
        "ONBUILD",
        "SHELL",
        "WORKDIR",
        " AS ",
        "--from=x",
        "--start-period=",
        "<<EOF",
        "<<-EOF",
        "EOF",
        "\\",
        "`",
        "# escape=`",
        "${A:-",
        "$",
        "{",
        "}",
        "[",
        "]",
        '"',
        "'",
        "\n",
        "\r\n",
        "\t",
        " ",
        "\ufeff",
        "\x00",
        "nvidia/cuda:12.8.1-devel",
        "moshi-server",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.lists(DOCKERFILE_WORDS, max_size=60).map("".join)))
def test_parse_never_raises_anything_but_dockerfile_error(text: str) -> None:
    """Any text parses or raises DockerfileError with a positive line; facts are JSON."""
    try:
        df = parse(text)
    except DockerfileError as exc:
        assert exc.line >= 1
        return
    json.dumps(to_facts(df))
