"""Command line: argument parsing and exit codes only.

Exit status (every command): 0 nothing at or above ``--fail-on``; 1 a finding at or above it;
2 bad invocation or unusable input (one line on stderr, no traceback); 3 kyudoctor itself
failed (a check crashed or timed out) and nothing else reached the threshold.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

from kyudoctor import __version__

if TYPE_CHECKING:  # pragma: no cover
    import argparse

    from kyudoctor.model import Report

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
PROG = "kyudoctor"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kyudoctor`` script and ``python -m kyudoctor``."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args in (["--version"], ["-V"]):
        # Fast path: no argparse, no heavy import.
        sys.stdout.write(f"{PROG} {__version__}\n")
        return EXIT_OK
    from kyudoctor.errors import UsageError

    # Only the chosen command's options are built: load and simulate import asyncio and
    # websockets, which other commands do not need.
    command = next((a for a in args if not a.startswith("-")), None)
    parser = build_parser(only=command)
    from kyudoctor import defaults

    try:
        # kyudoctor.toml / [tool.kyudoctor] beneath the command line (see kyudoctor/defaults.py).
        ns = defaults.parse_args(parser, args, command)
    except UsageError as exc:
        _error(str(exc))
        return EXIT_USAGE
    if ns.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        result: int = ns.handler(ns)
        return result
    except UsageError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a bare traceback
        import traceback

        _error(
            f"internal error: {type(exc).__name__}: {exc}; this is a bug in kyudoctor, "
            "please report it (run with -v for the traceback)"
        )
        if getattr(ns, "verbose", False):
            traceback.print_exc()
        return EXIT_INTERNAL


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, the other commands are listed but their options not built."""
    import argparse

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Diagnose Kyutai TTS (moshi-server) deployments: host, toolchain, Python, live server.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = sub.add_parser(
        "check",
        help="run the checks and report problems with their fixes",
        description="Run the checks and report every problem, ranked, with the fix for this machine.",
    )
    check.add_argument(
        "--python",
        metavar="PATH",
        help="interpreter of the environment moshi-server runs with (default: $VIRTUAL_ENV's, else this one)",
    )
    check.add_argument(
        "--pyproject", metavar="FILE", help="moshi-server's pyproject.toml (requirements to verify)"
    )
    check.add_argument(
        "--config",
        metavar="FILE",
        help="moshi-server config TOML to lint and to learn port, path and batch_size from "
        "(default: configs/config-tts.toml, config-tts.toml, or a *.toml with [modules.*] here)",
    )
    check.add_argument(
        "--dockerfile",
        metavar="FILE",
        action="append",
        default=None,
        help="Dockerfile to lint, repeatable (default: Dockerfile* here, unless --compose is given)",
    )
    check.add_argument(
        "--compose",
        metavar="FILE",
        action="append",
        default=None,
        help="compose file to lint, repeatable "
        "(default: docker-compose*.y*ml and compose.y*ml here, unless --dockerfile is given)",
    )
    check.add_argument(
        "--only",
        metavar="GROUPS",
        action="append",
        default=[],
        help="comma list of groups (host, server, files) or check ids to run",
    )
    check.add_argument(
        "--skip",
        metavar="GROUPS",
        action="append",
        default=[],
        help="comma list of groups or check ids not to run",
    )
    check.add_argument(
        "--select",
        metavar="CODES",
        action="append",
        default=None,
        help="comma list of codes or prefixes to report (e.g. TORCH,GPU001)",
    )
    check.add_argument(
        "--ignore",
        metavar="CODES",
        action="append",
        default=[],
        help="comma list of codes or prefixes to ignore (shown with -v, never fail)",
    )
    _add_output_options(check)
    check.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=_positive_float,
        default=10.0,
        help="time limit of each check (default 10)",
    )
    _add_server_options(check)
    check.set_defaults(handler=_cmd_check)
    # `bundle` takes every option of `check` (keep check's own options above this line).
    bundle = sub.add_parser(
        "bundle",
        parents=[check],
        add_help=False,
        help="run the checks and write a redacted support bundle (facts + report) to a file",
        description="Run the checks like `kyudoctor check` and print the report, then write every "
        "fact of every probe plus the report to one redacted JSON file, which "
        "`kyudoctor check --from-bundle FILE` replays offline.",
    )
    bundle.add_argument(
        "-o",
        dest="bundle_file",
        metavar="FILE",
        help="where to write the bundle ('-': standard output; default "
        "kyudoctor-bundle-<host-hash>-<date>.json in the current directory)",
    )
    bundle.add_argument(
        "--no-redact",
        action="store_true",
        help="keep paths, the user name, host names and IP addresses as they are (secrets are "
        "masked anyway); the bundle says so",
    )
    check.add_argument(
        "--from-bundle",
        metavar="FILE",
        help="judge a support bundle's facts instead of probing this machine ('-': stdin)",
    )

    load = sub.add_parser(
        "load",
        help="ramp concurrent TTS sessions against a server and report capacity and latency",
        description="Open sessions at increasing concurrency; report accepted, rejected, "
        "latency and the measured capacity. Every session ends with Eos and a close.",
    )
    if only in (None, "load"):
        from kyudoctor import load as load_command

        load_command.add_arguments(load)
        _add_output_options(load)
    load.set_defaults(handler=_cmd_load)

    simulate = sub.add_parser(
        "simulate",
        help="run a protocol-faithful fake moshi-server (for demos, tests and client CI)",
        description="Serve the moshi-server TTS protocol with synthetic audio; faults reproduce "
        "each server-side symptom on demand. See docs/simulate.md.",
    )
    if only in (None, "simulate"):
        from kyudoctor import simulate as simulate_command

        simulate_command.add_arguments(simulate)
    simulate.set_defaults(handler=_cmd_simulate)

    triage = sub.add_parser(
        "triage",
        help="name the problems in a log or terminal paste, root cause first",
        description="Read a log, a terminal paste or docker logs (any size, any bytes) and name "
        "the problems in it with kyudoctor's codes, most likely root cause first, with the fix.",
    )
    triage.add_argument(
        "file", nargs="?", default="-", metavar="FILE|-", help="the log (default: standard input)"
    )
    triage.add_argument(
        "--format",
        choices=TRIAGE_FORMATS,
        default="console",
        help="output format (default console; markdown is a ticket reply)",
    )
    triage.add_argument(
        "--output",
        metavar="FILE",
        help="write the result to FILE (a summary still goes to the terminal)",
    )
    triage.add_argument(
        "--fail-on",
        choices=("error", "warning", "never"),
        default="error",
        help="lowest severity that makes the exit status 1 (default error)",
    )
    triage.add_argument(
        "--select",
        metavar="CODES",
        action="append",
        default=None,
        help="comma list of codes or prefixes to report (e.g. GPU,TORCH002)",
    )
    triage.add_argument(
        "--ignore",
        metavar="CODES",
        action="append",
        default=[],
        help="comma list of codes or prefixes to ignore (shown with -v, never fail)",
    )
    triage_verbosity = triage.add_mutually_exclusive_group()
    triage_verbosity.add_argument(
        "-v", "--verbose", action="store_true", help="show every evidence line and ignored codes"
    )
    triage_verbosity.add_argument(
        "-q", "--quiet", action="store_true", help="show only the problems' first lines"
    )
    triage.set_defaults(handler=_cmd_triage)

    explain = sub.add_parser(
        "explain",
        help="print the catalog entry of a code",
        description="Print what a code means, how it is detected and how to fix it.",
    )
    explain.add_argument("code", nargs="?", metavar="CODE|SLUG")
    explain.add_argument("--list", action="store_true", help="list every code")
    explain.add_argument("--format", choices=("text", "json"), default="text")
    explain.set_defaults(handler=_cmd_explain)
    return parser


DEFAULT_URL = "ws://127.0.0.1:8080/api/tts_streaming"
DEFAULT_TEXT = (
    "Hello from kyudoctor: this sentence checks that the speech server answers quickly and clearly."
)


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    """Options of the live server checks (group ``server``)."""
    group = parser.add_argument_group("server checks")
    group.add_argument(
        "--url",
        metavar="URL",
        action="append",
        default=None,
        help=f"TTS WebSocket endpoint, repeatable (default {DEFAULT_URL})",
    )
    group.add_argument(
        "--api-key",
        metavar="KEY",
        default=None,
        help="API key sent as kyutai-api-key (default: $KYUTAI_API_KEY, else public_token)",
    )
    group.add_argument("--text", default=DEFAULT_TEXT, help="what the live TTS probe says")
    group.add_argument(
        "--voice", default=None, help="voice of the live TTS probe (default: the server's)"
    )
    group.add_argument(
        "--ttfa-max",
        metavar="S",
        type=_positive_float,
        default=1.0,
        help="time to first audio above this is WS008 (default 1.0)",
    )
    group.add_argument(
        "--rtf-max",
        metavar="X",
        type=_positive_float,
        default=1.0,
        help="real-time factor above this is WS009 (default 1.0)",
    )
    group.add_argument(
        "--cacert",
        metavar="FILE",
        default=None,
        help="CA bundle to verify wss:// servers (default: system trust)",
    )
    group.add_argument(
        "--insecure",
        action="store_true",
        help="do not verify TLS certificates; every report says so",
    )
    group.add_argument(
        "--wait",
        metavar="SECONDS",
        type=_non_negative_float,
        default=0.0,
        help="while the server is still starting (NET006), poll up to this long",
    )


def _non_negative_float(text: str) -> float:
    import argparse

    if text.strip() in ("0", "0.0"):
        return 0.0
    try:
        return _positive_float(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"must be between 0 and 3600 seconds: {text!r}") from None


def _server_options(ns: argparse.Namespace) -> dict[str, Any]:
    """The probe options of the server checks; the key comes from --api-key or the environment."""
    import os

    urls = ns.url or [DEFAULT_URL]
    for url in urls:
        if not url.startswith(("ws://", "wss://")):
            from kyudoctor.errors import UsageError
            from kyudoctor.redact import redact_url

            raise UsageError(f"--url {redact_url(url)}: must start with ws:// or wss://")
    if ns.cacert is not None:
        _require_file("--cacert", ns.cacert)
    return {
        "urls": list(urls),
        "urls_explicit": ns.url is not None,
        "api_key": ns.api_key or os.environ.get("KYUTAI_API_KEY") or "public_token",
        "api_key_source": "--api-key"
        if ns.api_key
        else ("KYUTAI_API_KEY" if os.environ.get("KYUTAI_API_KEY") else "default (public_token)"),
        "text": ns.text,
        "voice": ns.voice,
        "ttfa_max": ns.ttfa_max,
        "rtf_max": ns.rtf_max,
        "cacert": ns.cacert,
        "insecure": ns.insecure,
        "wait": ns.wait,
    }


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    from kyudoctor.report import FORMATS

    parser.add_argument(
        "--format", choices=FORMATS, default="console", help="report format (default console)"
    )
    parser.add_argument(
        "--output",
        metavar="FILE",
        help="write the report to FILE (a summary still goes to the terminal)",
    )
    parser.add_argument(
        "--fail-on",
        choices=("error", "warning", "never"),
        default="error",
        help="lowest severity that makes the exit status 1 (default error)",
    )
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show ok and info lines, facts, timings, tracebacks",
    )
    verbosity.add_argument("-q", "--quiet", action="store_true", help="show only problems")


def _positive_float(text: str) -> float:
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value > 3600:
        raise argparse.ArgumentTypeError(f"must be between 0 and 3600 seconds: {text!r}")
    return value


def _split(values: list[str] | None) -> tuple[str, ...]:
    return tuple(v.strip() for value in values or [] for v in value.split(",") if v.strip())


def _cmd_check(ns: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from kyudoctor import rules
    from kyudoctor.api import CheckOptions, run_check
    from kyudoctor.catalog import UnknownCode
    from kyudoctor.errors import UsageError

    if getattr(ns, "from_bundle", None) is not None:
        return _cmd_replay(ns)
    if ns.python is not None:
        _require_executable("--python", ns.python)
    if ns.pyproject is not None:
        _require_file("--pyproject", ns.pyproject)
    if ns.config is not None:
        _require_file("--config", ns.config)
    for option, paths in (("--dockerfile", ns.dockerfile), ("--compose", ns.compose)):
        for path in paths or []:
            _require_file(option, path)
    try:
        select = rules.parse_code_list(ns.select) if ns.select is not None else None
        ignore = rules.parse_code_list(ns.ignore)
    except UnknownCode as exc:
        raise UsageError(f"--select/--ignore: {exc.args[0] if exc.args else exc}") from None
    output = _output_path(
        ns.output,
        inputs=(ns.python, ns.pyproject, ns.config, *(ns.dockerfile or []), *(ns.compose or [])),
    )
    bundle_file = _bundle_file(ns, output) if ns.command == "bundle" else None
    options = CheckOptions(
        python=str(Path(ns.python).absolute()) if ns.python else None,
        pyproject=str(Path(ns.pyproject).absolute()) if ns.pyproject else None,
        only=_split(ns.only),
        skip=_split(ns.skip),
        select=select,
        ignore=ignore,
        fail_on=ns.fail_on,
        timeout=ns.timeout,
        env=dict(os.environ),
        extra={
            **_server_options(ns),
            "config_path": ns.config,
            "dockerfiles": list(ns.dockerfile or []),
            "compose_files": list(ns.compose or []),
        },
    )
    recorded: dict[str, Any] = {}
    with _progress(enabled=not ns.quiet) as on_done:
        report = run_check(options, on_probe_done=_recording(recorded, on_done))
    if bundle_file != "-" or output is not None:
        _emit(report, ns, output)
    if bundle_file is not None:
        _write_bundle(ns, bundle_file, options, recorded, report)
    return report.exit_code


def _recording(store: dict[str, Any], then: Any) -> Any:
    """A probe callback that keeps every probe outcome (a bundle holds them all)."""

    def on_done(outcome: Any) -> None:
        store[outcome.name] = outcome
        if then is not None:
            then(outcome)

    return on_done


def _input_files(ns: argparse.Namespace) -> tuple[str | None, ...]:
    """Files named on the command line: nothing kyudoctor writes may replace one of them."""
    names = ("python", "pyproject", "cacert", "config", "dockerfile", "compose", "from_bundle")
    values = (getattr(ns, name, None) for name in names)
    # --dockerfile and --compose are repeatable: lists of paths.
    return tuple(v for value in values for v in (value if isinstance(value, list) else [value]))


def _bundle_file(ns: argparse.Namespace, report_output: str | None) -> str:
    """Where ``bundle`` writes: ``-o`` (checked like --output), else a new file named
    ``kyudoctor-bundle-<host-hash>-<date>.json`` in the current directory."""
    import os

    from kyudoctor.bundle import default_name
    from kyudoctor.errors import UsageError

    if ns.bundle_file == "-":
        return "-"
    if ns.bundle_file is None:
        base = default_name()
        path, n = os.path.abspath(base), 1
        while os.path.exists(path):
            n += 1
            path = os.path.abspath(base.replace(".json", f"-{n}.json"))
        return path
    target: str = os.path.abspath(str(ns.bundle_file))
    if os.path.isdir(target):
        raise UsageError(f"-o {ns.bundle_file}: is a directory")
    if not os.path.isdir(os.path.dirname(target)):
        raise UsageError(f"-o {ns.bundle_file}: directory {os.path.dirname(target)} does not exist")
    if report_output is not None and os.path.abspath(report_output) == target:
        raise UsageError(f"-o {ns.bundle_file}: is the --output file too; give them two names")
    for item in _input_files(ns):
        if item and os.path.exists(item) and os.path.exists(target):
            if os.path.samefile(item, target):
                raise UsageError(
                    f"-o {ns.bundle_file}: is one of the inputs; refusing to write over it"
                )
    return target


def _write_bundle(
    ns: argparse.Namespace, path: str, options: Any, recorded: dict[str, Any], report: Report
) -> None:
    """Write the bundle (atomically, or to stdout for ``-o -``); say where and what was hidden."""
    import os

    from kyudoctor import bundle as bundles

    data = bundles.create(options, recorded, report, redact=not ns.no_redact)
    text = bundles.dumps(data)
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        shown = "standard output"
    else:
        _write_atomically(path, lambda stream: stream.write(text))
        shown = ns.bundle_file or os.path.basename(path)
    sys.stderr.write(f"bundle written to {shown}\n{bundles.describe(data)}\n")


def _cmd_replay(ns: argparse.Namespace) -> int:
    """``check --from-bundle FILE``: the checks and rules on a bundle's facts, no probe run."""
    from kyudoctor import bundle as bundles
    from kyudoctor import rules
    from kyudoctor.catalog import UnknownCode
    from kyudoctor.errors import UsageError

    probe_inputs = (
        ("--python", ns.python),
        ("--pyproject", ns.pyproject),
        ("--url", ns.url),
        ("--api-key", ns.api_key),
        ("--cacert", ns.cacert),
        ("--insecure", ns.insecure),
        ("--voice", ns.voice),
        ("--wait", ns.wait),
        ("--config", getattr(ns, "config", None)),
        ("--dockerfile", getattr(ns, "dockerfile", None)),
        ("--compose", getattr(ns, "compose", None)),
    )
    ignored = [option for option, value in probe_inputs if value]
    if ignored and not ns.quiet:
        sys.stderr.write(
            f"ignored with --from-bundle: {', '.join(ignored)} (they choose what to probe; the "
            "bundle's facts are judged as they are)\n"
        )
    try:
        select = rules.parse_code_list(ns.select) if ns.select is not None else None
        ignore = rules.parse_code_list(ns.ignore) if ns.ignore else None
    except UnknownCode as exc:
        raise UsageError(f"--select/--ignore: {exc.args[0] if exc.args else exc}") from None
    output = _output_path(ns.output, inputs=(ns.from_bundle,))
    loaded = bundles.load(ns.from_bundle)
    if not ns.quiet:
        state = "redacted" if loaded.redacted else "NOT redacted"
        sys.stderr.write(
            f"replaying {ns.from_bundle}: made by kyudoctor {loaded.kyudoctor_version} on "
            f"{loaded.created}, {state}; no probe runs\n"
        )
    report = bundles.replay(
        loaded,
        only=_split(ns.only) or None,
        skip=_split(ns.skip) or None,
        select=select,
        ignore=ignore,
        fail_on=ns.fail_on,
    )
    _emit(report, ns, output)
    return report.exit_code


def _cmd_load(ns: argparse.Namespace) -> int:
    from kyudoctor import load
    from kyudoctor import report as reporters

    if ns.cacert is not None:
        _require_file("--cacert", ns.cacert)
    output = _output_path(ns.output, inputs=(ns.cacert,))
    report = load.run(
        ns, fmt=ns.format, output=output, verbose=ns.verbose, quiet=ns.quiet, fail_on=ns.fail_on
    )
    if ns.format == "console" and output is None:
        load.render_table(report, sys.stdout)
        reporters.render("console", report, sys.stdout, verbose=ns.verbose, quiet=True)
    else:
        _emit(report, ns, output)
    return report.exit_code


def _cmd_simulate(ns: argparse.Namespace) -> int:
    from kyudoctor import simulate

    return simulate.run(ns)


TRIAGE_FORMATS = ("console", "json", "markdown")


def _cmd_triage(ns: argparse.Namespace) -> int:
    import os

    from kyudoctor import rules
    from kyudoctor.catalog import UnknownCode
    from kyudoctor.errors import UsageError
    from kyudoctor.triage import render, triage

    try:
        select = rules.parse_code_list(ns.select) if ns.select is not None else None
        ignore = rules.parse_code_list(ns.ignore)
    except UnknownCode as exc:
        raise UsageError(f"--select/--ignore: {exc.args[0] if exc.args else exc}") from None
    path = ns.file
    if path != "-":
        if not os.path.exists(path):
            raise UsageError(f"triage {path}: no such file")
        if os.path.isdir(path):
            raise UsageError(f"triage {path}: is a directory")
    output = _output_path(ns.output, inputs=(None if path == "-" else path,))
    options: dict[str, Any] = {"select": select, "ignore": ignore, "fail_on": ns.fail_on}
    try:
        if path == "-":
            if _isatty(sys.stdin) and not ns.quiet:
                _error("reading the log from standard input (paste it, then press Ctrl-D)")
            result = triage(sys.stdin.buffer, source="-", **options)
        else:
            with open(path, "rb") as stream:
                result = triage(stream, source=path, **options)
    except OSError as exc:
        raise UsageError(f"triage {path}: cannot read: {exc.strerror or exc}") from None
    render_options: dict[str, Any] = {}
    if ns.format == "console":
        render_options = {"verbose": ns.verbose, "quiet": ns.quiet}
    if output is None:
        if hasattr(sys.stdout, "reconfigure"):
            sys.stdout.reconfigure(errors="replace")  # a log may hold what the terminal cannot
        render(ns.format, result, sys.stdout, **render_options)
        return result.exit_code
    _write_atomically(output, lambda stream: render(ns.format, result, stream, **render_options))
    if not ns.quiet:
        from kyudoctor.report.console import make_console
        from kyudoctor.report.triage_console import summary_line

        console = make_console(sys.stdout)
        console.print(summary_line(result))
        console.print(f"triage written to {output}")
    return result.exit_code


def _cmd_explain(ns: argparse.Namespace) -> int:
    from kyudoctor import explain
    from kyudoctor.errors import UsageError

    if not ns.list and not ns.code:
        raise UsageError("explain: give a CODE or SLUG, or --list")
    return explain.run(ns.code, list_all=ns.list, fmt=ns.format, stream=sys.stdout)


def _emit(report: Report, ns: argparse.Namespace, output: str | None) -> None:
    from kyudoctor import report as reporters

    render_options: dict[str, Any] = {}
    if ns.format == "console":
        render_options = {"verbose": ns.verbose, "quiet": ns.quiet}
    if output is None:
        reporters.render(ns.format, report, sys.stdout, **render_options)
        return
    _write_atomically(
        output, lambda stream: reporters.render(ns.format, report, stream, **render_options)
    )
    if not ns.quiet:
        from kyudoctor.report.console import make_console, summary_line

        console = make_console(sys.stdout)
        console.print(summary_line(report))
        console.print(f"report written to {output}")


def _write_atomically(path: str, write: Any) -> None:
    """Write through a temporary file in the same directory, then rename: never half a file."""
    import os
    import tempfile

    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".kyudoctor-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            write(stream)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _output_path(output: str | None, inputs: tuple[str | None, ...]) -> str | None:
    import os

    from kyudoctor.errors import UsageError

    if output is None:
        return None
    target = os.path.abspath(output)
    if os.path.isdir(target):
        raise UsageError(f"--output {output}: is a directory")
    if not os.path.isdir(os.path.dirname(target)):
        raise UsageError(f"--output {output}: directory {os.path.dirname(target)} does not exist")
    for item in inputs:
        if (
            item
            and os.path.exists(item)
            and os.path.exists(target)
            and os.path.samefile(item, target)
        ):
            raise UsageError(f"--output {output}: is one of the inputs; refusing to write over it")
    return target


def _require_file(option: str, path: str) -> None:
    import os
    import stat

    from kyudoctor.errors import UsageError

    if not os.path.exists(path):
        raise UsageError(f"{option} {path}: no such file")
    if os.path.isdir(path):
        raise UsageError(f"{option} {path}: is a directory")
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise UsageError(f"{option} {path}: not a regular file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{option} {path}: not readable")


def _require_executable(option: str, path: str) -> None:
    import os

    from kyudoctor.errors import UsageError

    _require_file(option, path)
    if not os.access(path, os.X_OK):
        raise UsageError(f"{option} {path}: not executable")


class _progress:
    """A live progress line on stderr while probes run: only when stderr is a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and _isatty(sys.stderr)
        self._status: Any = None
        self._done: list[str] = []

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from rich.console import Console

        console = Console(file=sys.stderr)
        self._status = console.status("kyudoctor: probing this machine…")
        self._status.start()

        def on_done(outcome: Any) -> None:
            self._done.append(outcome.name)
            self._status.update(f"kyudoctor: probed {', '.join(self._done)}…")

        return on_done

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.stop()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _error(message: str) -> None:
    sys.stderr.write(f"{PROG}: {message}\n")
