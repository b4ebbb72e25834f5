"""The ``system`` probe against a fake filesystem root, fake executables and real disks."""

from __future__ import annotations

import json
import os
import platform
import shutil
from pathlib import Path
from typing import Any

import pytest

from kyudoctor.probes import system
from tests.conftest import FakeBin, MakeCtx

UBUNTU = """\
PRETTY_NAME="Ubuntu 22.04.5 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.5 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
UBUNTU_CODENAME=jammy
"""

CGROUP_DOCKER_V1 = """\
12:cpuset:/docker/3f9c2d5e8a7b61c04d2e9f8a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e1f3a5b7c
11:memory:/docker/3f9c2d5e8a7b61c04d2e9f8a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e1f3a5b7c
0::/docker/3f9c2d5e8a7b61c04d2e9f8a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e1f3a5b7c
"""

CGROUP_K8S = "0::/kubepods/besteffort/pod8d7f3c2a-1b4e-4f6a-9c8d-2e1f0a3b5c7d/0a1b2c3d4e5f\n"


def make_root(base: Path, files: dict[str, str], dirs: tuple[str, ...] = ()) -> Path:
    """A fake filesystem root holding ``files`` (relative path -> content) and ``dirs``."""
    root = base / "root"
    root.mkdir(exist_ok=True)
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for relative in dirs:
        (root / relative).mkdir(parents=True, exist_ok=True)
    return root


def run_probe(make_ctx: MakeCtx, root: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    ctx = make_ctx(env=env, options={"root": str(root)})
    facts = system.probe(ctx)
    assert json.loads(json.dumps(facts)) == facts  # JSON types only
    return facts


def test_contract_keys(make_ctx: MakeCtx, tmp_path: Path) -> None:
    """Every key of the system contract is present, and the platform is this machine's."""
    facts = run_probe(make_ctx, make_root(tmp_path, {}))
    assert set(facts) >= {
        "os", "os_release", "container", "dev_nvidia", "is_root", "has_sudo",
        "package_manager", "env", "disk", "home",
    }  # fmt: skip
    assert facts["os"]["system"] == platform.system()
    assert facts["os"]["machine"] == platform.machine()
    assert facts["os"]["release"] == platform.release()
    assert facts["is_root"] is (os.geteuid() == 0)
    assert facts["home"] == str(tmp_path / "home")


def test_bare_host(make_ctx: MakeCtx, tmp_path: Path) -> None:
    """A bare root: no distribution file, no container evidence, no NVIDIA device nodes."""
    facts = run_probe(make_ctx, make_root(tmp_path, {"proc/sys/kernel/osrelease": "6.8.0\n"}))
    assert facts["os_release"] is None
    assert facts["container"] == {"inside": False, "evidence": []}
    assert facts["dev_nvidia"] == []
    assert facts["os"]["is_wsl"] is False and facts["os"]["wsl_version"] is None


def test_docker_with_gpu(make_ctx: MakeCtx, tmp_path: Path) -> None:
    """/.dockerenv, a docker cgroup and /dev/nvidia* nodes are seen; directories are not nodes."""
    root = make_root(
        tmp_path,
        {
            ".dockerenv": "",
            "proc/1/cgroup": CGROUP_DOCKER_V1,
            "etc/os-release": UBUNTU,
            "dev/nvidia0": "",
            "dev/nvidiactl": "",
            "dev/nvidia-uvm": "",
            "dev/null": "",
        },
        dirs=("dev/nvidia-caps",),
    )
    facts = run_probe(make_ctx, root)
    assert facts["container"] == {"inside": True, "evidence": ["/.dockerenv", "cgroup: docker"]}
    assert facts["dev_nvidia"] == ["/dev/nvidia-uvm", "/dev/nvidia0", "/dev/nvidiactl"]
    assert facts["os_release"] == {
        "id": "ubuntu",
        "version_id": "22.04",
        "pretty_name": "Ubuntu 22.04.5 LTS",
        "id_like": "debian",
        "version_codename": "jammy",
    }


@pytest.mark.parametrize(
    ("files", "env", "evidence"),
    [
        (
            {"run/.containerenv": ""},
            {"container": "podman"},
            ["/run/.containerenv", "env container=podman"],
        ),
        ({"proc/1/cgroup": CGROUP_K8S}, {}, ["cgroup: kubepods"]),
        ({"proc/1/cgroup": "0::/system.slice/containerd.service\n"}, {}, ["cgroup: containerd"]),
        ({"proc/1/cgroup": "0::/machine.slice/libpod-4f1e2d.scope\n"}, {}, ["cgroup: libpod"]),
        ({"proc/1/cgroup": "0::/init.scope\n"}, {}, []),
    ],
    ids=["podman", "kubernetes", "containerd", "libpod", "host-cgroup-v2"],
)
def test_container_evidence(
    make_ctx: MakeCtx,
    tmp_path: Path,
    files: dict[str, str],
    env: dict[str, str],
    evidence: list[str],
) -> None:
    """Each kind of container evidence is named; a plain host cgroup is not evidence."""
    facts = run_probe(make_ctx, make_root(tmp_path, files), env)
    assert facts["container"] == {"inside": bool(evidence), "evidence": evidence}


@pytest.mark.parametrize(
    ("osrelease", "is_wsl", "version"),
    [
        ("5.15.167.4-microsoft-standard-WSL2\n", True, 2),
        ("4.4.0-19041-Microsoft\n", True, 1),
        ("6.8.0-57-generic\n", False, None),
    ],
    ids=["wsl2", "wsl1", "linux"],
)
def test_wsl(
    make_ctx: MakeCtx, tmp_path: Path, osrelease: str, is_wsl: bool, version: int | None
) -> None:
    """WSL is recognised from the kernel release, and WSL1 told from WSL2."""
    facts = run_probe(make_ctx, make_root(tmp_path, {"proc/sys/kernel/osrelease": osrelease}))
    assert (facts["os"]["is_wsl"], facts["os"]["wsl_version"]) == (is_wsl, version)


def test_os_release_fallback_and_quoting(make_ctx: MakeCtx, tmp_path: Path) -> None:
    """/usr/lib/os-release is read when /etc/os-release is absent; quotes are shell quotes."""
    text = 'ID=\'rocky\'\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.5"\n# comment\n'
    text += 'PRETTY_NAME="Rocky Linux 9.5 (Blue \\"Onyx\\")"\n'
    facts = run_probe(make_ctx, make_root(tmp_path, {"usr/lib/os-release": text}))
    assert facts["os_release"] == {
        "id": "rocky",
        "version_id": "9.5",
        "pretty_name": 'Rocky Linux 9.5 (Blue "Onyx")',
        "id_like": "rhel centos fedora",
        "version_codename": None,
    }


def test_env_allow_list(make_ctx: MakeCtx, tmp_path: Path) -> None:
    """Only allow-listed variables are copied: never tokens, keys or anything unlisted."""
    env = {
        "CUDA_HOME": "/usr/local/cuda-12.8",
        "HF_HOME": str(tmp_path / "hf"),
        "HF_TOKEN": "hf_secretsecret",
        "HUGGING_FACE_HUB_TOKEN": "hf_secret2",
        "KYUTAI_API_KEY": "sk-live",
        "AWS_SECRET_ACCESS_KEY": "abc",
        "USER": "kyu",
        "container": "docker",
    }
    facts = run_probe(make_ctx, make_root(tmp_path, {}), env)
    assert facts["env"] == {
        "CUDA_HOME": "/usr/local/cuda-12.8",
        "HF_HOME": str(tmp_path / "hf"),
        "PATH": os.defpath,
    }
    assert "secret" not in json.dumps(facts) and "sk-live" not in json.dumps(facts)


@pytest.mark.parametrize(
    ("tools", "manager", "has_sudo"),
    [
        (("apt-get", "sudo"), "apt-get", True),
        (("yum", "dnf"), "dnf", False),
        (("zypper",), "zypper", False),
        (("pacman", "sudo"), "pacman", True),
        ((), None, False),
    ],
)
def test_package_manager_and_sudo(
    make_ctx: MakeCtx,
    tmp_path: Path,
    fakebin: FakeBin,
    tools: tuple[str, ...],
    manager: str | None,
    has_sudo: bool,
) -> None:
    """The package manager and sudo are looked up on the run's PATH (dnf wins over yum)."""
    for tool in tools:
        fakebin.add(tool, "exit 0\n")
    facts = run_probe(make_ctx, make_root(tmp_path, {}), {"PATH": fakebin.path})
    assert (facts["package_manager"], facts["has_sudo"]) == (manager, has_sudo)


def test_disk_default_locations(make_ctx: MakeCtx, tmp_path: Path) -> None:
    """Without HF_HOME/CARGO_HOME the defaults are measured at their nearest existing parent."""
    home = tmp_path / "home"
    (home / ".cargo").mkdir(parents=True)
    facts = run_probe(make_ctx, make_root(tmp_path, {}), {"HOME": str(home)})
    by_purpose = {d["purpose"]: d for d in facts["disk"]}
    assert list(by_purpose) == ["hf_cache", "cargo", "cwd"]
    hf = by_purpose["hf_cache"]
    assert hf["path"] == str(home / ".cache" / "huggingface")
    assert hf["measured_at"] == str(home)  # ~/.cache does not exist yet
    assert by_purpose["cargo"]["measured_at"] == str(home / ".cargo")
    assert by_purpose["cwd"]["path"] == str(tmp_path)
    usage = shutil.disk_usage(tmp_path)
    for entry in facts["disk"]:
        assert entry["error"] is None
        assert entry["total_bytes"] == usage.total
        assert 0 < entry["free_bytes"] <= entry["total_bytes"]
        assert entry["device"] == os.stat(tmp_path).st_dev


def test_disk_from_env(make_ctx: MakeCtx, tmp_path: Path) -> None:
    """HF_HOME and CARGO_HOME (absolute, ~ or relative to the working directory) are honoured."""
    (tmp_path / "models").mkdir()
    env = {"HF_HOME": str(tmp_path / "models" / "hf"), "CARGO_HOME": "~/cargo-home"}
    facts = run_probe(make_ctx, make_root(tmp_path, {}), env)
    by_purpose = {d["purpose"]: d for d in facts["disk"]}
    assert by_purpose["hf_cache"]["path"] == str(tmp_path / "models" / "hf")
    assert by_purpose["hf_cache"]["measured_at"] == str(tmp_path / "models")
    assert by_purpose["cargo"]["path"] == str(tmp_path / "home" / "cargo-home")
    relative = run_probe(make_ctx, make_root(tmp_path, {}), {"HF_HOME": "models"})
    assert relative["disk"][0]["path"] == str(tmp_path / "models")
