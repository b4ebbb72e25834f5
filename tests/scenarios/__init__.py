"""A whole fake machine for the real ``kyudoctor check --only host`` command.

:class:`Host` assembles, in a temporary directory, everything the host probes look at:

- ``bin/``, the front of PATH: a fake ``nvidia-smi`` that prints a chosen real sample for each
  invocation the gpu probe makes (``--query-gpu=...``, plain ``nvidia-smi``,
  ``--query-compute-apps=...``), and optionally fake ``g++`` / ``cmake`` / ``ldconfig``;
- a CUDA toolkit tree ``cuda-X.Y/{bin/nvcc,include/cuda.h,lib64/libcudart.so.12,...}`` whose
  ``nvcc`` prints the real banner and ``--list-gpu-arch`` of that release, with ``CUDA_HOME``;
- a HOME with ``.cargo/bin/moshi-server`` (a real ELF, or a Python console script) and cargo's
  install record ``.cargo/.crates2.json``;
- a target virtual environment (``python -m venv --without-pip``) with fake distributions and a
  ``torch/version.py`` (see ``tests/helpers_venv.py``).

:meth:`Host.env` is the complete environment of the command: nothing is inherited from the
test process except what makes this machine's own tools work (the system PATH after ours, and
rustup's home, so the real ``cargo``/``rustc`` proxies still find their toolchain under a fake
HOME). :func:`run` runs the installed ``kyudoctor`` with it and returns the validated report.

What cannot be faked from outside the process: the nvcc probe also lists the toolkits under
``/usr/local`` and ``/opt`` (the search roots are an option, not an environment variable), so on
this machine the real CUDA 13.0 in ``/usr/local/cuda-13.0`` shows up in ``nvcc.toolkits``; and
the system probe reads the real ``/`` (container, ``/dev/nvidia*``, disk). Scenarios assert only
on what they control.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests import fixtures_elf
from tests.helpers_venv import Venv, add_dist, add_torch, make_venv
from tests.reportschema import validate_report

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
SMI = DATA / "nvidia-smi"
BANNERS = DATA / "banners"

KYUDOCTOR = Path(sys.executable).parent / "kyudoctor"
"""The installed command (the console script next to the interpreter running the tests)."""

SYSTEM_PATH = os.environ.get("PATH", os.defpath)
"""This machine's PATH: after the scenario's own directories, so real tools are found."""

RUSTUP_HOME = os.environ.get("RUSTUP_HOME") or str(Path.home() / ".rustup")
"""rustup's real home: its cargo/rustc proxies need it when HOME is the fake one."""

CRATES_IO = "registry+https://github.com/rust-lang/crates.io-index"
RUSTC_VV = (
    "rustc 1.85.0 (4d91de4e4 2025-02-17)\nbinary: rustc\n"
    "commit-hash: 4d91de4e48198da2e33413efdcd9cd2cc0c46688\ncommit-date: 2025-02-17\n"
    "host: x86_64-unknown-linux-gnu\nrelease: 1.85.0\nLLVM version: 19.1.7\n"
)


def sample(name: str) -> str:
    """A recorded real output from ``tests/data`` (``nvidia-smi/...`` or ``banners/...``)."""
    return (DATA / name).read_text(encoding="utf-8")


# --- GPUs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gpu:
    """What a fake ``nvidia-smi`` answers to each invocation the gpu probe makes.

    ``query_gpu`` answers ``--query-gpu=<fields with compute_cap>``; when ``no_compute_cap`` is
    set the driver predates R510: the first query fails with ``invalid_field`` and the second
    one (without ``compute_cap``) gets ``no_compute_cap``.
    """

    query_gpu: str
    smi: str
    compute_apps: str = ""
    no_compute_cap: str | None = None
    invalid_field: str | None = None


def h100_570() -> Gpu:
    """NVIDIA H100 80GB HBM3 on driver 570.124.06 (CUDA 12.8): the recorded real outputs."""
    return Gpu(
        query_gpu=sample("nvidia-smi/h100-570-query-gpu.csv"),
        smi=sample("nvidia-smi/h100-570-smi.txt"),
        compute_apps=sample("nvidia-smi/h100-570-compute-apps.csv"),
    )


def rtx4090_470() -> Gpu:
    """RTX 4090 on driver 470.82.01 (CUDA 11.4), shaped like the recorded R470 outputs.

    R470's nvidia-smi does not know ``compute_cap`` (the recorded T4 answer), so the capability
    comes from kyudoctor's GPU table (8.9).
    """
    uuid = "GPU-3f1c2a7e-8b9d-4e5f-a6b7-c8d9e0f1a2b3"
    smi = sample("nvidia-smi/t4-470-smi.txt").replace(
        "Tesla T4            Off  ", "NVIDIA GeForce ...  Off  "
    )
    smi = smi.replace("0MiB / 15109MiB", "1MiB / 24564MiB")
    return Gpu(
        query_gpu="",  # never printed: the first query fails
        smi=smi,
        invalid_field=sample("nvidia-smi/t4-470-query-gpu-invalid-field.txt"),
        no_compute_cap=f"0, NVIDIA GeForce RTX 4090, {uuid}, 24564, 24212, 1, 470.82.01\n",
    )


def rtx5090_575() -> Gpu:
    """RTX 5090 (sm_120) on driver 575.57.08 (CUDA 12.9), shaped like the recorded R550 outputs."""
    uuid = "GPU-7b3e9c1d-2f4a-4c6b-8d0e-1a2b3c4d5e6f"
    smi = sample("nvidia-smi/rtx4090-550-smi.txt")
    smi = smi.replace(
        "NVIDIA-SMI 550.54.14              Driver Version: 550.54.14      CUDA Version: 12.4",
        "NVIDIA-SMI 575.57.08              Driver Version: 575.57.08      CUDA Version: 12.9",
    )
    smi = smi.replace("RTX 4090", "RTX 5090").replace("24564MiB", "32607MiB")
    smi = smi.replace("7415MiB", " 487MiB").replace("450W", "575W")
    smi = "\n".join(line for line in smi.splitlines() if "python3" not in line) + "\n"
    return Gpu(
        query_gpu=f"0, NVIDIA GeForce RTX 5090, {uuid}, 32607, 32120, 487, 12.0, 575.57.08\n",
        smi=smi,
    )


# --- the machine --------------------------------------------------------------------------------


def _write_executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def _q(path: Path | str) -> str:
    return shlex.quote(str(path))


class Host:
    """A fake machine in ``root``; nothing outside ``root`` is written."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.home = root / "home"
        self.cargo_home = self.home / ".cargo"
        self.cargo_bin = self.cargo_home / "bin"
        self.data = root / "data"  # the fake tools' canned answers
        for directory in (self.bin, self.cargo_bin, self.data):
            directory.mkdir(parents=True, exist_ok=True)
        self.toolkit: Path | None = None
        self.toolkit_on_path = True
        self.venv: Venv | None = None
        self.extra_path: list[Path] = []  # after bin/ and the toolkit, before cargo's bin
        self.cargo_bin_on_path = True
        self.set_cuda_home = True
        self.extra_env: dict[str, str] = {}
        self.ld_library_path: list[str] = []

    # -- fake executables ----------------------------------------------------------------------

    def script(self, name: str, body: str, *, directory: Path | None = None) -> Path:
        """An executable ``/bin/sh`` script ``name`` in ``bin/`` (or ``directory``)."""
        return _write_executable(
            (directory or self.bin) / name, "#!/bin/sh\n" + textwrap.dedent(body).lstrip()
        )

    def _canned(self, name: str, text: str) -> Path:
        path = self.data / name
        path.write_text(text, encoding="utf-8")
        return path

    def nvidia_smi(self, gpu: Gpu) -> Path:
        """A fake ``nvidia-smi`` answering each gpu-probe invocation with ``gpu``'s samples.

        Every invocation is appended to ``data/nvidia-smi.calls`` (one line of arguments).
        """
        query = self._canned("smi-query-gpu", gpu.query_gpu)
        header = self._canned("smi-header", gpu.smi)
        apps = self._canned("smi-compute-apps", gpu.compute_apps)
        calls = self.data / "nvidia-smi.calls"
        cases = []
        if gpu.no_compute_cap is not None:
            invalid = self._canned("smi-invalid-field", gpu.invalid_field or "")
            legacy = self._canned("smi-query-gpu-legacy", gpu.no_compute_cap)
            cases += [
                f"  --query-gpu=*compute_cap*) cat {_q(invalid)}; exit 2 ;;",
                f"  --query-gpu=*) cat {_q(legacy)} ;;",
            ]
        else:
            cases.append(f"  --query-gpu=*) cat {_q(query)} ;;")
        cases += [
            f"  --query-compute-apps=*) cat {_q(apps)} ;;",
            f'  "") cat {_q(header)} ;;',
            "  *) echo \"Invalid combination of input arguments. Please run 'nvidia-smi -h' "
            'for help." >&2; exit 2 ;;',
        ]
        lines = ["#!/bin/sh", f'echo "$*" >> {_q(calls)}', 'case "$1" in', *cases, "esac", ""]
        return _write_executable(self.bin / "nvidia-smi", "\n".join(lines))

    def nvidia_smi_calls(self) -> list[str]:
        """The argument lines the fake nvidia-smi was run with, in order."""
        calls = self.data / "nvidia-smi.calls"
        return calls.read_text().splitlines() if calls.exists() else []

    def nvidia_smi_hanging(self) -> Path:
        """A ``nvidia-smi`` that never answers, with a child that never exits either."""
        spin = self.script("kyu-spin", "while :; do sleep 0.1; done\n")
        return self.script("nvidia-smi", f"{_q(spin)} &\nexec {_q(spin)}\n")

    def nvidia_smi_crashing(self) -> Path:
        """A ``nvidia-smi`` that dies of SIGSEGV, printing nothing."""
        return self.script("nvidia-smi", "kill -SEGV $$\n")

    def cuda_toolkit(self, release: str, *, on_path: bool = True, cuda_home: bool = True) -> Path:
        """``<root>/cuda-<release>``: a fake nvcc printing the recorded banner and arch list of
        that release, ``include/cuda.h``, ``version.json`` and the runtime libraries in lib64."""
        toolkit = self.root / f"cuda-{release}"
        banner = self._canned(f"nvcc-{release}", sample(f"banners/nvcc-{release}.txt"))
        archs = self._canned(f"nvcc-{release}-archs", sample(f"banners/nvcc-{release}-archs.txt"))
        self.script(
            "nvcc",
            f"""\
            case "$1" in
              --version|-V) cat {_q(banner)} ;;
              --list-gpu-arch) cat {_q(archs)} ;;
              *) echo "nvcc fatal   : No input files specified; use option --help for more information" >&2; exit 1 ;;
            esac
            """,
            directory=toolkit / "bin",
        )
        (toolkit / "include").mkdir(parents=True, exist_ok=True)
        major = release.split(".")[0]
        (toolkit / "include" / "cuda.h").write_text(
            f"#define CUDA_VERSION {int(major) * 1000 + int(release.split('.')[1]) * 10}\n"
        )
        full = sample(f"banners/nvcc-{release}.txt").split(", V", 1)[1].split()[0]
        (toolkit / "version.json").write_text(
            json.dumps({"cuda": {"name": "CUDA SDK", "version": full}})
        )
        lib64 = toolkit / "lib64"
        lib64.mkdir(exist_ok=True)
        for name in (
            f"libcudart.so.{major}",
            f"libcublas.so.{major}",
            f"libnvrtc.so.{major}",
            "libcurand.so.10",
        ):
            (lib64 / name).write_bytes(b"")
        self.toolkit = toolkit
        self.toolkit_on_path = on_path
        self.set_cuda_home = cuda_home
        return toolkit

    def gxx(self, banner: str, *, versioned: int | None = None) -> Path:
        """A fake ``g++`` printing a recorded banner; anything else goes to the real g++
        (so ``-print-file-name=libstdc++.so`` names a file that exists)."""
        text = self._canned(f"gxx-{banner}", sample(f"banners/{banner}.txt"))
        real = shutil.which("g++", path=SYSTEM_PATH) or "/usr/bin/g++"
        body = f"""\
            case "$1" in
              --version) cat {_q(text)} ;;
              *) exec {_q(real)} "$@" ;;
            esac
            """
        path = self.script("g++", body)
        if versioned is not None:
            self.script(f"g++-{versioned}", body)
        return path

    def cmake(self, banner: str) -> Path:
        """A fake ``cmake`` printing a recorded ``cmake --version``."""
        text = self._canned(f"cmake-{banner}", sample(f"banners/{banner}.txt"))
        return self.script("cmake", f"cat {_q(text)}\n")

    # -- moshi-server ------------------------------------------------------------------------------

    def moshi_server_elf(
        self,
        elf: Path,
        *,
        version: str | None = "0.6.4",
        features: Sequence[str] = ("cuda",),
        directory: Path | None = None,
    ) -> Path:
        """Install a real ELF as ``moshi-server`` (in cargo's bin unless told) and, with
        ``version``, cargo's install record of it."""
        target = fixtures_elf.install(elf, directory or self.cargo_bin)
        if version is not None:
            self.crates2(version, features)
        return target

    def crates2(self, version: str, features: Sequence[str] = ("cuda",)) -> Path:
        """``.cargo/.crates2.json`` as cargo >= 1.41 writes it for ``cargo install``."""
        record = {
            "installs": {
                f"moshi-server {version} ({CRATES_IO})": {
                    "version_req": None,
                    "bins": ["moshi-server"],
                    "features": list(features),
                    "all_features": False,
                    "no_default_features": False,
                    "profile": "release",
                    "target": "x86_64-unknown-linux-gnu",
                    "rustc": RUSTC_VV,
                }
            }
        }
        path = self.cargo_home / ".crates2.json"
        path.write_text(json.dumps(record, indent=2) + "\n")
        return path

    def python_shim(self, directory: Path, interpreter: Path | str) -> Path:
        """The Python ``moshi`` package's ``moshi-server`` console script, in ``directory``,
        which goes on PATH before cargo's bin."""
        self.extra_path.append(directory)
        return fixtures_elf.write_console_script(directory, str(interpreter))

    # -- the target Python -------------------------------------------------------------------------

    def target_venv(
        self,
        dists: Mapping[str, str] | Iterable[tuple[str, str, Sequence[str]]],
        *,
        torch: tuple[str, str | None] | None = None,
        python: Path | str = sys.executable,
    ) -> Venv:
        """A real venv with fake distributions (``{name: version}`` or ``(name, version,
        requires)`` triples) and, with ``torch=(version, cuda)``, torch and its version.py."""
        venv = make_venv(self.root / "venv", python)
        items = (
            [(n, v, ()) for n, v in dists.items()] if isinstance(dists, Mapping) else list(dists)
        )
        for name, version, requires in items:
            add_dist(venv.site, name, version, requires)
        if torch is not None:
            add_torch(venv.site, torch[0], torch[1], requires=())
        self.venv = venv
        return venv

    # -- the environment ---------------------------------------------------------------------------

    def path_dirs(self) -> list[str]:
        """PATH, front first: bin/, the toolkit's bin, extra dirs, cargo's bin, the system's."""
        dirs = [str(self.bin)]
        if self.toolkit is not None and self.toolkit_on_path:
            dirs.append(str(self.toolkit / "bin"))
        dirs += [str(d) for d in self.extra_path]
        if self.cargo_bin_on_path:
            dirs.append(str(self.cargo_bin))
        dirs += [d for d in SYSTEM_PATH.split(os.pathsep) if d]
        return dirs

    def env(self, **extra: str) -> dict[str, str]:
        """The complete environment of the command (no VIRTUAL_ENV unless a scenario sets it)."""
        env = {
            "PATH": os.pathsep.join(self.path_dirs()),
            "HOME": str(self.home),
            "CARGO_HOME": str(self.cargo_home),
            "RUSTUP_HOME": RUSTUP_HOME,
            "RUSTUP_AUTO_INSTALL": "0",
            "LANG": "C.UTF-8",
            "TMPDIR": str(self.root),
        }
        if self.toolkit is not None and self.set_cuda_home:
            env["CUDA_HOME"] = str(self.toolkit)
        if self.ld_library_path:
            env["LD_LIBRARY_PATH"] = os.pathsep.join(self.ld_library_path)
        env.update(self.extra_env)
        env.update(extra)
        return env


# --- a healthy deployment, to break one thing at a time -----------------------------------------

STACK: dict[str, str] = {
    # moshi-server 0.6.4's pyproject (policy: known_requirements().dependencies) ...
    "setuptools": "80.9.0",
    "xformers": "0.0.33.post2",
    "pydantic": "2.11.7",
    "julius": "0.2.7",
    # ... and moshi 0.2.13's own requirements (policy: known_requirements().moshi_requires).
    "numpy": "2.2.6",
    "safetensors": "0.5.3",
    "huggingface-hub": "0.34.4",
    "bitsandbytes": "0.47.0",
    "einops": "0.8.1",
    "sentencepiece": "0.2.1",
    "sounddevice": "0.5.0",
    "sphn": "0.2.1",
    "aiohttp": "3.11.18",
    "tqdm": "4.67.1",
}
"""Versions satisfying moshi-server 0.6.4's Python requirements (moshi and torch aside)."""


def moshi_stack(
    torch: str = "2.9.1", torchaudio: str | None = None, *, without: Iterable[str] = ()
) -> list[tuple[str, str, Sequence[str]]]:
    """Distributions of a venv made from moshi-server 0.6.4's requirements: moshi 0.2.13 with
    its Requires-Dist as the policy records them, and torchaudio pinned to ``torch``."""
    from kyudoctor.policy import load

    known = load().known_requirements()
    public = torch.split("+", 1)[0]
    dists: list[tuple[str, str, Sequence[str]]] = [("moshi", "0.2.13", list(known.moshi_requires))]
    dists += [(name, version, ()) for name, version in STACK.items()]
    dists.append(("torchaudio", torchaudio or public, (f"torch=={public}",)))
    skip = set(without)
    return [d for d in dists if d[0] not in skip]


def embedding_elf(workdir: Path, libdir: Path | str, soname: str) -> Path:
    """A real program that calls ``Py_GetVersion`` from ``libdir/soname`` (as moshi-server
    embeds libpython through pyo3); no rpath, so the loader needs LD_LIBRARY_PATH."""
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / "embeds.c"
    source.write_text(
        "const char *Py_GetVersion(void);\nint main(void) { return Py_GetVersion() == 0; }\n"
    )
    out = workdir / f"embeds-{soname}"
    compiler = shutil.which("cc") or shutil.which("gcc") or "cc"
    subprocess.run(
        [compiler, "-o", str(out), str(source), f"-L{libdir}", f"-l:{soname}"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return out


def orphan_libpython_elf(workdir: Path, soname: str) -> Path:
    """A real program linked to a stub ``soname`` that is deleted afterwards: ``ldd`` says
    "not found" (unless something else on the machine provides that soname)."""
    build = workdir / f"orphan-{soname}"
    build.mkdir(parents=True, exist_ok=True)
    (build / "lib.c").write_text('const char *Py_GetVersion(void) { return "3"; }\n')
    (build / "main.c").write_text(
        "const char *Py_GetVersion(void);\nint main(void) { return Py_GetVersion() == 0; }\n"
    )
    compiler = shutil.which("cc") or shutil.which("gcc") or "cc"
    library = build / soname
    for argv in (
        ["-shared", "-fPIC", f"-Wl,-soname,{soname}", "-o", str(library), str(build / "lib.c")],
        ["-o", str(build / "moshi-server"), str(build / "main.c"), f"-L{build}", f"-l:{soname}"],
    ):
        subprocess.run([compiler, *argv], check=True, capture_output=True, timeout=60)
    library.unlink()
    return build / "moshi-server"


def gpu_host(
    root: Path,
    elf: Path,
    *,
    gpu: Gpu | None = None,
    cuda: str | None = "12.8",
    torch: tuple[str, str | None] | None = ("2.9.1+cu128", "12.8"),
    torchaudio: str | None = None,
    python: Path | str = sys.executable,
    loader_paths: bool = True,
) -> Host:
    """A healthy deployment: an H100 on driver 570 (CUDA 12.8), the CUDA 12.8 toolkit with
    CUDA_HOME, this machine's g++/cmake/git/cargo, a venv with moshi-server 0.6.4's requirements
    and torch 2.9.1+cu128, and moshi-server 0.6.4 (cuda) in ~/.cargo/bin on PATH.

    ``loader_paths``: LD_LIBRARY_PATH names the target interpreter's LIBDIR and the toolkit's
    lib64, as moshi-server's documentation asks, so ``ldd`` and the CUDA library lookup resolve
    to what this deployment installed (not to this machine's own CUDA 13 or Debian's libpython).
    """
    host = Host(root)
    host.nvidia_smi(gpu or h100_570())
    if cuda is not None:
        host.cuda_toolkit(cuda)
    torch_version = torch[0] if torch is not None else "2.9.1"
    venv = host.target_venv(moshi_stack(torch_version, torchaudio), torch=torch, python=python)
    host.moshi_server_elf(elf)
    if loader_paths:
        libdir = subprocess.run(
            [str(venv.python), "-c", "import sysconfig; print(sysconfig.get_config_var('LIBDIR'))"],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
        host.ld_library_path = [libdir]
        if host.toolkit is not None:
            host.ld_library_path.append(str(host.toolkit / "lib64"))
    return host


# --- running the command ------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """One run of the command: exit status, the parsed report (or None), and raw streams."""

    exit_code: int
    report: dict[str, Any] | None
    stdout: str
    stderr: str


def invoke(
    host: Host,
    *args: str,
    fmt: str = "json",
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
    python_arg: bool = True,
    command: Sequence[str] = ("check",),
) -> Result:
    """Run ``kyudoctor check --only host --format <fmt> --python <venv python> ARGS``
    (without ``--python`` when ``python_arg`` is false; ``command`` replaces ``check``)."""
    argv = [str(KYUDOCTOR), *command, "--only", "host", "--format", fmt]
    if host.venv is not None and python_arg:
        argv += ["--python", str(host.venv.python)]
    argv += list(args)
    proc = subprocess.run(
        argv,
        check=False,
        capture_output=True,
        text=True,
        env=dict(env) if env is not None else host.env(),
        cwd=host.root,
        timeout=timeout,
    )
    report = None
    if fmt == "json":
        try:
            report = json.loads(proc.stdout)
        except ValueError as exc:
            raise AssertionError(
                f"not JSON (exit {proc.returncode}): {exc}\nstdout: {proc.stdout[:2000]}\n"
                f"stderr: {proc.stderr[-2000:]}"
            ) from None
        validate_report(report)
    return Result(proc.returncode, report, proc.stdout, proc.stderr)


def run(host: Host, *args: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """Run the check with ``--format json``; return (exit status, the schema-valid report)."""
    result = invoke(host, *args, fmt="json", **kwargs)
    assert result.report is not None
    assert "Traceback" not in result.stderr, result.stderr
    assert result.report["exit_code"] == result.exit_code, (result.exit_code, result.stderr)
    return result.exit_code, result.report


# --- reading a report ---------------------------------------------------------------------------


def codes(report: Mapping[str, Any], *severities: str) -> set[str]:
    """Codes of the findings (not ignored) of the given severities (all when none given)."""
    return {
        f["code"]
        for f in report["findings"]
        if not f.get("ignored") and (not severities or f["severity"] in severities)
    }


def problems(report: Mapping[str, Any]) -> set[str]:
    """Codes of the error and warning findings."""
    return codes(report, "error", "warning")


def statuses(report: Mapping[str, Any]) -> dict[str, str]:
    """Check id -> status."""
    return {c["id"]: c["status"] for c in report["checks"]}


def check(report: Mapping[str, Any], check_id: str) -> dict[str, Any]:
    """The result of one check."""
    for item in report["checks"]:
        if item["id"] == check_id:
            return dict(item)
    raise KeyError(check_id)


def finding(report: Mapping[str, Any], code: str) -> dict[str, Any]:
    """The one finding with this code (fails when there are several or none)."""
    found = [f for f in report["findings"] if f["code"] == code]
    assert len(found) == 1, f"{code}: {len(found)} findings: {[f['message'] for f in found]}"
    return dict(found[0])


def commands(report: Mapping[str, Any], code: str) -> list[str]:
    """The fix commands of the one finding with this code."""
    return list(finding(report, code)["fix"]["commands"])
