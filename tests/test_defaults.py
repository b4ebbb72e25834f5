"""Project defaults (kyudoctor.toml, [tool.kyudoctor]): real files in a temporary project, the
parser of the real CLI, and the installed command for what a user sees."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kyudoctor import defaults
from kyudoctor.cli import build_parser
from kyudoctor.errors import UsageError

KYUDOCTOR = str(Path(sys.executable).parent / "kyudoctor")
PLANTED = "kyu-PLANTED-9f8e7d6c5b4a"


def parse(
    project: Path, *args: str, command: str = "check", parser: argparse.ArgumentParser | None = None
) -> argparse.Namespace:
    """Parse ``kyudoctor COMMAND ARGS`` as main() does, in ``project``."""
    return defaults.parse_args(
        parser or build_parser(only=command), [command, *args], command, cwd=project
    )


def write(project: Path, text: str, name: str = "kyudoctor.toml") -> Path:
    """A project file as a user writes it."""
    path = project / name
    path.write_text(text, encoding="utf-8")
    return path


def kyudoctor(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed command, run in ``project``."""
    full_env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"} | env
    return subprocess.run(
        [KYUDOCTOR, *args],
        cwd=project,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# --- values ----------------------------------------------------------------------------------


def test_no_file_changes_nothing(tmp_path: Path) -> None:
    """Without a project file the namespace is argparse's own."""
    plain = build_parser(only="check").parse_args(["check"])
    ns = parse(tmp_path)
    assert vars(ns).keys() == vars(plain).keys()
    assert {k: v for k, v in vars(ns).items() if k != "handler"} == {
        k: v for k, v in vars(plain).items() if k != "handler"
    }


@pytest.mark.parametrize(
    ("text", "attr", "expected"),
    [
        ('ignore = ["PY004"]', "ignore", ["PY004"]),
        ('ignore = "PY004,PY001"', "ignore", ["PY004,PY001"]),  # split by check like --ignore
        ("ignore = []", "ignore", []),
        ('select = ["TORCH", "GPU001"]', "select", ["TORCH", "GPU001"]),
        ('only = "host"', "only", ["host"]),
        ('fail-on = "warning"', "fail_on", "warning"),
        (
            'url = "ws://10.0.0.5:8080/api/tts_streaming"',
            "url",
            ["ws://10.0.0.5:8080/api/tts_streaming"],
        ),
        (
            'url = ["ws://a:1/api/tts_streaming", "wss://b/api/tts_streaming"]',
            "url",
            ["ws://a:1/api/tts_streaming", "wss://b/api/tts_streaming"],
        ),
        ("timeout = 20", "timeout", 20.0),
        ("timeout = 2.5", "timeout", 2.5),
        ('timeout = "20"', "timeout", 20.0),
        ("wait = 0", "wait", 0.0),
        ("insecure = true", "insecure", True),
        ("insecure = false", "insecure", False),
        ("verbose = true", "verbose", True),
        ('format = "junit"', "format", "junit"),
        (
            'voice = "expresso/ex03-ex01_happy_001_channel1_334s.wav"',
            "voice",
            "expresso/ex03-ex01_happy_001_channel1_334s.wav",
        ),
        ("ttfa-max = 0.5", "ttfa_max", 0.5),
    ],
)
def test_values(tmp_path: Path, text: str, attr: str, expected: Any) -> None:
    """Each key sets its option exactly as typing it would."""
    write(tmp_path, f"# kyudoctor defaults\n{text}\n")
    ns = parse(tmp_path)
    assert getattr(ns, attr) == expected
    assert ns.project_defaults == str(tmp_path / "kyudoctor.toml")


@pytest.mark.parametrize(
    ("text", "attr", "expected"),
    [
        ('python = ".venv/bin/python"', "python", "{project}/.venv/bin/python"),
        ('pyproject = "../moshi/pyproject.toml"', "pyproject", "{project}/../moshi/pyproject.toml"),
        ('output = "reports/kyudoctor.xml"', "output", "{project}/reports/kyudoctor.xml"),
        ('config = "configs/config-tts.toml"', "config", "{project}/configs/config-tts.toml"),
        ('dockerfile = "Dockerfile.gpu"', "dockerfile", ["{project}/Dockerfile.gpu"]),
        (
            'compose = ["compose.yaml", "/srv/x.yml"]',
            "compose",
            ["{project}/compose.yaml", "/srv/x.yml"],
        ),
        ('cacert = "/etc/ssl/ca.pem"', "cacert", "/etc/ssl/ca.pem"),
        ('cacert = "~/ca.pem"', "cacert", "{home}/ca.pem"),
    ],
)
def test_paths_are_relative_to_the_file(
    tmp_path: Path, text: str, attr: str, expected: str | list[str]
) -> None:
    """Path options resolve against the file's directory, not wherever argparse would."""
    write(tmp_path, text + "\n")
    ns = parse(tmp_path)
    fill = {"project": tmp_path, "home": Path.home()}
    if isinstance(expected, list):
        assert getattr(ns, attr) == [e.format(**fill) for e in expected]
    else:
        assert getattr(ns, attr) == expected.format(**fill)


# --- the command line wins ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "args", "attr", "expected"),
    [
        ('fail-on = "warning"', ["--fail-on", "error"], "fail_on", "error"),
        ('ignore = ["PY004"]', ["--ignore", "PY001"], "ignore", ["PY001"]),  # replaces
        (
            'ignore = ["PY004"]',
            ["--ignore", "PY001", "--ignore", "CXX005"],
            "ignore",
            ["PY001", "CXX005"],
        ),
        ('url = "ws://a:1/api/tts_streaming"', ["--url", "ws://b:2/x"], "url", ["ws://b:2/x"]),
        ("timeout = 20", ["--timeout", "5"], "timeout", 5.0),
        ('format = "junit"', ["--format", "json"], "format", "json"),
        ("quiet = true", ["-v"], "quiet", False),
        ("quiet = true", ["--verbose"], "verbose", True),
        ("verbose = true", ["-q"], "verbose", False),
        (
            'python = "venv/bin/python"',
            ["--python", "/usr/bin/python3"],
            "python",
            "/usr/bin/python3",
        ),
    ],
)
def test_command_line_wins(
    tmp_path: Path, text: str, args: list[str], attr: str, expected: Any
) -> None:
    """An option on the command line overrides the file's; a list replaces the file's list."""
    write(tmp_path, text + "\n")
    assert getattr(parse(tmp_path, *args), attr) == expected


def test_other_options_keep_the_file_values(tmp_path: Path) -> None:
    """Overriding one option leaves the file's other options in force."""
    write(tmp_path, 'fail-on = "warning"\nignore = ["PY004"]\nquiet = true\n')
    ns = parse(tmp_path, "--fail-on", "never")
    assert (ns.fail_on, ns.ignore, ns.quiet, ns.verbose) == ("never", ["PY004"], True, False)


def test_parser_defaults_are_restored(tmp_path: Path) -> None:
    """Parsing with a project file leaves the parser as built (it can parse again without it)."""
    write(tmp_path, 'fail-on = "warning"\nignore = ["PY004"]\n')
    parser = build_parser(only="check")
    parse(tmp_path, parser=parser)
    again = parser.parse_args(["check"])
    assert (again.fail_on, again.ignore) == ("error", [])


# --- mistakes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('fail_on = "warning"', "kyudoctor.toml: unknown key 'fail_on' (did you mean 'fail-on'?)"),
        ('colour = "never"', "kyudoctor.toml: unknown key 'colour'; the keys are the long options"),
        ("help = true", "kyudoctor.toml: unknown key 'help'"),
        ("fail-on = 1", "kyudoctor.toml: fail-on: must be a string, not a number"),
        (
            'fail-on = "warnings"',
            "kyudoctor.toml: fail-on: 'warnings' is not one of error, warning, never",
        ),
        (
            "ignore = [1]",
            "kyudoctor.toml: ignore: must be a string or an array of strings, not an array",
        ),
        (
            "ignore = {PY004 = true}",
            "kyudoctor.toml: ignore: must be a string or an array of strings, not a table",
        ),
        ('insecure = "yes"', "kyudoctor.toml: insecure: must be true or false, not a string"),
        ("timeout = true", "kyudoctor.toml: timeout: must be a number or a string, not a boolean"),
        ("timeout = 0", "kyudoctor.toml: timeout: must be between 0 and 3600 seconds: '0'"),
        ('timeout = "soon"', "kyudoctor.toml: timeout: not a number: 'soon'"),
        (
            "timeout = 1979-05-27",
            "kyudoctor.toml: timeout: must be a number or a string, not a date or time",
        ),
        (
            'format = "xml"',
            "kyudoctor.toml: format: 'xml' is not one of console, json, markdown, junit, github",
        ),
        ("verbose = true\nquiet = true", "kyudoctor.toml: quiet and verbose exclude each other"),
        ("python = 3", "kyudoctor.toml: python: must be a string, not a number"),
    ],
)
def test_mistakes_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    """Unknown keys, wrong types and values outside the choices name the file and the key."""
    write(tmp_path, text + "\n")
    with pytest.raises(UsageError) as info:
        parse(tmp_path)
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"ignore = [\n", "kyudoctor.toml:2:1: invalid TOML:"),
        (b'fail-on = "warning"\nignore = ["PY004"\n', "kyudoctor.toml:3:1: invalid TOML:"),
        (b'fail-on = "warning\n', "kyudoctor.toml:1:19: invalid TOML:"),
        (b"a = 1\na = 2\n", "kyudoctor.toml:2:6: invalid TOML: Cannot overwrite a value"),
        (b"[only\n", "kyudoctor.toml:1:6: invalid TOML:"),
        (b"fail-on = 'warning'\r\nx = \x01\r\n", "kyudoctor.toml:2:5: invalid TOML:"),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00",
            "kyudoctor.toml: binary content (NUL bytes): not a TOML file",
        ),
        (b"ignore = ['\xe9']\n", "kyudoctor.toml: not UTF-8 text (byte 0xe9 at offset 11)"),
        (b"# " + b"x" * (defaults.MAX_BYTES + 1), "kyudoctor.toml: larger than 1024 KiB"),
    ],
)
def test_broken_files(tmp_path: Path, content: bytes, message: str) -> None:
    """Broken TOML names file:line:col; binary, non-UTF-8 and huge files are refused."""
    (tmp_path / "kyudoctor.toml").write_bytes(content)
    with pytest.raises(UsageError) as info:
        parse(tmp_path)
    assert str(info.value).startswith(message), str(info.value)


def test_a_directory_named_kyudoctor_toml(tmp_path: Path) -> None:
    """A directory in the file's place is an error, not a traceback."""
    (tmp_path / "kyudoctor.toml").mkdir()
    with pytest.raises(UsageError, match=r"^kyudoctor.toml: is a directory$"):
        parse(tmp_path)


@pytest.mark.parametrize(
    "content",
    [
        b'\xef\xbb\xbffail-on = "warning"\n',  # a BOM, as Windows editors write
        b'# comment\r\nfail-on = "warning"   # trailing comment\r\n',  # CRLF
        b'\tfail-on\t=\t"warning"\n',  # tabs
        b'"fail-on" = "warning"\n',  # a quoted key
    ],
)
def test_files_as_users_write_them(tmp_path: Path, content: bytes) -> None:
    """BOM, CRLF, tabs, comments and quoted keys are read like any TOML."""
    (tmp_path / "kyudoctor.toml").write_bytes(content)
    assert parse(tmp_path).fail_on == "warning"


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=200) | st.text(max_size=200).map(lambda t: t.encode("utf-8", "replace")))
def test_any_bytes_never_raise_anything_else(tmp_path: Path, content: bytes) -> None:
    """Whatever the file holds, the result is a namespace or one UsageError."""
    (tmp_path / "kyudoctor.toml").write_bytes(content)
    try:
        parse(tmp_path)
    except UsageError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("kyudoctor.toml")
    except SystemExit:  # argparse's own verdict on a value (never expected from a file)
        pytest.fail("argparse exited")


# --- secrets -----------------------------------------------------------------------------------


def test_api_key_is_refused_without_echo(tmp_path: Path) -> None:
    """api-key in a project file is exit 2 pointing at KYUTAI_API_KEY, never showing the key."""
    write(tmp_path, f'api-key = "{PLANTED}"\n')
    result = kyudoctor(tmp_path, "check", "--only", "host")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "KYUTAI_API_KEY" in result.stderr
    assert result.stderr.startswith("kyudoctor: kyudoctor.toml: api-key: ")
    assert PLANTED not in result.stdout + result.stderr
    assert PLANTED[4:12] not in result.stdout + result.stderr


def test_api_key_in_pyproject_is_refused_too(tmp_path: Path) -> None:
    """The same refusal under [tool.kyudoctor], without the value."""
    write(tmp_path, f'[tool.kyudoctor]\napi-key = "{PLANTED}"\n', "pyproject.toml")
    with pytest.raises(UsageError) as info:
        parse(tmp_path)
    assert "pyproject.toml [tool.kyudoctor]: api-key:" in str(info.value)
    assert PLANTED not in str(info.value)


# --- which file --------------------------------------------------------------------------------


PYPROJECT = """\
[project]
name = "tts-deploy"
version = "1.0"

[tool.ruff]
line-length = 100

[tool.kyudoctor]
fail-on = "warning"
ignore = ["PY004"]
"""


def test_pyproject_tool_table(tmp_path: Path) -> None:
    """[tool.kyudoctor] in the project's pyproject.toml gives the defaults."""
    write(tmp_path, PYPROJECT, "pyproject.toml")
    ns = parse(tmp_path)
    assert (ns.fail_on, ns.ignore) == ("warning", ["PY004"])
    assert ns.project_defaults == str(tmp_path / "pyproject.toml")


def test_kyudoctor_toml_wins_over_pyproject(tmp_path: Path) -> None:
    """With both files, kyudoctor.toml is used and pyproject.toml is not even read."""
    write(tmp_path, PYPROJECT + "bogus-key = 1\n", "pyproject.toml")
    write(tmp_path, 'fail-on = "never"\n')
    ns = parse(tmp_path)
    assert (ns.fail_on, ns.ignore) == ("never", [])


@pytest.mark.parametrize(
    "text",
    [
        '[project]\nname = "x"\n',  # no tool table
        "[tool.ruff]\nline-length = 100\n",  # other tools only
        '[project\nname = "moshi-server"\n',  # broken, and nothing of kyudoctor's in it
    ],
)
def test_pyproject_without_our_table(tmp_path: Path, text: str) -> None:
    """A pyproject.toml with no [tool.kyudoctor] (even a broken one that never mentions kyudoctor)
    gives no defaults and no error."""
    write(tmp_path, text, "pyproject.toml")
    assert parse(tmp_path).fail_on == "error"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[tool.kyudoctor]\nfail-on = "warning\n', "pyproject.toml:2:19: invalid TOML:"),
        ("[tool]\nkyudoctor = 3\n", "pyproject.toml [tool.kyudoctor]: must be a table of options"),
        (
            "[tool.kyudoctor]\nfail_on = 'warning'\n",
            "pyproject.toml [tool.kyudoctor]: unknown key 'fail_on'",
        ),
    ],
)
def test_pyproject_mistakes(tmp_path: Path, text: str, message: str) -> None:
    """Mistakes in [tool.kyudoctor] name the pyproject.toml and its table."""
    write(tmp_path, text, "pyproject.toml")
    with pytest.raises(UsageError) as info:
        parse(tmp_path)
    assert str(info.value).startswith(message), str(info.value)


def test_moshi_pyproject_option_is_another_file(tmp_path: Path) -> None:
    """The `pyproject` key (moshi-server's requirements) is a path, unrelated to where
    [tool.kyudoctor] lives."""
    write(
        tmp_path,
        '[tool.kyudoctor]\npyproject = "moshi/rust/moshi-server/pyproject.toml"\n',
        "pyproject.toml",
    )
    ns = parse(tmp_path)
    assert ns.pyproject == str(tmp_path / "moshi/rust/moshi-server/pyproject.toml")


# --- other commands ------------------------------------------------------------------------------


def test_load_takes_the_shared_keys_only(tmp_path: Path) -> None:
    """`load` takes url, fail-on and TLS from the file (its required --url is satisfied), but not
    check's format, output, timeout or text."""
    write(
        tmp_path,
        'url = "ws://10.1.2.3:8080/api/tts_streaming"\nfail-on = "warning"\ninsecure = true\n'
        'format = "junit"\noutput = "check.xml"\ntimeout = 20\ntext = "check text"\n',
    )
    ns = parse(tmp_path, command="load")
    assert ns.url == "ws://10.1.2.3:8080/api/tts_streaming"
    assert (ns.fail_on, ns.insecure) == ("warning", True)
    assert (ns.format, ns.output, ns.timeout) == ("console", None, 30.0)
    assert ns.text != "check text"


def test_load_with_several_urls_asks_for_one(tmp_path: Path) -> None:
    """Several urls (check's list) cannot be load's one --url: load asks for it as without a file."""
    write(tmp_path, 'url = ["ws://a:1/api/tts_streaming", "ws://b:1/api/tts_streaming"]\n')
    with pytest.raises(SystemExit):
        parse(tmp_path, command="load")
    assert parse(tmp_path, "--url", "ws://c:1/x", command="load").url == "ws://c:1/x"


def test_bundle_takes_every_key(tmp_path: Path) -> None:
    """`bundle` runs check's own options, so every key applies to it."""
    parser = build_parser(only="bundle")
    if "bundle" not in defaults._commands(parser):
        pytest.skip("no bundle command in this tree yet")
    write(tmp_path, 'format = "markdown"\ntimeout = 20\nignore = "PY004"\n')
    ns = parse(tmp_path, command="bundle", parser=parser)
    assert (ns.format, ns.timeout, ns.ignore) == ("markdown", 20.0, ["PY004"])


def test_a_new_check_option_is_a_key(tmp_path: Path) -> None:
    """Keys come from check's parser: an option added there is a key with no other change."""
    parser = build_parser(only="check")
    sub = defaults._commands(parser)["check"]
    sub.add_argument("--dockerfile-x", metavar="FILE")
    sub.add_argument("--retries-x", type=int, default=1)
    write(tmp_path, 'dockerfile-x = "docker/Dockerfile"\nretries-x = 3\n')
    ns = parse(tmp_path, parser=parser)
    assert (ns.dockerfile_x, ns.retries_x) == (str(tmp_path / "docker/Dockerfile"), 3)


def test_explain_runs_whatever_the_file(tmp_path: Path) -> None:
    """Commands without check's options (explain) never read the file, broken or not."""
    (tmp_path / "kyudoctor.toml").write_bytes(b"fail-on = [\n")
    result = kyudoctor(tmp_path, "explain", "GPU001")
    assert result.returncode == 0 and "GPU001" in result.stdout


# --- the installed command ---------------------------------------------------------------------


def test_cli_applies_the_file(tmp_path: Path) -> None:
    """`kyudoctor check` in a project runs with the file's options: format, fail-on, ignore."""
    write(tmp_path, 'format = "json"\nfail-on = "never"\nonly = "env.platform"\n')
    result = kyudoctor(tmp_path, "check")
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["fail_on"] == "never"
    assert [c["id"] for c in report["checks"]] == ["env.platform"]


def test_cli_error_is_one_line_exit_2(tmp_path: Path) -> None:
    """A broken project file stops `check` with one line naming file:line:col, exit 2."""
    write(tmp_path, 'ignore = ["PY004"\nfail-on = "warning"\n')
    result = kyudoctor(tmp_path, "check")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("kyudoctor: kyudoctor.toml:2:1: invalid TOML: ")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_cli_value_reaches_the_check(tmp_path: Path) -> None:
    """A value from the file is judged like a typed one (an unknown group is check's exit 2)."""
    write(tmp_path, 'only = "gpus"\n')
    result = kyudoctor(tmp_path, "check")
    assert result.returncode == 2
    assert "unknown group or check id 'gpus'" in result.stderr
