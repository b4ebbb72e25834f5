"""The version policy: every version floor, ceiling and compatibility table kyudoctor knows.

The numbers live in ``kyudoctor/data/policy.toml``, each with its source; this module only reads
them and answers questions about them, so no check hard-codes a version. Facts the data marks
``verified = false`` ([inferred] / [unverified] sources) are passed on as a ``verified`` flag:
checks keep them out of hard failures.

Every query tolerates junk: an unparsable version string gives ``None`` (or the documented
neutral answer), never an exception. All comparisons use :mod:`packaging.version`.

>>> policy = load()
>>> policy.nvcc_max_gcc_major("V12.4.131")
13
>>> policy.best_torch_flavour("2.6.0", driver_max_cuda="12.4", cc="8.9")
'cu124'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from importlib.resources import files
from types import MappingProxyType
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from kyudoctor._toml import tomllib

__all__ = [
    "ArchList",
    "Compat",
    "CudaDriver",
    "DriverBranch",
    "DriverReq",
    "GpuInfo",
    "HostGcc",
    "KnownRequirements",
    "MoshiGeneration",
    "MvcMin",
    "Policy",
    "PolicyError",
    "TorchRelease",
    "WheelSupport",
    "load",
    "parse_cc",
    "parse_version",
]

# A version inside free text: not glued to a word before it ("cu124" is not a version), an
# optional leading v/V ("V12.4.131"), an optional PEP 440 local part ("+cu124").
_VERSION_IN_TEXT = re.compile(
    r"(?<![A-Za-z0-9.])[vV]?(\d+(?:\.\d+)*)(\+[A-Za-z0-9]+(?:\.[A-Za-z0-9]+)*)?"
)
# A CUDA wheel flavour: "cu" + major digits + one minor digit ("cu118", "cu128", "cu130").
_CUDA_FLAVOUR = re.compile(r"cu(\d+)(\d)")
# A compute capability: "8.9", "sm_89", "compute_90", "120" (CUDA_COMPUTE_CAP digits).
_CC_DOTTED = re.compile(r"(?:sm_|compute_)?(\d+)\.(\d+)")
_CC_DIGITS = re.compile(r"(?:sm_|compute_)?(\d+)(\d)")
_PTX_SUFFIX = "+PTX"


class PolicyError(ValueError):
    """The policy data file is malformed (a bug in ``policy.toml``, caught by the tests)."""


class Compat(str, Enum):
    """Whether a driver runs code built for a CUDA version."""

    YES = "yes"
    """The driver's maximum CUDA version is at least the one needed."""
    MINOR_COMPAT = "minor-compat"
    """Same major, driver at least the major's MVC minimum: runs, with limits."""
    NO = "no"
    """Older major, or below the MVC minimum."""
    UNKNOWN = "unknown"
    """An input was missing or unparsable, or the major's MVC minimum is not known."""


# ----------------------------------------------------------------------------------------------
# Version helpers
# ----------------------------------------------------------------------------------------------


def parse_version(text: str | None) -> Version | None:
    """A :class:`~packaging.version.Version` from tolerant text, or ``None`` when there is none.

    Accepts ``"12.4"``, ``"V12.4.131"``, ``"535.104.05"``, ``"2.6.0+cu124"``, and a version
    inside text such as ``"Cuda compilation tools, release 12.4, V12.4.131"`` (the first one).
    """
    if not isinstance(text, str):
        return None
    stripped = text.strip()
    if not stripped:
        return None
    try:
        return Version(stripped)
    except InvalidVersion:
        pass
    match = _VERSION_IN_TEXT.search(stripped)
    if match is None:
        return None
    try:
        return Version(match.group(1) + (match.group(2) or ""))
    except InvalidVersion:
        return None


def _major_minor(version: Version) -> tuple[int, int]:
    release = version.release
    return (release[0], release[1] if len(release) > 1 else 0)


def _mm(text: str | None) -> tuple[int, int] | None:
    version = parse_version(text)
    return None if version is None else _major_minor(version)


def _mm_str(mm: tuple[int, int]) -> str:
    return f"{mm[0]}.{mm[1]}"


def parse_cc(text: str | None) -> tuple[int, int] | None:
    """``(major, minor)`` of a compute capability such as ``"8.9"``, ``"sm_89"`` or ``"120"``.

    Digits alone (``CUDA_COMPUTE_CAP``, ``sm_XX``) end with the minor. ``None`` for junk.
    """
    if not isinstance(text, str):
        return None
    stripped = text.strip().lower()
    match = _CC_DOTTED.fullmatch(stripped) or _CC_DIGITS.fullmatch(stripped)
    if match is None:
        return None
    return (int(match.group(1)), int(match.group(2)))


def _flavour_name(flavour: str | None) -> str | None:
    if not isinstance(flavour, str):
        return None
    name = flavour.strip().lstrip("+").lower()
    return name or None


# ----------------------------------------------------------------------------------------------
# Rows of the policy tables
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostGcc:
    """nvcc release -> newest host GCC major its ``crt/host_config.h`` accepts."""

    cuda: str
    max_gcc_major: int
    verified: bool
    ga_versions: tuple[str, ...] = ()
    """nvcc / toolkit versions of a GA build with a lower ceiling (11.4.0 GA)."""
    ga_max_gcc_major: int | None = None


@dataclass(frozen=True)
class CudaDriver:
    """The drivers packaged with a CUDA toolkit release."""

    cuda: str
    toolkit_driver: str
    updates: tuple[str, ...] = ()


@dataclass(frozen=True)
class MvcMin:
    """Minimum driver for CUDA minor-version compatibility across one major release."""

    major: int
    min_driver: str
    verified: bool


@dataclass(frozen=True)
class DriverReq:
    """What a CUDA release needs from the driver."""

    toolkit_driver: str
    """The driver bundled with the GA toolkit (full support)."""
    mvc_min: str
    """The minimum for minor-version compatibility (runs, with limits)."""
    verified: bool


@dataclass(frozen=True)
class DriverBranch:
    """A driver branch and the CUDA version it reports (an [inferred] table but for R570)."""

    branch: int
    cuda: str
    verified: bool


@dataclass(frozen=True)
class TorchRelease:
    """One torch release (major.minor) as shipped for Linux x86_64."""

    release: str
    went_live: str
    flavours: tuple[str, ...]
    """CUDA flavours (``"cu124"``) on the PyTorch index."""
    default_flavour: str
    """The flavour of the plain PyPI wheel."""
    default_verified: bool
    python_min: str
    python_max: str
    torchaudio: tuple[str, ...]


@dataclass(frozen=True)
class ArchList:
    """``TORCH_CUDA_ARCH_LIST`` of one (release, flavour)."""

    releases: tuple[str, ...]
    flavour: str
    archs: str
    """PyTorch's own notation, e.g. ``"7.5;8.0;8.6;9.0;10.0;12.0+PTX"``."""
    cubins: tuple[str, ...]
    ptx: tuple[str, ...]
    verified: bool
    ptx_verified: bool


@dataclass(frozen=True)
class GpuInfo:
    """A GPU model and its compute capability."""

    name: str
    cc: str
    verified: bool


@dataclass(frozen=True)
class MoshiGeneration:
    """One pin generation of moshi-server's Python project (``tts-python``)."""

    moshi: str
    date: str | None
    current: bool
    for_moshi_server: str | None
    project: str | None
    requires_python: str | None
    dependencies: tuple[str, ...]
    optional: frozenset[str]
    torch_flavour: str | None
    lock: Mapping[str, str]
    moshi_requires_python: str | None
    moshi_requires: tuple[str, ...]
    """The Python ``moshi`` wheel's own Requires-Dist (extras left out)."""


@dataclass(frozen=True)
class KnownRequirements:
    """moshi-server's Python requirements, used when the user gives no pyproject."""

    requires_python: str
    dependencies: tuple[str, ...]
    """PEP 508 strings of moshi-server's pyproject."""
    optional: frozenset[str]
    """Dependencies whose absence is a warning, not an error (xformers: PY004)."""
    lock: Mapping[str, str]
    """Versions in the generation's uv.lock (``{"torch": "2.9.1", ...}``)."""
    torch_flavour: str
    source: str
    moshi_requires: tuple[str, ...] = ()
    moshi_requires_python: str | None = None


@dataclass(frozen=True)
class WheelSupport:
    """Which CPython versions have a Linux x86_64 wheel of one release."""

    package: str
    version: str
    cpython: tuple[str, ...]
    probed: tuple[str, ...]
    """The versions asked about; others are unknown."""
    newest_in: tuple[str, ...] = ()
    """Range specifiers for which this release was the newest on PyPI."""


# ----------------------------------------------------------------------------------------------
# Reading the data
# ----------------------------------------------------------------------------------------------


def _get(table: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in table:
        raise PolicyError(f"{where}: missing key {key!r}")
    value = table[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    # bool is an int: keep "= true" from passing as a number.
    if not isinstance(value, kind) or (kind in (int, float) and isinstance(value, bool)):
        raise PolicyError(f"{where}.{key}: expected {kind.__name__}, got {value!r}")
    return value


def _str(table: Mapping[str, Any], key: str, where: str) -> str:
    value: str = _get(table, key, str, where)
    return value


def _opt_str(table: Mapping[str, Any], key: str, where: str) -> str | None:
    return _str(table, key, where) if key in table else None


def _int(table: Mapping[str, Any], key: str, where: str) -> int:
    value: int = _get(table, key, int, where)
    return value


def _float(table: Mapping[str, Any], key: str, where: str) -> float:
    value: float = _get(table, key, float, where)
    return value


def _bool(table: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
    if key not in table:
        return default
    value: bool = _get(table, key, bool, where)
    return value


def _strs(table: Mapping[str, Any], key: str, where: str, default: bool = False) -> tuple[str, ...]:
    if key not in table and default:
        return ()
    values = _get(table, key, list, where)
    if not all(isinstance(v, str) for v in values):
        raise PolicyError(f"{where}.{key}: expected a list of strings")
    return tuple(values)


def _table(table: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value: Mapping[str, Any] = _get(table, key, dict, where)
    return value


def _tables(table: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    rows = _get(table, key, list, where)
    if not all(isinstance(r, dict) for r in rows):
        raise PolicyError(f"{where}.{key}: expected an array of tables")
    return list(rows)


def _version_str(text: str, where: str) -> str:
    if parse_version(text) is None:
        raise PolicyError(f"{where}: {text!r} is not a version")
    return text


def _str_map(table: Mapping[str, Any], key: str, where: str) -> Mapping[str, str]:
    if key not in table:
        return MappingProxyType({})
    raw = _table(table, key, where)
    if not all(isinstance(v, str) for v in raw.values()):
        raise PolicyError(f"{where}.{key}: expected string values")
    return MappingProxyType(dict(raw))


def _read_host_gcc(row: Mapping[str, Any], where: str) -> HostGcc:
    ga = _strs(row, "ga_versions", where, default=True)
    ga_max = _int(row, "ga_max_gcc_major", where) if "ga_max_gcc_major" in row else None
    if bool(ga) != (ga_max is not None):
        raise PolicyError(f"{where}: ga_versions and ga_max_gcc_major go together")
    return HostGcc(
        cuda=_version_str(_str(row, "cuda", where), where),
        max_gcc_major=_int(row, "max_gcc_major", where),
        verified=_bool(row, "verified", where, True),
        ga_versions=tuple(_version_str(v, where) for v in ga),
        ga_max_gcc_major=ga_max,
    )


def _read_arch_list(row: Mapping[str, Any], where: str) -> ArchList:
    archs = _str(row, "archs", where)
    cubins: list[str] = []
    ptx: list[str] = []
    for item in archs.split(";"):
        cc = item.removesuffix(_PTX_SUFFIX)
        if _CC_DOTTED.fullmatch(cc) is None:
            raise PolicyError(f"{where}: bad arch {item!r}")
        cubins.append(cc)
        if item.endswith(_PTX_SUFFIX):
            ptx.append(cc)
    return ArchList(
        releases=_strs(row, "releases", where),
        flavour=_str(row, "flavour", where),
        archs=archs,
        cubins=tuple(cubins),
        ptx=tuple(ptx),
        verified=_bool(row, "verified", where, True),
        ptx_verified=_bool(row, "ptx_verified", where, True),
    )


def _read_generation(row: Mapping[str, Any], where: str) -> MoshiGeneration:
    return MoshiGeneration(
        moshi=_version_str(_str(row, "moshi", where), where),
        date=_opt_str(row, "date", where),
        current=_bool(row, "current", where, False),
        for_moshi_server=_opt_str(row, "for_moshi_server", where),
        project=_opt_str(row, "project", where),
        requires_python=_opt_str(row, "requires_python", where),
        dependencies=_strs(row, "dependencies", where, default=True),
        optional=frozenset(_strs(row, "optional", where, default=True)),
        torch_flavour=_opt_str(row, "torch_flavour", where),
        lock=_str_map(row, "lock", where),
        moshi_requires_python=_opt_str(row, "moshi_requires_python", where),
        moshi_requires=_strs(row, "moshi_requires", where, default=True),
    )


# ----------------------------------------------------------------------------------------------
# The policy
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """Every version fact kyudoctor uses, read from ``policy.toml``. Build it with :func:`load`."""

    gathered: str
    # Build toolchain
    gxx_min_major: int
    gcc_sentencepiece_broken_major: int
    gcc_sentencepiece_fallback_major: int
    gcc_sentencepiece_workaround: str
    cmake_broken_major: int
    cmake_policy_workaround: str
    cuda_build_min: str
    cuda_build_max: str
    cuda_recommended: str
    docker_base_image: str
    cudarc_override_env: str
    cudarc_override_env_from: str
    # Python (pyo3)
    python_min: str
    python_max: str
    python_pinned: str
    python_pinned_exact: str
    pyo3_version: str
    # GPU, VRAM
    bf16_min_cc: float
    vram_tts_gb: float
    vram_stt_gb: float
    vram_unmute_stack_gb: float
    vram_error_below_gb: float
    vram_slot_base_gb: float
    vram_per_slot_gb: float
    vram_reference_batch_size: int
    vram_per_slot_verified: bool
    disk_min_free_gb: float
    websockets_clean_1005_major: int
    docker_healthcheck_start_period_min_s: float
    python_moshi_shim_until: str
    websockets_additional_headers_major: int
    tls_expiry_warning_days: int
    # moshi-server
    moshi_server_recommended: str
    moshi_server_buggy_through: str
    moshi_server_bugs: tuple[str, ...]
    moshi_server_requires_script_versions: tuple[str, ...]
    # torch
    torch_min: str
    torch_index_base: str
    torch_cpu_flavour: str
    torchaudio_stable_abi_from: str
    integrated_ccs: tuple[str, ...]
    # Tables
    cudarc_max: Mapping[str, str] = field(repr=False)
    nvcc_host_gcc_table: tuple[HostGcc, ...] = field(repr=False)
    cuda_drivers: tuple[CudaDriver, ...] = field(repr=False)
    cuda_mvc: tuple[MvcMin, ...] = field(repr=False)
    driver_branches: tuple[DriverBranch, ...] = field(repr=False)
    torch_releases: tuple[TorchRelease, ...] = field(repr=False)
    torch_arch_lists: tuple[ArchList, ...] = field(repr=False)
    gpus: tuple[GpuInfo, ...] = field(repr=False)
    moshi_generations: tuple[MoshiGeneration, ...] = field(repr=False)
    wheels: tuple[WheelSupport, ...] = field(repr=False)

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Policy:
        """Build from parsed TOML; :class:`PolicyError` on malformed data."""
        build = _table(data, "build", "policy")
        cuda = _table(build, "cuda", "build")
        python = _table(data, "python", "policy")
        vram = _table(data, "vram", "policy")
        server = _table(data, "moshi_server", "policy")
        torch = _table(data, "torch", "policy")
        arch = _table(data, "torch_arch", "policy")
        features = _table(data, "gpu_features", "policy")
        environment = _table(data, "environment", "policy")
        clients = _table(data, "clients", "policy")
        docker = _table(data, "docker", "policy")

        releases = []
        for i, row in enumerate(_tables(torch, "releases", "torch")):
            where = f"torch.releases[{i}]"
            release = TorchRelease(
                release=_version_str(_str(row, "release", where), where),
                went_live=_str(row, "went_live", where),
                flavours=_strs(row, "flavours", where),
                default_flavour=_str(row, "default", where),
                default_verified=_bool(row, "default_verified", where, True),
                python_min=_version_str(_str(row, "python_min", where), where),
                python_max=_version_str(_str(row, "python_max", where), where),
                torchaudio=tuple(_version_str(v, where) for v in _strs(row, "torchaudio", where)),
            )
            releases.append(release)

        generations = tuple(
            _read_generation(row, f"moshi_server.python[{i}]")
            for i, row in enumerate(_tables(server, "python", "moshi_server"))
        )
        if sum(g.current for g in generations) != 1:
            raise PolicyError("moshi_server.python: exactly one generation must be current")
        current = next(g for g in generations if g.current)
        if current.requires_python is None or current.torch_flavour is None:
            raise PolicyError("moshi_server.python: the current generation needs requires_python")

        return cls(
            gathered=_str(data, "gathered", "policy"),
            gxx_min_major=_int(build, "gxx_min_major", "build"),
            gcc_sentencepiece_broken_major=_int(build, "gcc_sentencepiece_broken_major", "build"),
            gcc_sentencepiece_fallback_major=_int(
                build, "gcc_sentencepiece_fallback_major", "build"
            ),
            gcc_sentencepiece_workaround=_str(build, "gcc_sentencepiece_workaround", "build"),
            cmake_broken_major=_int(build, "cmake_broken_major", "build"),
            cmake_policy_workaround=_str(build, "cmake_policy_workaround", "build"),
            cuda_build_min=_version_str(_str(cuda, "min", "build.cuda"), "build.cuda"),
            cuda_build_max=_version_str(_str(cuda, "max", "build.cuda"), "build.cuda"),
            cuda_recommended=_version_str(_str(cuda, "recommended", "build.cuda"), "build.cuda"),
            docker_base_image=_str(cuda, "docker_base_image", "build.cuda"),
            cudarc_override_env=_str(cuda, "override_env", "build.cuda"),
            cudarc_override_env_from=_str(cuda, "override_env_from_cudarc", "build.cuda"),
            python_min=_version_str(_str(python, "min", "python"), "python"),
            python_max=_version_str(_str(python, "max", "python"), "python"),
            python_pinned=_version_str(_str(python, "pinned", "python"), "python"),
            python_pinned_exact=_version_str(_str(python, "pinned_exact", "python"), "python"),
            pyo3_version=_str(python, "pyo3", "python"),
            bf16_min_cc=_float(features, "bf16_min_cc", "gpu_features"),
            vram_tts_gb=_float(vram, "tts_gb", "vram"),
            vram_stt_gb=_float(vram, "stt_gb", "vram"),
            vram_unmute_stack_gb=_float(vram, "unmute_stack_gb", "vram"),
            vram_error_below_gb=_float(vram, "error_below_gb", "vram"),
            vram_slot_base_gb=_float(vram, "slot_base_gb", "vram"),
            vram_per_slot_gb=_float(vram, "per_slot_gb", "vram"),
            vram_reference_batch_size=_int(vram, "reference_batch_size", "vram"),
            vram_per_slot_verified=_bool(vram, "per_slot_verified", "vram", True),
            disk_min_free_gb=_float(environment, "disk_min_free_gb", "environment"),
            websockets_clean_1005_major=_int(clients, "websockets_clean_1005_major", "clients"),
            docker_healthcheck_start_period_min_s=_float(
                docker, "healthcheck_start_period_min_s", "docker"
            ),
            python_moshi_shim_until=_version_str(
                _str(docker, "python_moshi_shim_until", "docker"), "docker"
            ),
            websockets_additional_headers_major=_int(
                clients, "websockets_additional_headers_major", "clients"
            ),
            tls_expiry_warning_days=_int(clients, "tls_expiry_warning_days", "clients"),
            moshi_server_recommended=_version_str(
                _str(server, "recommended", "moshi_server"), "moshi_server"
            ),
            moshi_server_buggy_through=_version_str(
                _str(server, "buggy_through", "moshi_server"), "moshi_server"
            ),
            moshi_server_bugs=_strs(server, "bugs", "moshi_server"),
            moshi_server_requires_script_versions=_strs(server, "requires_script", "moshi_server"),
            torch_min=_version_str(_str(torch, "min", "torch"), "torch"),
            torch_index_base=_str(torch, "index_base", "torch").rstrip("/"),
            torch_cpu_flavour=_str(torch, "cpu_flavour", "torch"),
            torchaudio_stable_abi_from=_version_str(
                _str(torch, "torchaudio_stable_abi_from", "torch"), "torch"
            ),
            integrated_ccs=_strs(arch, "integrated_ccs", "torch_arch"),
            cudarc_max=MappingProxyType(
                {
                    _str(row, "cudarc", "build.cuda.cudarc_max"): _str(
                        row, "max", "build.cuda.cudarc_max"
                    )
                    for row in _tables(cuda, "cudarc_max", "build.cuda")
                }
            ),
            nvcc_host_gcc_table=tuple(
                _read_host_gcc(row, f"nvcc_host_gcc[{i}]")
                for i, row in enumerate(_tables(data, "nvcc_host_gcc", "policy"))
            ),
            cuda_drivers=tuple(
                CudaDriver(
                    cuda=_str(row, "cuda", "cuda_driver"),
                    toolkit_driver=_version_str(
                        _str(row, "toolkit_driver", "cuda_driver"), "cuda_driver"
                    ),
                    updates=_strs(row, "updates", "cuda_driver", default=True),
                )
                for row in _tables(data, "cuda_driver", "policy")
            ),
            cuda_mvc=tuple(
                MvcMin(
                    major=_int(row, "major", "cuda_mvc"),
                    min_driver=_version_str(_str(row, "min_driver", "cuda_mvc"), "cuda_mvc"),
                    verified=_bool(row, "verified", "cuda_mvc", True),
                )
                for row in _tables(data, "cuda_mvc", "policy")
            ),
            driver_branches=tuple(
                DriverBranch(
                    branch=_int(row, "branch", "driver_branch"),
                    cuda=_str(row, "cuda", "driver_branch"),
                    verified=_bool(row, "verified", "driver_branch", True),
                )
                for row in _tables(data, "driver_branch", "policy")
            ),
            torch_releases=tuple(releases),
            torch_arch_lists=tuple(
                _read_arch_list(row, f"torch_arch.lists[{i}]")
                for i, row in enumerate(_tables(arch, "lists", "torch_arch"))
            ),
            gpus=tuple(
                GpuInfo(
                    name=_str(row, "name", "gpus"),
                    cc=_str(row, "cc", "gpus"),
                    verified=_bool(row, "verified", "gpus", True),
                )
                for row in _tables(data, "gpus", "policy")
            ),
            moshi_generations=generations,
            wheels=tuple(
                WheelSupport(
                    package=canonicalize_name(_str(row, "package", "wheels")),
                    version=_version_str(_str(row, "version", "wheels"), "wheels"),
                    cpython=_strs(row, "cpython", "wheels"),
                    probed=_strs(row, "probed", "wheels"),
                    newest_in=_strs(row, "newest_in", "wheels", default=True),
                )
                for row in _tables(data, "wheels", "policy")
            ),
        )

    # -- build toolchain ------------------------------------------------------------------------

    def cuda_build_supported(self, cuda: str | None) -> bool:
        """Whether cudarc builds moshi-server with this toolkit (by major.minor, within range)."""
        mm = _mm(cuda)
        low, high = _mm(self.cuda_build_min), _mm(self.cuda_build_max)
        if mm is None or low is None or high is None:
            return False
        return low <= mm <= high

    def cuda_build_max_for_cudarc(self, cudarc_version: str | None) -> str:
        """The newest toolkit a given cudarc release accepts (the general maximum if no row)."""
        version = parse_version(cudarc_version)
        if version is not None:
            for cudarc, cuda_max in self.cudarc_max.items():
                if Version(cudarc) == version:
                    return cuda_max
        return self.cuda_build_max

    def nvcc_host_gcc(self, nvcc_version: str | None) -> HostGcc | None:
        """The host-compiler row of an nvcc release, or ``None`` for a release not in the table."""
        mm = _mm(nvcc_version)
        if mm is None:
            return None
        for row in self.nvcc_host_gcc_table:
            if _mm(row.cuda) == mm:
                return row
        return None

    def nvcc_max_gcc_major(self, nvcc_version: str | None) -> int | None:
        """The newest GCC major nvcc accepts as host compiler; ``None`` when unknown.

        Takes the nvcc version as ``nvcc --version`` prints it (``"V11.4.48"``, ``"12.4.131"``).
        11.4.0 GA (nvcc build 11.4.48, toolkit release 11.4.0) caps at a lower major than the
        11.4 updates; a bare ``"11.4"`` gets the updates' value. A release newer than the table
        (or missing from it, such as 12.7) gives ``None``: never a guess.
        """
        row = self.nvcc_host_gcc(nvcc_version)
        version = parse_version(nvcc_version)
        if row is None or version is None:
            return None
        if row.ga_max_gcc_major is not None and len(version.release) >= 3:
            for ga in row.ga_versions:
                if Version(ga).release == version.release[:3]:
                    return row.ga_max_gcc_major
        return row.max_gcc_major

    # -- driver -------------------------------------------------------------------------------

    def mvc_min_driver(self, cuda: str | None) -> MvcMin | None:
        """The minor-version-compatibility minimum driver of this CUDA version's major."""
        mm = _mm(cuda)
        if mm is None:
            return None
        return next((row for row in self.cuda_mvc if row.major == mm[0]), None)

    def driver_min_for_cuda(self, cuda: str | None) -> DriverReq | None:
        """The GA toolkit driver and the MVC minimum for a CUDA release; ``None`` if unknown."""
        mm = _mm(cuda)
        if mm is None:
            return None
        row = next((r for r in self.cuda_drivers if _mm(r.cuda) == mm), None)
        mvc = self.mvc_min_driver(cuda)
        if row is None or mvc is None:
            return None
        return DriverReq(
            toolkit_driver=row.toolkit_driver, mvc_min=mvc.min_driver, verified=mvc.verified
        )

    def driver_branch(self, driver_version: str | None) -> DriverBranch | None:
        """The CUDA version a driver branch reports (``"550.54.14"`` -> 12.4); mind ``verified``."""
        version = parse_version(driver_version)
        if version is None:
            return None
        return next((b for b in self.driver_branches if b.branch == version.release[0]), None)

    def driver_supports_cuda(
        self,
        driver_max_cuda: str | None,
        needed_cuda: str | None,
        driver_version: str | None = None,
    ) -> Compat:
        """Whether a driver runs code built for ``needed_cuda``.

        ``driver_max_cuda`` is what the driver reports (NVML / nvidia-smi "CUDA Version").
        YES when it is at least ``needed_cuda`` (by major.minor). MINOR_COMPAT when the major is
        the same and the driver is at least that major's MVC minimum: it runs, with limits
        (without ``driver_version``, a driver reporting that major is taken to meet it). NO
        otherwise. UNKNOWN for unparsable input, or an MVC minimum the data does not know.
        """
        have, need = _mm(driver_max_cuda), _mm(needed_cuda)
        if have is None or need is None:
            return Compat.UNKNOWN
        if have >= need:
            return Compat.YES
        if have[0] != need[0]:
            return Compat.NO
        if driver_version is None:
            return Compat.MINOR_COMPAT
        driver = parse_version(driver_version)
        mvc = self.mvc_min_driver(needed_cuda)
        if driver is None or mvc is None:
            return Compat.UNKNOWN
        return Compat.MINOR_COMPAT if driver >= Version(mvc.min_driver) else Compat.NO

    # -- torch ----------------------------------------------------------------------------------

    def torch_release(self, torch_version: str | None) -> TorchRelease | None:
        """The release row of a torch version (``"2.6.0+cu124"`` -> 2.6), ``None`` if unknown."""
        mm = _mm(torch_version)
        if mm is None:
            return None
        return next((r for r in self.torch_releases if _mm(r.release) == mm), None)

    def torch_too_old(self, torch_version: str | None) -> bool | None:
        """Whether torch is below the moshi floor (TORCH004); ``None`` for junk."""
        version = parse_version(torch_version)
        if version is None:
            return None
        return _major_minor(version) < _major_minor(Version(self.torch_min))

    def torch_python_supported(self, torch_version: str | None, python: str | None) -> bool | None:
        """Whether PyPI has Linux x86_64 wheels of this torch release for this CPython."""
        release = self.torch_release(torch_version)
        mm = _mm(python)
        if release is None or mm is None:
            return None
        low, high = _mm(release.python_min), _mm(release.python_max)
        assert low is not None and high is not None  # validated on load
        return low <= mm <= high

    def torch_flavour_of(
        self, torch_version_string: str | None, version_py_cuda: str | None
    ) -> str | None:
        """The flavour of an installed torch: ``"cu124"``, ``"cpu"``, ``"rocm6.2"``...

        The local version part wins (``"2.6.0+cu124"``). Without one, ``version_py_cuda`` (the
        ``cuda`` of ``torch/version.py``) decides: ``"12.8"`` -> ``"cu128"``; ``None`` -> ``"cpu"``,
        so pass ``None`` only when version.py says so. ``None`` for an unparsable version.
        """
        version = parse_version(torch_version_string)
        if version is None:
            return None
        if version.local:
            return version.local.lower()
        if version_py_cuda is None:
            return self.torch_cpu_flavour
        mm = _mm(version_py_cuda)
        return None if mm is None else f"cu{mm[0]}{mm[1]}"

    def flavour_cuda(self, flavour: str | None) -> str | None:
        """The CUDA version of a flavour (``"cu128"`` -> ``"12.8"``); ``None`` for cpu/junk."""
        name = _flavour_name(flavour)
        match = None if name is None else _CUDA_FLAVOUR.fullmatch(name)
        if match is None:
            return None
        return f"{int(match.group(1))}.{match.group(2)}"

    def index_url(self, flavour: str) -> str:
        """The PyTorch index of a flavour: ``"cu124"`` -> ``.../whl/cu124``."""
        return f"{self.torch_index_base}/{_flavour_name(flavour) or self.torch_cpu_flavour}"

    def torch_arch_list(self, torch_version: str | None, flavour: str | None) -> ArchList | None:
        """The arch list of a (release, flavour), or ``None`` when the data has none."""
        release = self.torch_release(torch_version)
        name = _flavour_name(flavour)
        if release is None or name is None:
            return None
        return next(
            (
                a
                for a in self.torch_arch_lists
                if release.release in a.releases and a.flavour == name
            ),
            None,
        )

    def torch_supports_cc(
        self, torch_version: str | None, flavour: str | None, cc: str | None
    ) -> bool | None:
        """Whether a torch build has kernels for a GPU of compute capability ``cc``.

        A cubin X.y runs on the same major with minor >= y (not on integrated-GPU CCs, which
        need their exact cubin); PTX of X.y JIT-compiles on any CC >= X.y. ``None`` when the
        arch list of that build is not in the data (also for "cpu") or ``cc`` is junk; see
        :meth:`torch_arch_list` for ``verified``.
        """
        arch_list = self.torch_arch_list(torch_version, flavour)
        gpu = parse_cc(cc)
        if arch_list is None or gpu is None:
            return None
        integrated = {parse_cc(c) for c in self.integrated_ccs}
        for cubin in arch_list.cubins:
            built = parse_cc(cubin)
            assert built is not None  # validated on load
            if built == gpu or (
                gpu not in integrated and built[0] == gpu[0] and built[1] <= gpu[1]
            ):
                return True
        for ptx in arch_list.ptx:
            built = parse_cc(ptx)
            assert built is not None  # validated on load
            if built <= gpu:
                return True
        return False

    def best_torch_flavour(
        self, torch_version: str | None, driver_max_cuda: str | None, cc: str | None
    ) -> str | None:
        """The CUDA flavour of this torch release to install for this driver and GPU.

        Among the release's flavours whose arch list covers ``cc`` (any, when ``cc`` is None):
        the highest one the driver fully supports (driver max >= flavour CUDA). When none does,
        the lowest one of the driver's major (minor-version compatibility: runs with limits, and
        the smallest gap has the fewest). Driver unknown: PyPI's default flavour when it covers
        the GPU, else the highest that does. ``None`` when nothing fits or input is junk.
        """
        release = self.torch_release(torch_version)
        if release is None:
            return None
        if cc is not None and parse_cc(cc) is None:
            return None
        candidates: list[tuple[tuple[int, int], str]] = []
        for flavour in release.flavours:
            cuda_mm = _mm(self.flavour_cuda(flavour))
            if cuda_mm is None:
                continue
            if cc is not None and self.torch_supports_cc(release.release, flavour, cc) is not True:
                continue
            candidates.append((cuda_mm, flavour))
        if not candidates:
            return None
        if driver_max_cuda is None:
            names = [name for _, name in candidates]
            return (
                release.default_flavour if release.default_flavour in names else max(candidates)[1]
            )
        driver = _mm(driver_max_cuda)
        if driver is None:
            return None
        full = [c for c in candidates if c[0] <= driver]
        if full:
            return max(full)[1]
        same_major = [c for c in candidates if c[0][0] == driver[0]]
        return min(same_major)[1] if same_major else None

    def torchaudio_matches(
        self, torch_version: str | None, torchaudio_version: str | None
    ) -> bool | None:
        """Whether a torchaudio goes with a torch (TORCH006); ``None`` when unknown.

        Same major.minor matches. From the stable-ABI torchaudio (2.11.0) on, one torchaudio
        works with its own torch release and every later one.
        """
        torch_v, audio_v = parse_version(torch_version), parse_version(torchaudio_version)
        if torch_v is None or audio_v is None:
            return None
        torch_mm, audio_mm = _major_minor(torch_v), _major_minor(audio_v)
        if audio_mm >= _major_minor(Version(self.torchaudio_stable_abi_from)):
            return torch_mm >= audio_mm
        if audio_mm == torch_mm:
            return True
        return False if self.torch_release(torch_version) is not None else None

    # -- GPUs and memory ------------------------------------------------------------------------

    def gpu(self, gpu_name: str | None) -> GpuInfo | None:
        """The table row whose name appears, as whole words, in the driver's GPU name."""
        if not isinstance(gpu_name, str):
            return None
        words = re.findall(r"[a-z0-9]+", gpu_name.lower())
        best: GpuInfo | None = None
        best_len = 0
        for row in self.gpus:
            needle = re.findall(r"[a-z0-9]+", row.name.lower())
            if len(needle) > best_len and _contains_run(words, needle):
                best, best_len = row, len(needle)
        return best

    def gpu_cc(self, gpu_name: str | None) -> str | None:
        """Compute capability by GPU name: ``"NVIDIA GeForce RTX 4090"`` -> ``"8.9"``."""
        row = self.gpu(gpu_name)
        return None if row is None else row.cc

    def cc_supports_bf16(self, cc: str | None) -> bool | None:
        """Whether a compute capability has native bf16 (moshi-server's kernels need it)."""
        gpu = parse_cc(cc)
        if gpu is None:
            return None
        need = parse_cc(f"{self.bf16_min_cc:.1f}")
        assert need is not None
        return gpu >= need

    def vram_needed_gb(self, batch_size: int | None) -> float:
        """Estimated VRAM for the TTS with ``batch_size`` slots ([inferred]: see
        ``vram_per_slot_verified``); Kyutai's figure when the batch size is unknown."""
        if batch_size is None or isinstance(batch_size, bool) or batch_size < 1:
            return self.vram_tts_gb
        return round(self.vram_slot_base_gb + self.vram_per_slot_gb * batch_size, 2)

    # -- moshi-server ---------------------------------------------------------------------------

    def moshi_server_outdated(self, version: str | None) -> bool:
        """Whether an installed moshi-server is older than the recommended one (False for junk)."""
        parsed = parse_version(version)
        return parsed is not None and parsed < Version(self.moshi_server_recommended)

    def moshi_server_known_bugs(self, version: str | None) -> tuple[str, ...]:
        """The known bugs of a moshi-server version (empty when none known or junk)."""
        parsed = parse_version(version)
        if parsed is None or parsed > Version(self.moshi_server_buggy_through):
            return ()
        return self.moshi_server_bugs

    def moshi_server_requires_script(self, version: str | None) -> bool | None:
        """Whether this moshi-server needs ``script`` in a ``Py`` module (0.6.0, 0.6.1)."""
        parsed = parse_version(version)
        if parsed is None:
            return None
        return any(Version(v) == parsed for v in self.moshi_server_requires_script_versions)

    def moshi_generation(self, moshi_version: str | None) -> MoshiGeneration | None:
        """The pin generation of a Python ``moshi`` version, if it was ever moshi-server's pin."""
        parsed = parse_version(moshi_version)
        if parsed is None:
            return None
        return next((g for g in self.moshi_generations if Version(g.moshi) == parsed), None)

    def current_generation(self) -> MoshiGeneration:
        """The pin generation of the recommended moshi-server."""
        return next(g for g in self.moshi_generations if g.current)

    def known_requirements(self, moshi_server_version: str | None = None) -> KnownRequirements:
        """moshi-server's Python requirements when the user gives no pyproject.

        The pyproject is not embedded in the binary and no crate-version -> pin mapping is
        known for older servers, so every version gets the current generation (that of the
        recommended moshi-server); ``source`` says so.
        """
        gen = self.current_generation()
        asked = parse_version(moshi_server_version)
        for candidate in self.moshi_generations:
            if candidate.for_moshi_server and asked == Version(candidate.for_moshi_server):
                gen = candidate
        assert gen.requires_python is not None and gen.torch_flavour is not None  # on load
        server = gen.for_moshi_server or self.moshi_server_recommended
        return KnownRequirements(
            requires_python=gen.requires_python,
            dependencies=gen.dependencies,
            optional=gen.optional,
            lock=gen.lock,
            torch_flavour=gen.torch_flavour,
            source=(
                f"moshi-server {server} pyproject ({gen.project}, moshi=={gen.moshi} pin "
                f"generation of {gen.date}), kyudoctor policy data of {self.gathered}"
            ),
            moshi_requires=gen.moshi_requires,
            moshi_requires_python=gen.moshi_requires_python,
        )

    # -- wheels (PY006) -------------------------------------------------------------------------

    def _wheel_row(self, package: str | None, version: str | None) -> WheelSupport | None:
        parsed = parse_version(version)
        if not isinstance(package, str) or parsed is None:
            return None
        name = canonicalize_name(package)
        return next(
            (w for w in self.wheels if w.package == name and Version(w.version) == parsed), None
        )

    def wheel_python_support(
        self, package: str | None, version: str | None
    ) -> tuple[str, ...] | None:
        """CPython versions with a Linux x86_64 wheel of ``package==version`` (None: unknown)."""
        row = self._wheel_row(package, version)
        return None if row is None else row.cpython

    def wheel_available(
        self, package: str | None, version: str | None, python: str | None
    ) -> bool | None:
        """Whether ``package==version`` has a wheel for this CPython; ``None`` when not probed."""
        row = self._wheel_row(package, version)
        mm = _mm(python)
        if row is None or mm is None:
            return None
        if _mm_str(mm) in row.cpython:
            return True
        return False if _mm_str(mm) in row.probed else None

    def requirement_wheel_available(
        self, requirement: str | None, python: str | None
    ) -> bool | None:
        """Whether a PEP 508 requirement can be met from wheels on this CPython.

        ``==`` pins are looked up directly. For a range, the data's newest release inside it
        decides: a wheel -> True; a CPython newer than all of its wheels -> False (older
        releases never gain wheels for newer Pythons); otherwise ``None``.
        """
        if not isinstance(requirement, str):
            return None
        try:
            req = Requirement(requirement)
        except InvalidRequirement:
            return None
        mm = _mm(python)
        if mm is None:
            return None
        specs = list(req.specifier)
        if len(specs) == 1 and specs[0].operator in ("==", "==="):
            if "*" in specs[0].version:
                return None
            return self.wheel_available(req.name, specs[0].version, python)
        name = canonicalize_name(req.name)
        for row in self.wheels:
            if row.package != name or not _same_specifier(req.specifier, row.newest_in):
                continue
            if _mm_str(mm) in row.cpython:
                return True
            supported = [v for v in (_mm(c) for c in row.cpython) if v is not None]
            if _mm_str(mm) in row.probed and supported and mm > max(supported):
                return False
            return None
        return None


def _contains_run(words: list[str], needle: list[str]) -> bool:
    """Whether ``needle`` occurs as a contiguous run inside ``words``."""
    width = len(needle)
    return width > 0 and any(words[i : i + width] == needle for i in range(len(words) - width + 1))


def _same_specifier(spec: SpecifierSet, candidates: Iterable[str]) -> bool:
    for text in candidates:
        try:
            if SpecifierSet(text) == spec:
                return True
        except InvalidSpecifier:
            continue
    return False


@lru_cache(maxsize=1)
def load() -> Policy:
    """The policy from the package's ``data/policy.toml`` (read once, then cached)."""
    resource = files("kyudoctor") / "data" / "policy.toml"
    data: dict[str, Any] = tomllib.loads(resource.read_text(encoding="utf-8"))
    return Policy.from_mapping(data)
