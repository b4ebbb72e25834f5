"""The ``nvcc`` probe, against fake toolkits in a temp dir (real banners) and the real one here."""

from __future__ import annotations

import json
import os
import shutil
import stat
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from kyudoctor.model import Status
from kyudoctor.probes import cuda
from kyudoctor.runner import run_probes
from tests.conftest import FakeBin, MakeCtx

BANNERS = Path(__file__).resolve().parents[1] / "data" / "banners"
REAL_TOOLKIT = Path("/usr/local/cuda-13.0")


def _write_exe(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def make_toolkit(
    root: Path,
    release: str = "12.8",
    *,
    cuda_h: bool = True,
    libs: tuple[str, ...] = ("libcudart.so.12",),
    archs: bool = True,
    version_json: str | None = None,
) -> Path:
    """A toolkit tree: bin/nvcc printing the real banner of ``release``, include/cuda.h, lib64."""
    banner = BANNERS / f"nvcc-{release}.txt"
    arch_file = BANNERS / f"nvcc-{release}-archs.txt"
    if archs and arch_file.exists():
        list_archs = f'cat "{arch_file}"'
    else:
        list_archs = "echo \"nvcc fatal   : Unknown option '--list-gpu-arch'\" >&2; exit 1"
    _write_exe(
        root / "bin" / "nvcc",
        "#!/bin/sh\n"
        'case "$1" in\n'
        f'  --version) cat "{banner}" ;;\n'
        f"  --list-gpu-arch) {list_archs} ;;\n"
        '  *) echo "nvcc fatal   : No input files specified; use option --help for more '
        'information" >&2; exit 1 ;;\n'
        "esac\n",
    )
    if cuda_h:
        (root / "include").mkdir(parents=True, exist_ok=True)
        (root / "include" / "cuda.h").write_text("#define CUDA_VERSION 12080\n")
    (root / "lib64").mkdir(parents=True, exist_ok=True)
    for lib in libs:
        (root / "lib64" / lib).write_bytes(b"\x7fELF")
    if version_json is not None:
        (root / "version.json").write_text(
            json.dumps(
                {
                    "cuda": {"name": "CUDA SDK", "version": version_json},
                    "cuda_nvcc": {"name": "CUDA NVCC", "version": version_json},
                }
            )
        )
    return root


def _opts(**extra: Any) -> dict[str, Any]:
    return {"cuda_search_roots": [], "ldconfig_fallbacks": [], **extra}


@pytest.fixture
def tools(tmp_path: Path) -> str:
    """A PATH directory holding only the utilities the fake scripts use (no nvcc, no ldconfig)."""
    tools = FakeBin(tmp_path / "tools")
    for name in ("cat", "sleep"):
        tools.link(name, shutil.which(name) or f"/bin/{name}")
    return tools.path


@pytest.mark.parametrize(
    ("banner", "version", "release"),
    [
        ("nvcc-10.2.txt", "10.2.89", "10.2"),
        ("nvcc-11.8.txt", "11.8.89", "11.8"),
        ("nvcc-12.1.txt", "12.1.105", "12.1"),
        ("nvcc-12.4.txt", "12.4.131", "12.4"),
        ("nvcc-12.8.txt", "12.8.93", "12.8"),
        ("nvcc-13.0.txt", "13.0.88", "13.0"),
    ],
)
def test_parse_nvcc_version_on_real_banners(banner: str, version: str, release: str) -> None:
    """Each real `nvcc --version` banner gives the full version and the release."""
    assert cuda.parse_nvcc_version((BANNERS / banner).read_text()) == (version, release)


def test_parse_gpu_archs_handles_three_digit_capabilities() -> None:
    """`compute_100`/`compute_121` become "10.0"/"12.1", in nvcc's order."""
    archs = cuda.parse_gpu_archs((BANNERS / "nvcc-13.0-archs.txt").read_text())
    assert archs is not None
    assert archs[:3] == ["7.5", "8.0", "8.6"] and "10.0" in archs and "12.1" in archs
    assert "7.0" not in archs


def test_nvcc_on_path(tmp_path: Path, make_ctx: MakeCtx, tools: str) -> None:
    """nvcc on PATH: found via PATH, versioned, its toolkit, cuda.h and archs recorded."""
    root = make_toolkit(tmp_path / "cuda-12.8")
    facts = cuda.probe(make_ctx(env={"PATH": f"{root}/bin:{tools}"}, options=_opts()))
    nvcc = facts["nvcc"]
    assert nvcc["found_via"] == "PATH" and nvcc["on_path"] is True
    assert (nvcc["version"], nvcc["release"], nvcc["error"]) == ("12.8.93", "12.8", None)
    assert facts["toolkit_root"] == str(root.resolve())
    assert facts["cuda_h"] == str(root / "include" / "cuda.h")
    assert facts["gpu_archs"][-3:] == ["10.0", "10.1", "12.0"]
    json.dumps(facts)  # JSON types only


def test_nvcc_found_through_cuda_home(tmp_path: Path, make_ctx: MakeCtx, tools: str) -> None:
    """With no nvcc on PATH, `$CUDA_HOME/bin/nvcc` is used and is reported as not on PATH."""
    root = make_toolkit(tmp_path / "toolkits" / "cuda-12.4", "12.4")
    env = {"PATH": tools, "CUDA_HOME": str(root)}
    facts = cuda.probe(make_ctx(env=env, options=_opts()))
    assert facts["nvcc"]["found_via"] == "CUDA_HOME" and facts["nvcc"]["on_path"] is False
    assert facts["nvcc"]["release"] == "12.4"
    assert facts["cuda_env"]["CUDA_HOME"]["cuda_h"] is True


def test_search_roots_highest_version_first(tmp_path: Path, make_ctx: MakeCtx, tools: str) -> None:
    """Under a search root, the highest cuda-* wins; every toolkit is listed with its version."""
    local = tmp_path / "usr-local"
    make_toolkit(local / "cuda-12.4", "12.4")
    make_toolkit(local / "cuda-12.8", "12.8")
    make_toolkit(local / "cuda-11.8", "11.8", version_json="11.8.89")
    facts = cuda.probe(make_ctx(env={"PATH": tools}, options=_opts(cuda_search_roots=[str(local)])))
    assert facts["nvcc"]["found_via"] == "standard"
    assert facts["nvcc"]["release"] == "12.8"
    assert [(t["root"], t["version"]) for t in facts["toolkits"]] == [
        (str(local / "cuda-12.8"), "12.8.93"),
        (str(local / "cuda-12.4"), "12.4.131"),
        (str(local / "cuda-11.8"), "11.8.89"),
    ]


def test_cuda_symlink_comes_before_versioned_dirs(
    tmp_path: Path, make_ctx: MakeCtx, tools: str
) -> None:
    """`<root>/cuda` (the distro's default link) is tried before `<root>/cuda-*`."""
    local = tmp_path / "usr-local"
    make_toolkit(local / "cuda-12.4", "12.4")
    make_toolkit(local / "cuda-12.8", "12.8")
    (local / "cuda").symlink_to(local / "cuda-12.4")
    facts = cuda.probe(make_ctx(env={"PATH": tools}, options=_opts(cuda_search_roots=[str(local)])))
    assert facts["nvcc"]["release"] == "12.4"
    assert facts["toolkit_root"] == str(local / "cuda-12.4")
    assert facts["standard"] == [
        {"path": str(local / "cuda"), "realpath": str(local / "cuda-12.4"), "cuda_h": True}
    ]
    assert len(facts["toolkits"]) == 2


def test_shell_wrapper_is_followed_to_the_real_toolkit(
    tmp_path: Path, fakebin: FakeBin, make_ctx: MakeCtx, tools: str
) -> None:
    """A `#!/bin/sh exec /…/cuda-X/bin/nvcc "$@"` wrapper on PATH leads to the real toolkit."""
    root = make_toolkit(tmp_path / "cuda-13.0", "13.0")
    fakebin.add("nvcc", f'exec {root}/bin/nvcc "$@"\n')
    facts = cuda.probe(make_ctx(env={"PATH": f"{fakebin.path}:{tools}"}, options=_opts()))
    assert facts["nvcc"]["path"] == str(fakebin.root / "nvcc")
    assert facts["nvcc"]["real_path"] == str(root / "bin" / "nvcc")
    assert facts["toolkit_root"] == str(root)
    assert facts["nvcc"]["release"] == "13.0"
    assert facts["cuda_h"] == str(root / "include" / "cuda.h")


def test_crashing_nvcc_is_a_fact(fakebin: FakeBin, make_ctx: MakeCtx) -> None:
    """An nvcc killed by SIGSEGV gives an error fact and no version, not an exception."""
    fakebin.add("nvcc", "kill -SEGV $$\n")
    facts = cuda.probe(make_ctx(env={"PATH": fakebin.path}, options=_opts()))
    assert facts["nvcc"]["path"] == str(fakebin.root / "nvcc")
    assert facts["nvcc"]["error"] == "killed by SIGSEGV"
    assert facts["nvcc"]["version"] is None and facts["gpu_archs"] is None


def test_hanging_nvcc_times_out_and_leaves_no_process(fakebin: FakeBin) -> None:
    """An nvcc that never exits turns the probe into `timeout` at its limit, children killed."""
    marker = "987.654321"
    fakebin.add("nvcc", f"/bin/sleep {marker} &\nwait\n")
    started = time.monotonic()
    outcomes = run_probes(
        ["nvcc"],
        env={"PATH": fakebin.path, "HOME": str(fakebin.root)},
        options=_opts(),
        timeout=1.0,
    )
    assert time.monotonic() - started < 2.0
    assert outcomes["nvcc"].status is Status.TIMEOUT
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        leftovers = [
            p
            for p in psutil.process_iter(["cmdline"])
            if marker in " ".join(p.info["cmdline"] or [])
            or str(fakebin.root) in " ".join(p.info["cmdline"] or [])
        ]
        if not leftovers:
            break
        time.sleep(0.05)
    assert leftovers == []


def test_old_nvcc_without_list_gpu_arch(tmp_path: Path, make_ctx: MakeCtx, tools: str) -> None:
    """An nvcc that rejects --list-gpu-arch (CUDA 10.x) gives gpu_archs None, version kept."""
    root = make_toolkit(tmp_path / "cuda-10.2", "10.2", archs=False)
    facts = cuda.probe(make_ctx(env={"PATH": f"{root}/bin:{tools}"}, options=_opts()))
    assert facts["nvcc"]["version"] == "10.2.89"
    assert facts["gpu_archs"] is None


def test_no_nvcc_anywhere(tmp_path: Path, make_ctx: MakeCtx) -> None:
    """Without nvcc the facts say so, and libraries are still looked up."""
    facts = cuda.probe(make_ctx(env={"PATH": str(tmp_path)}, options=_opts()))
    assert facts["nvcc"]["path"] is None and facts["nvcc"]["found_via"] is None
    assert facts["toolkit_root"] is None and facts["cuda_h"] is None
    assert set(facts["libraries"]) == {"libcudart", "libcublas", "libnvrtc", "libcurand"}
    assert facts["ldconfig"]["ran"] is False


def test_toolkit_without_cuda_h(tmp_path: Path, make_ctx: MakeCtx, tools: str) -> None:
    """A toolkit lacking include/cuda.h gives cuda_h None."""
    root = make_toolkit(tmp_path / "cuda-12.8", cuda_h=False)
    facts = cuda.probe(make_ctx(env={"PATH": f"{root}/bin:{tools}"}, options=_opts()))
    assert facts["cuda_h"] is None
    assert facts["toolkits"][0]["cuda_h"] is False


def test_libraries_from_each_source(
    tmp_path: Path, fakebin: FakeBin, make_ctx: MakeCtx, tools: str
) -> None:
    """Libraries resolve through LD_LIBRARY_PATH, then ldconfig's cache, then the toolkit."""
    root = make_toolkit(
        tmp_path / "cuda-12.8", libs=("libcudart.so", "libcudart.so.12", "libcublas.so.12")
    )
    ld_dir = tmp_path / "ld"
    ld_dir.mkdir()
    (ld_dir / "libnvrtc.so.12").write_bytes(b"\x7fELF")
    (ld_dir / "libnvrtc-builtins.so.12.8").write_bytes(b"\x7fELF")
    fakebin.add_printer(
        "ldconfig",
        "412 libs found in cache `/etc/ld.so.cache'\n"
        "\tlibcublasLt.so.12 (libc6,x86-64) => /opt/sys/libcublasLt.so.12\n"
        "\tlibcublas.so.12 (libc6,x86-64) => /opt/sys/libcublas.so.12\n"
        "\tlibc.so.6 (libc6,x86-64, OS ABI: Linux 3.2.0) => /lib/x86_64-linux-gnu/libc.so.6\n",
    )
    env = {"PATH": f"{root}/bin:{fakebin.path}:{tools}", "LD_LIBRARY_PATH": str(ld_dir)}
    facts = cuda.probe(make_ctx(env=env, options=_opts()))
    libs = facts["libraries"]
    assert libs["libcudart"] == {
        "resolved": str(root / "lib64" / "libcudart.so.12"),
        "where": "toolkit",
        "in_toolkit": str(root / "lib64" / "libcudart.so.12"),
        "soversion": "12",
    }
    assert libs["libcublas"]["resolved"] == "/opt/sys/libcublas.so.12"
    assert libs["libcublas"]["where"] == "ldconfig"
    assert libs["libnvrtc"]["resolved"] == str(ld_dir / "libnvrtc.so.12")
    assert libs["libnvrtc"]["where"] == "LD_LIBRARY_PATH"
    assert libs["libcurand"] == {
        "resolved": None,
        "where": None,
        "in_toolkit": None,
        "soversion": None,
    }
    assert facts["ldconfig"]["ran"] is True


def test_cuda_env_records_where_variables_point(
    tmp_path: Path, make_ctx: MakeCtx, tools: str
) -> None:
    """CUDA_PATH set to a missing directory is recorded as not existing, without cuda.h."""
    root = make_toolkit(tmp_path / "cuda-12.8")
    env = {"PATH": f"{root}/bin:{tools}", "CUDA_PATH": str(tmp_path / "gone")}
    facts = cuda.probe(make_ctx(env=env, options=_opts()))
    assert facts["cuda_env"] == {
        "CUDA_PATH": {
            "value": str(tmp_path / "gone"),
            "realpath": str(tmp_path / "gone"),
            "exists": False,
            "cuda_h": False,
            "nvcc": False,
        }
    }


@pytest.mark.skipif(
    not (REAL_TOOLKIT / "bin" / "nvcc").exists(), reason="no CUDA 13.0 toolkit here"
)
def test_real_toolkit_on_this_machine(make_ctx: MakeCtx) -> None:
    """The real probe finds the real CUDA 13.0 toolkit (through /usr/local/bin's wrapper)."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}
    facts = cuda.probe(make_ctx(env=env, options={"ldconfig_fallbacks": []}))
    assert facts["nvcc"]["release"] == "13.0"
    assert facts["toolkit_root"] == str(REAL_TOOLKIT)
    assert facts["cuda_h"] == str(REAL_TOOLKIT / "include" / "cuda.h")
    assert "9.0" in (facts["gpu_archs"] or [])
    assert any(t["root"] == str(REAL_TOOLKIT) for t in facts["toolkits"])


def test_library_of_another_cuda_major_does_not_resolve_the_toolkits(
    tmp_path: Path, make_ctx: MakeCtx
) -> None:
    """libcudart.so.13 on LD_LIBRARY_PATH does not stand for a 12.x toolkit's libcudart.so.12."""
    from kyudoctor.probes.cuda import _libraries

    toolkit = tmp_path / "cuda-12.8"
    (toolkit / "lib64").mkdir(parents=True)
    (toolkit / "lib64" / "libcudart.so.12").write_bytes(b"")
    other = tmp_path / "cuda-13.0-lib"
    other.mkdir()
    (other / "libcudart.so.13").write_bytes(b"")
    ctx = make_ctx(
        env={"PATH": str(tmp_path / "empty"), "LD_LIBRARY_PATH": str(other)},
        options={"ldconfig_fallbacks": []},
    )
    libraries, _ = _libraries(ctx, str(toolkit))
    assert libraries["libcudart"]["where"] == "toolkit"
    assert libraries["libcudart"]["soversion"] == "12"
    (other / "libcudart.so.12").write_bytes(b"")
    libraries, _ = _libraries(ctx, str(toolkit))
    assert libraries["libcudart"]["where"] == "LD_LIBRARY_PATH"
