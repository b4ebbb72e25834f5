"""Tests of the version policy data (kyudoctor/data/policy.toml) and its query API."""

from __future__ import annotations

import sys
from importlib.resources import files
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from kyudoctor.policy import Compat, DriverReq, Policy, PolicyError, load, parse_cc, parse_version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]


@pytest.fixture(scope="module")
def policy() -> Policy:
    """The policy as shipped."""
    return load()


def _raw() -> dict[str, Any]:
    text = (files("kyudoctor") / "data" / "policy.toml").read_text(encoding="utf-8")
    data: dict[str, Any] = tomllib.loads(text)
    return data


# -- the data file ------------------------------------------------------------------------------


def test_policy_toml_parses_and_loads() -> None:
    """The shipped data file is valid TOML and builds a Policy."""
    assert isinstance(Policy.from_mapping(_raw()), Policy)


def test_load_is_cached() -> None:
    """load() reads the file once and returns the same object."""
    assert load() is load()


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        ("gxx_min_major", 11),
        ("gcc_sentencepiece_broken_major", 15),
        ("cmake_broken_major", 4),
        ("cmake_policy_workaround", "CMAKE_POLICY_VERSION_MINIMUM=3.5"),
        ("cuda_build_min", "11.4"),
        ("cuda_build_max", "12.9"),
        ("cuda_recommended", "12.8"),
        ("docker_base_image", "nvidia/cuda:12.8.1-devel-ubuntu22.04"),
        ("python_min", "3.10"),
        ("python_max", "3.13"),
        ("python_pinned", "3.12"),
        ("bf16_min_cc", 8.0),
        ("vram_tts_gb", 5.3),
        ("vram_error_below_gb", 6.0),
        ("vram_unmute_stack_gb", 16.0),
        ("disk_min_free_gb", 10.0),
        ("moshi_server_recommended", "0.6.4"),
        ("torch_min", "2.2"),
    ],
)
def test_scalar_facts(policy: Policy, attribute: str, expected: object) -> None:
    """Each scalar fact the checks rely on has the sourced value."""
    assert getattr(policy, attribute) == expected


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["build"].pop("gxx_min_major"), "gxx_min_major"),
        (lambda d: d["build"].__setitem__("gxx_min_major", True), "expected int"),
        (lambda d: d["torch"]["releases"][0].__setitem__("release", "junk"), "not a version"),
        (lambda d: d["torch_arch"]["lists"][0].__setitem__("archs", "8.0;sm_90"), "bad arch"),
        (
            lambda d: d["moshi_server"]["python"][0].__setitem__("current", True),
            "exactly one generation",
        ),
    ],
)
def test_malformed_data_is_rejected(mutate: Any, message: str) -> None:
    """Malformed data raises PolicyError naming the problem."""
    data = _raw()
    mutate(data)
    with pytest.raises(PolicyError, match=message):
        Policy.from_mapping(data)


# -- parse_version ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.4", "12.4"),
        ("V12.4.131", "12.4.131"),
        ("535.104.05", "535.104.5"),
        ("2.6.0+cu124", "2.6.0+cu124"),
        ("Cuda compilation tools, release 12.4, V12.4.131", "12.4"),
        ("  13.0.88\n", "13.0.88"),
        ("cu124", None),
        ("junk", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_version(text: str | None, expected: str | None) -> None:
    """Versions are read tolerantly, and junk gives None."""
    parsed = parse_version(text)
    assert (None if parsed is None else str(parsed)) == expected


@pytest.mark.parametrize(
    ("text", "cc"),
    [
        ("8.9", (8, 9)),
        ("12.0", (12, 0)),
        ("sm_89", (8, 9)),
        ("120", (12, 0)),
        ("compute_90", (9, 0)),
        ("8", None),
        ("x.y", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_cc(text: str | None, cc: tuple[int, int] | None) -> None:
    """Compute capabilities are read dotted or as sm_XX / CUDA_COMPUTE_CAP digits."""
    assert parse_cc(text) == cc


# -- build toolchain ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nvcc", "max_gcc"),
    [
        ("11.4.48", 10),
        ("V11.4.48", 10),
        ("11.4.0", 10),
        ("11.4.152", 11),
        ("11.4", 11),
        ("11.8.89", 11),
        ("12.1", 12),
        ("12.1.105", 12),
        ("12.3", 12),
        ("12.3.107", 12),
        ("12.4", 13),
        ("12.4.131", 13),
        ("12.8", 14),
        ("12.9.86", 14),
        ("13.0", 15),
        ("13.0.88", 15),
        ("12.7", None),
        ("13.1", None),
        ("14.0", None),
        ("junk", None),
        (None, None),
    ],
)
def test_nvcc_max_gcc_major(policy: Policy, nvcc: str | None, max_gcc: int | None) -> None:
    """nvcc's host GCC ceiling comes from the header table; unknown releases give None."""
    assert policy.nvcc_max_gcc_major(nvcc) == max_gcc


@pytest.mark.parametrize(
    ("nvcc", "verified"),
    [("11.4.152", False), ("11.5", False), ("11.6", False), ("11.7", True), ("13.0", True)],
)
def test_nvcc_rows_without_a_header_are_unverified(
    policy: Policy, nvcc: str, verified: bool
) -> None:
    """The 11.4-11.6 ceilings, read in no header, are flagged unverified."""
    row = policy.nvcc_host_gcc(nvcc)
    assert row is not None and row.verified is verified


@pytest.mark.parametrize(
    ("cuda", "supported"),
    [
        ("11.3", False),
        ("11.4", True),
        ("11.4.48", True),
        ("12.4.131", True),
        ("12.9", True),
        ("12.9.86", True),
        ("13.0", False),
        ("10.2", False),
        ("junk", False),
        (None, False),
    ],
)
def test_cuda_build_supported(policy: Policy, cuda: str | None, supported: bool) -> None:
    """cudarc builds with toolkits 11.4 to 12.9 only."""
    assert policy.cuda_build_supported(cuda) is supported


@pytest.mark.parametrize(
    ("cudarc", "cuda_max"), [("0.16.2", "12.8"), ("0.16.4", "12.9"), (None, "12.9")]
)
def test_cuda_build_max_for_cudarc(policy: Policy, cudarc: str | None, cuda_max: str) -> None:
    """cudarc 0.16.2 stops at 12.8; others get the general maximum."""
    assert policy.cuda_build_max_for_cudarc(cudarc) == cuda_max


# -- driver -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("driver_max", "needed", "driver", "expected"),
    [
        ("12.4", "12.8", "550.54", Compat.MINOR_COMPAT),
        ("12.4", "12.8", None, Compat.MINOR_COMPAT),
        ("12.8", "12.4", None, Compat.YES),
        ("12.4", "12.4.131", None, Compat.YES),
        ("13.0", "12.8", "580.65.06", Compat.YES),
        ("11.8", "12.4", None, Compat.NO),
        ("11.8", "12.4", "520.61.05", Compat.NO),
        ("12.0", "12.8", "510.47.03", Compat.NO),
        ("13.0", "13.2", "580.82.07", Compat.MINOR_COMPAT),
        ("junk", "12.4", None, Compat.UNKNOWN),
        ("12.4", None, None, Compat.UNKNOWN),
        ("12.4", "12.8", "junk", Compat.UNKNOWN),
    ],
)
def test_driver_supports_cuda(
    policy: Policy, driver_max: str, needed: str | None, driver: str | None, expected: Compat
) -> None:
    """A driver runs newer CUDA of its major only above the MVC minimum, and never a newer major."""
    assert policy.driver_supports_cuda(driver_max, needed, driver) is expected


def test_compat_values_are_the_documented_strings() -> None:
    """Compat compares equal to its documented string values."""
    assert [c.value for c in Compat] == ["yes", "minor-compat", "no", "unknown"]
    assert Compat("minor-compat") is Compat.MINOR_COMPAT
    assert isinstance(Compat.YES, str)


@pytest.mark.parametrize(
    ("cuda", "expected"),
    [
        ("12.4.131", DriverReq("550.54.14", "525.60.13", True)),
        ("11.8", DriverReq("520.61.05", "450.80.02", True)),
        ("12.8", DriverReq("570.26", "525.60.13", True)),
        ("13.0", DriverReq("580.65.06", "580", False)),
        ("12.7", None),
        ("junk", None),
    ],
)
def test_driver_min_for_cuda(policy: Policy, cuda: str, expected: DriverReq | None) -> None:
    """Each CUDA release maps to its GA driver and its major's MVC minimum (13.x unverified)."""
    assert policy.driver_min_for_cuda(cuda) == expected


@pytest.mark.parametrize(
    ("driver", "cuda", "verified"),
    [
        ("550.54.14", "12.4", False),
        ("570.124.06", "12.8", True),
        ("535.104.05", "12.2", False),
        ("580.95.05", "13.0", False),
    ],
)
def test_driver_branch(policy: Policy, driver: str, cuda: str, verified: bool) -> None:
    """A driver branch maps to the CUDA version it reports, flagged as inferred but for R570."""
    branch = policy.driver_branch(driver)
    assert branch is not None and (branch.cuda, branch.verified) == (cuda, verified)


@pytest.mark.parametrize("driver", ["999.1", "junk", None])
def test_unknown_driver_branch(policy: Policy, driver: str | None) -> None:
    """An unknown branch or junk gives None."""
    assert policy.driver_branch(driver) is None


# -- torch --------------------------------------------------------------------------------------

ALL_TORCH_RELEASES = [f"2.{minor}" for minor in range(2, 15)]


@pytest.mark.parametrize("release", ALL_TORCH_RELEASES)
def test_every_torch_release_is_complete(policy: Policy, release: str) -> None:
    """Every torch release 2.2-2.14 has flavours, a default among them, Python range, torchaudio."""
    row = policy.torch_release(f"{release}.0")
    assert row is not None
    assert row.default_flavour in row.flavours
    assert Version(row.python_min) <= Version(row.python_max)
    assert row.torchaudio
    for flavour in row.flavours:
        assert policy.flavour_cuda(flavour) is not None
        assert policy.torch_arch_list(release, flavour) is not None, flavour


@pytest.mark.parametrize(
    ("version", "release"), [("2.6.0+cu124", "2.6"), ("2.14.1", "2.14"), ("2.1.2", None)]
)
def test_torch_release_lookup(policy: Policy, version: str, release: str | None) -> None:
    """A torch version maps to its release row by major.minor."""
    row = policy.torch_release(version)
    assert (None if row is None else row.release) == release


@pytest.mark.parametrize(
    ("version", "too_old"), [("2.1.2", True), ("1.13.1", True), ("2.2.0", False), ("junk", None)]
)
def test_torch_too_old(policy: Policy, version: str, too_old: bool | None) -> None:
    """torch below 2.2 is too old for moshi."""
    assert policy.torch_too_old(version) is too_old


@pytest.mark.parametrize(
    ("torch", "python", "supported"),
    [
        ("2.2.2", "3.12", True),
        ("2.2.2", "3.13", False),
        ("2.6.0", "3.14", False),
        ("2.9.1", "3.14", True),
        ("2.9.1", "3.9", False),
        ("2.14.1", "3.15", False),
        ("2.1.0", "3.11", None),
    ],
)
def test_torch_python_supported(
    policy: Policy, torch: str, python: str, supported: bool | None
) -> None:
    """PyPI wheels exist only for the release's CPython range."""
    assert policy.torch_python_supported(torch, python) is supported


@pytest.mark.parametrize(
    ("torch", "version_py_cuda", "flavour"),
    [
        ("2.6.0+cu124", "12.4", "cu124"),
        ("2.6.0+cu124", None, "cu124"),
        ("2.13.0+cpu", None, "cpu"),
        ("2.9.1", "12.8", "cu128"),
        ("2.11.0", "13.0", "cu130"),
        ("2.9.1", None, "cpu"),
        ("2.5.1+rocm6.2", None, "rocm6.2"),
        ("junk", "12.4", None),
    ],
)
def test_torch_flavour_of(
    policy: Policy, torch: str, version_py_cuda: str | None, flavour: str | None
) -> None:
    """The local version part names the flavour; otherwise torch/version.py's cuda does."""
    assert policy.torch_flavour_of(torch, version_py_cuda) == flavour


@pytest.mark.parametrize(
    ("flavour", "cuda"),
    [
        ("cu118", "11.8"),
        ("cu128", "12.8"),
        ("+cu124", "12.4"),
        ("cu130", "13.0"),
        ("cu132", "13.2"),
        ("cpu", None),
        ("rocm6.2", None),
        ("", None),
    ],
)
def test_flavour_cuda(policy: Policy, flavour: str, cuda: str | None) -> None:
    """A cuXYZ flavour names CUDA X.Y... with the last digit as the minor."""
    assert policy.flavour_cuda(flavour) == cuda


@pytest.mark.parametrize(
    ("flavour", "url"),
    [
        ("cu124", "https://download.pytorch.org/whl/cu124"),
        ("+cu128", "https://download.pytorch.org/whl/cu128"),
        ("cpu", "https://download.pytorch.org/whl/cpu"),
    ],
)
def test_index_url(policy: Policy, flavour: str, url: str) -> None:
    """Each flavour has its PyTorch index URL."""
    assert policy.index_url(flavour) == url


@pytest.mark.parametrize(
    ("torch", "flavour", "cc", "supported"),
    [
        ("2.6.0", "cu124", "12.0", False),
        ("2.7.1", "cu128", "12.0", True),
        ("2.7.1", "cu128", "7.0", False),
        ("2.8.0", "cu128", "7.0", True),
        ("2.6.0", "cu124", "8.9", True),
        ("2.9.1", "cu130", "6.1", False),
        ("2.6.0", "cu124", "6.1", True),
        ("2.11.0", "cu128", "7.0", False),
        ("2.11.0", "cu126", "7.0", True),
        ("2.6.0", "cu118", "3.7", True),
        ("2.7.1", "cu128", "12.1", True),
        ("2.9.1", "cu128", "10.3", True),
        ("2.13.0", "cu130", "13.0", True),
        ("2.10.0", "cu128", "13.0", False),
        ("2.6.0", "cu124", "8.7", False),
        ("2.6.0", "cu124", "sm_89", True),
        ("2.6.0", "cu124", "89", True),
        ("2.6.0", "cpu", "8.9", None),
        ("2.1.0", "cu121", "8.9", None),
        ("2.6.0", "cu124", "junk", None),
    ],
)
def test_torch_supports_cc(
    policy: Policy, torch: str, flavour: str, cc: str, supported: bool | None
) -> None:
    """Cubins cover same-major GPUs of equal or higher minor; PTX covers any newer CC."""
    assert policy.torch_supports_cc(torch, flavour, cc) is supported


@pytest.mark.parametrize(
    ("torch", "flavour", "verified", "ptx_verified"),
    [
        ("2.6.0", "cu124", False, True),
        ("2.7.1", "cu128", True, True),
        ("2.11.0", "cu130", True, False),
        ("2.14.1", "cu130", False, True),
    ],
)
def test_arch_list_verification_flags(
    policy: Policy, torch: str, flavour: str, verified: bool, ptx_verified: bool
) -> None:
    """Arch lists from no primary source carry verified=false (and the 2.11 cu130 PTX)."""
    arch = policy.torch_arch_list(torch, flavour)
    assert arch is not None and (arch.verified, arch.ptx_verified) == (verified, ptx_verified)


@pytest.mark.parametrize(
    ("torch", "driver_max", "cc", "flavour"),
    [
        ("2.6.0", "12.4", "8.9", "cu124"),
        ("2.7.1", "12.8", "12.0", "cu128"),
        ("2.6.0", "12.2", "8.9", "cu118"),
        ("2.6.0", "13.0", "8.9", "cu126"),
        ("2.6.0", None, "8.9", "cu124"),
        ("2.6.0", "12.4", "12.0", None),
        ("2.8.0", "12.2", None, "cu126"),
        ("2.8.0", "12.2", "12.0", "cu128"),
        ("2.11.0", "12.8", "7.0", "cu126"),
        ("2.9.1", "11.8", "8.9", None),
        ("2.1.0", "12.4", "8.9", None),
        ("2.6.0", "junk", "8.9", None),
        ("2.6.0", "12.4", "junk", None),
    ],
)
def test_best_torch_flavour(
    policy: Policy, torch: str, driver_max: str | None, cc: str | None, flavour: str | None
) -> None:
    """The highest fully supported flavour covering the GPU wins; else the closest of the major."""
    assert policy.best_torch_flavour(torch, driver_max, cc) == flavour


@pytest.mark.parametrize(
    ("torch", "torchaudio", "matches"),
    [
        ("2.6.0", "2.6.0", True),
        ("2.6.0+cu124", "2.6.0+cu124", True),
        ("2.6.0", "2.5.1", False),
        ("2.9.1", "2.9.1", True),
        ("2.11.0", "2.11.0", True),
        ("2.12.1", "2.11.0", True),
        ("2.14.1", "2.11.0", True),
        ("2.15.0", "2.11.0", True),
        ("2.10.0", "2.11.0", False),
        ("2.13.0", "2.10.0", False),
        ("1.13.1", "0.13.1", None),
        ("junk", "2.6.0", None),
    ],
)
def test_torchaudio_matches(
    policy: Policy, torch: str, torchaudio: str, matches: bool | None
) -> None:
    """torchaudio pairs by major.minor, and the stable-ABI 2.11.0 works with every later torch."""
    assert policy.torchaudio_matches(torch, torchaudio) is matches


@pytest.mark.parametrize(("release", "verified"), [("2.12", False), ("2.11", True)])
def test_inferred_default_flavour_is_flagged(policy: Policy, release: str, verified: bool) -> None:
    """The PyPI default of 2.12, not checked on PyPI, is flagged unverified."""
    row = policy.torch_release(release)
    assert row is not None and row.default_verified is verified


# -- GPUs and VRAM ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cc"),
    [
        ("NVIDIA GeForce RTX 4090", "8.9"),
        ("NVIDIA H100 80GB HBM3", "9.0"),
        ("NVIDIA H100 PCIe", "9.0"),
        ("Tesla T4", "7.5"),
        ("NVIDIA A100-SXM4-80GB", "8.0"),
        ("NVIDIA A10", "8.6"),
        ("NVIDIA A10G", "8.6"),
        ("NVIDIA L4", "8.9"),
        ("NVIDIA L40S", "8.9"),
        ("Tesla V100-SXM2-16GB", "7.0"),
        ("NVIDIA GeForce GTX 1080 Ti", "6.1"),
        ("NVIDIA GeForce RTX 2080 Ti", "7.5"),
        ("NVIDIA GeForce RTX 3090", "8.6"),
        ("NVIDIA H200", "9.0"),
        ("NVIDIA B200", "10.0"),
        ("NVIDIA GeForce RTX 5090", "12.0"),
        ("nvidia geforce rtx 4090", "8.9"),
        ("NVIDIA RTX A6000", None),
        ("NVIDIA GH200 480GB", None),
        ("NVIDIA GeForce GTX 1080", None),
        ("", None),
        (None, None),
    ],
)
def test_gpu_cc(policy: Policy, name: str | None, cc: str | None) -> None:
    """GPU names match table entries as whole words, never by substring."""
    assert policy.gpu_cc(name) == cc


def test_a10g_is_unverified(policy: Policy) -> None:
    """The A10G row, on no NVIDIA list, is flagged unverified."""
    row = policy.gpu("NVIDIA A10G")
    assert row is not None and row.verified is False


@pytest.mark.parametrize(
    ("cc", "bf16"), [("7.5", False), ("7.0", False), ("8.0", True), ("12.0", True), ("x", None)]
)
def test_cc_supports_bf16(policy: Policy, cc: str, bf16: bool | None) -> None:
    """Native bf16 needs compute capability 8.0 or more."""
    assert policy.cc_supports_bf16(cc) is bf16


@pytest.mark.parametrize(
    ("batch_size", "gb"), [(None, 5.3), (8, 5.3), (16, 6.1), (2, 4.7), (0, 5.3), (-3, 5.3)]
)
def test_vram_needed_gb(policy: Policy, batch_size: int | None, gb: float) -> None:
    """VRAM grows with batch_size, fitted to Kyutai's 5.3 GB at batch 8."""
    assert policy.vram_needed_gb(batch_size) == pytest.approx(gb)


def test_vram_per_slot_estimate_is_flagged_inferred(policy: Policy) -> None:
    """The per-slot VRAM estimate, sourced nowhere, is flagged unverified."""
    assert policy.vram_per_slot_verified is False


# -- moshi-server -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "outdated"),
    [("0.6.3", True), ("0.6.0", True), ("0.6.4", False), ("0.7.0", False), ("junk", False)],
)
def test_moshi_server_outdated(policy: Policy, version: str, outdated: bool) -> None:
    """Anything older than 0.6.4 is outdated."""
    assert policy.moshi_server_outdated(version) is outdated


@pytest.mark.parametrize(
    ("version", "requires"), [("0.6.0", True), ("0.6.1", True), ("0.6.2", False), ("x", None)]
)
def test_moshi_server_requires_script(policy: Policy, version: str, requires: bool | None) -> None:
    """Only 0.6.0 and 0.6.1 require `script` in a Py module."""
    assert policy.moshi_server_requires_script(version) is requires


@pytest.mark.parametrize(("version", "has_bugs"), [("0.6.3", True), ("0.6.4", False)])
def test_moshi_server_known_bugs(policy: Policy, version: str, has_bugs: bool) -> None:
    """Versions up to 0.6.3 carry the stale-audio and busy-spin bugs."""
    assert bool(policy.moshi_server_known_bugs(version)) is has_bugs


@pytest.mark.parametrize("server", [None, "0.6.4", "0.6.3", "junk"])
def test_known_requirements_are_the_current_generation(policy: Policy, server: str | None) -> None:
    """Without a pyproject, moshi-server's requirements are the moshi==0.2.13 generation's."""
    known = policy.known_requirements(server)
    requirements = [Requirement(text) for text in known.dependencies]
    assert [r.name for r in requirements] == [
        "moshi",
        "setuptools",
        "xformers",
        "pydantic",
        "julius",
        "torchaudio",
    ]
    assert str(requirements[0].specifier) == "==0.2.13"
    assert known.optional == frozenset({"xformers"})
    assert dict(known.lock) == {"torch": "2.9.1", "torchaudio": "2.9.1", "xformers": "0.0.33.post2"}
    assert known.torch_flavour == "cu128"
    assert SpecifierSet(known.requires_python).contains("3.12.8")
    assert not SpecifierSet(known.requires_python).contains("3.13.0")
    assert "0.2.13" in known.source
    for text in known.moshi_requires:
        Requirement(text)


def test_current_lock_is_consistent_with_the_torch_table(policy: Policy) -> None:
    """The current lock's torch has the lock's flavour, a matching torchaudio and covers 3.12."""
    known = policy.known_requirements()
    torch, torchaudio = known.lock["torch"], known.lock["torchaudio"]
    release = policy.torch_release(torch)
    assert release is not None and known.torch_flavour in release.flavours
    assert policy.torchaudio_matches(torch, torchaudio) is True
    assert policy.torch_python_supported(torch, policy.python_pinned) is True
    assert not policy.torch_too_old(torch)


@pytest.mark.parametrize(
    ("moshi", "torch", "flavour"),
    [("0.2.8", "2.6.0", "cu124"), ("0.2.10", "2.6.0", "cu124"), ("0.2.13", "2.9.1", "cu128")],
)
def test_pin_generations(policy: Policy, moshi: str, torch: str, flavour: str) -> None:
    """Each pin generation records its lock's torch and CUDA flavour."""
    gen = policy.moshi_generation(moshi)
    assert gen is not None and (gen.lock["torch"], gen.torch_flavour) == (torch, flavour)


# -- wheels (PY006) -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("package", "version", "cpython"),
    [
        ("moshi", "0.2.13", ("3.10", "3.11", "3.12", "3.13", "3.14")),
        ("sphn", "0.2.1", ("3.10", "3.11", "3.12", "3.13", "3.14")),
        ("numpy", "2.2.6", ("3.10", "3.11", "3.12", "3.13")),
        ("sentencepiece", "0.2.0", ("3.10", "3.11", "3.12")),
        ("Sentencepiece", "0.2", ("3.10", "3.11", "3.12")),
        ("unknown-package", "1.0", None),
        ("numpy", "junk", None),
    ],
)
def test_wheel_python_support(
    policy: Policy, package: str, version: str, cpython: tuple[str, ...] | None
) -> None:
    """Recorded wheel support is returned by normalized name and version; unknown gives None."""
    assert policy.wheel_python_support(package, version) == cpython


@pytest.mark.parametrize(
    ("package", "version", "python", "available"),
    [
        ("moshi", "0.2.13", "3.12", True),
        ("moshi", "0.2.13", "3.15", False),
        ("sentencepiece", "0.2.0", "3.13", False),
        ("xformers", "0.0.33.post2", "3.14", True),
        ("xformers", "0.0.33.post2", "3.11", None),
        ("aiohttp", "3.11.18", "3.14.0", False),
        ("aiohttp", "3.11.18", "junk", None),
    ],
)
def test_wheel_available(
    policy: Policy, package: str, version: str, python: str, available: bool | None
) -> None:
    """A CPython outside the probed versions is unknown, not unavailable."""
    assert policy.wheel_available(package, version, python) is available


@pytest.mark.parametrize(
    ("requirement", "python", "available"),
    [
        ("numpy<2.3,>=1.26", "3.12", True),
        ("numpy<2.3,>=1.26", "3.14", False),
        ("numpy>=1.26,<2.3", "3.14", False),
        ("aiohttp<3.12,>=3.10.5", "3.14", False),
        ("sphn<0.3.0,>=0.2.0", "3.14", True),
        ("sphn<0.3.0,>=0.2.0", "3.15", False),
        ("sentencepiece<0.3,>=0.2.0", "3.15", True),
        ("sentencepiece==0.2", "3.13", False),
        ("sounddevice==0.5", "3.14", True),
        ("moshi==0.2.13", "3.15", False),
        ("numpy>=1.26", "3.14", None),
        ("safetensors<0.8.0,>=0.4.0", "3.14", None),
        ("numpy==2.2.*", "3.14", None),
        ("not a requirement !!", "3.12", None),
    ],
)
def test_requirement_wheel_available(
    policy: Policy, requirement: str, python: str, available: bool | None
) -> None:
    """Range pins are judged by the newest release inside them, only for newer Pythons."""
    assert policy.requirement_wheel_available(requirement, python) is available


def test_current_pins_have_wheel_data_for_the_pinned_python(policy: Policy) -> None:
    """Every non-torch package the current generation pins has wheel data covering Python 3.12."""
    known = policy.known_requirements()
    pinned = {
        Requirement(t).name: next(iter(Requirement(t).specifier)).version
        for t in known.dependencies
        if "==" in t
    }
    pinned.update({k: v for k, v in known.lock.items() if k not in ("torch", "torchaudio")})
    assert set(pinned) == {"moshi", "xformers"}
    for package, version in pinned.items():
        assert policy.wheel_available(package, version, policy.python_pinned) is True, package
    for text in known.moshi_requires:
        assert policy.requirement_wheel_available(text, policy.python_pinned) is not False, text


# -- junk tolerance -----------------------------------------------------------------------------

JUNK = ["", "junk", "v", "...", "1..2", "cu", "+", "\x00", "9" * 40]


@pytest.mark.parametrize("junk", JUNK)
def test_queries_never_raise_on_junk(policy: Policy, junk: str) -> None:
    """Every query answers junk input without raising."""
    policy.cuda_build_supported(junk)
    policy.nvcc_max_gcc_major(junk)
    policy.driver_min_for_cuda(junk)
    policy.driver_supports_cuda(junk, junk, junk)
    policy.driver_supports_cuda("12.4", "12.8", junk)
    policy.driver_branch(junk)
    policy.torch_release(junk)
    policy.torch_flavour_of(junk, junk)
    policy.flavour_cuda(junk)
    policy.index_url(junk)
    policy.torch_supports_cc(junk, junk, junk)
    policy.torch_supports_cc("2.6.0", "cu124", junk)
    policy.best_torch_flavour(junk, junk, junk)
    policy.best_torch_flavour("2.6.0", junk, None)
    policy.torchaudio_matches(junk, junk)
    policy.gpu_cc(junk)
    policy.cc_supports_bf16(junk)
    policy.moshi_server_outdated(junk)
    policy.moshi_server_requires_script(junk)
    policy.known_requirements(junk)
    policy.wheel_python_support(junk, junk)
    policy.wheel_available(junk, junk, junk)
    policy.requirement_wheel_available(junk, junk)
    assert parse_version(junk) is None or isinstance(parse_version(junk), Version)
