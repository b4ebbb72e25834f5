"""Healthy ``system`` facts: Ubuntu 22.04 on x86_64, not in a container, one GPU's device nodes,
a user with sudo, and plenty of disk for the HF cache and cargo."""

from __future__ import annotations

from typing import Any

HOME = "/home/kyu"
VENV = f"{HOME}/tts/.venv"
CUDA_HOME = "/usr/local/cuda-12.8"

FACTS: dict[str, Any] = {
    "os": {
        "system": "Linux",
        "release": "6.8.0-57-generic",
        "machine": "x86_64",
        "is_wsl": False,
        "wsl_version": None,
    },
    "os_release": {
        "id": "ubuntu",
        "version_id": "22.04",
        "pretty_name": "Ubuntu 22.04.5 LTS",
        "id_like": "debian",
        "version_codename": "jammy",
    },
    "container": {"inside": False, "evidence": []},
    "dev_nvidia": [
        "/dev/nvidia-modeset",
        "/dev/nvidia-uvm",
        "/dev/nvidia-uvm-tools",
        "/dev/nvidia0",
        "/dev/nvidiactl",
    ],
    "is_root": False,
    "has_sudo": True,
    "package_manager": "apt-get",
    "env": {
        "PATH": (
            f"{VENV}/bin:{HOME}/.cargo/bin:{CUDA_HOME}/bin:"
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        ),
        "CUDA_HOME": CUDA_HOME,
        "VIRTUAL_ENV": VENV,
        "LD_LIBRARY_PATH": f"{HOME}/.local/share/uv/python/cpython-3.12.8-linux-x86_64-gnu/lib",
    },
    "disk": [
        {
            "path": f"{HOME}/.cache/huggingface",
            "purpose": "hf_cache",
            "free_bytes": 412_316_860_416,
            "total_bytes": 983_348_543_488,
            "measured_at": f"{HOME}/.cache/huggingface",
            "device": 66306,
            "error": None,
        },
        {
            "path": f"{HOME}/.cargo",
            "purpose": "cargo",
            "free_bytes": 412_316_860_416,
            "total_bytes": 983_348_543_488,
            "measured_at": f"{HOME}/.cargo",
            "device": 66306,
            "error": None,
        },
        {
            "path": f"{HOME}/tts",
            "purpose": "cwd",
            "free_bytes": 412_316_860_416,
            "total_bytes": 983_348_543_488,
            "measured_at": f"{HOME}/tts",
            "device": 66306,
            "error": None,
        },
    ],
    "home": HOME,
}
