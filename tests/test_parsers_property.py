"""Property tests: every parser of tool output takes any text without raising or hanging."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kyudoctor import policy
from kyudoctor.probes.binary import parse_ldd
from kyudoctor.probes.cuda import parse_gpu_archs, parse_ldconfig, parse_nvcc_version
from kyudoctor.probes.gpu import parse_compute_apps, parse_query_gpu, parse_smi_header
from kyudoctor.probes.system import parse_os_release
from kyudoctor.probes.toolchain import parse_compiler_banner, parse_plain_version

PARSERS: dict[str, Callable[[str], Any]] = {
    "ldd": parse_ldd,
    "nvcc --list-gpu-arch": parse_gpu_archs,
    "ldconfig -p": parse_ldconfig,
    "nvcc --version": parse_nvcc_version,
    "nvidia-smi --query-compute-apps": parse_compute_apps,
    "nvidia-smi --query-gpu": parse_query_gpu,
    "nvidia-smi header": parse_smi_header,
    "/etc/os-release": parse_os_release,
    "compiler banner": parse_compiler_banner,
    "--version line": parse_plain_version,
    "policy.parse_version": policy.parse_version,
    "policy.parse_cc": policy.parse_cc,
}

# Text shaped like tool output: the characters these formats use, plus anything at all.
tool_text = st.one_of(
    st.text(),
    st.text(alphabet=" \t\n\r,.:|=>()[]/-_+0123456789abcdefxNVIDIAsmCUDAVersion"),
    st.lists(
        st.sampled_from(
            [
                "| NVIDIA-SMI 550.54.14    Driver Version: 550.54.14    CUDA Version: 12.4 |",
                "0, NVIDIA H100 80GB HBM3, GPU-1, 81559, 80000, 10, 9.0, 570.124.06",
                "Cuda compilation tools, release 12.4, V12.4.131",
                "\tlibpython3.12.so.1.0 => not found",
                "\tlibcudart.so.12 (libc6,x86-64) => /usr/local/cuda/lib64/libcudart.so.12",
                "compute_90",
                "g++ (GCC) 15.1.1 20250425",
                'PRETTY_NAME="Debian GNU/Linux 12"',
                "[N/A]",
                "",
            ]
        )
    ).map("\n".join),
)


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=150, deadline=None)
@given(text=tool_text)
def test_parsers_never_raise(name: str, text: str) -> None:
    """Whatever a tool prints (truncated, garbled, another version's format), parsing returns."""
    PARSERS[name](text)
