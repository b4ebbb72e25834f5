"""Healthy ``nvcc`` facts: CUDA 12.8 (nvcc 12.8.93) in /usr/local/cuda-12.8, on PATH, with
``CUDA_HOME`` pointing at it and the CUDA libraries in the ldconfig cache."""

from __future__ import annotations

from typing import Any

TOOLKIT = "/usr/local/cuda-12.8"
LIB64 = f"{TOOLKIT}/lib64"

FACTS: dict[str, Any] = {
    "nvcc": {
        "path": f"{TOOLKIT}/bin/nvcc",
        "real_path": f"{TOOLKIT}/bin/nvcc",
        "found_via": "PATH",
        "on_path": True,
        "version": "12.8.93",
        "release": "12.8",
        "error": None,
        "output": (
            "nvcc: NVIDIA (R) Cuda compiler driver\n"
            "Copyright (c) 2005-2025 NVIDIA Corporation\n"
            "Built on Fri_Feb_21_20:23:50_PST_2025\n"
            "Cuda compilation tools, release 12.8, V12.8.93\n"
            "Build cuda_12.8.r12.8/compiler.35583870_0"
        ),
    },
    "toolkit_root": TOOLKIT,
    "cuda_h": f"{TOOLKIT}/include/cuda.h",
    "gpu_archs": [
        "5.0",
        "5.2",
        "5.3",
        "6.0",
        "6.1",
        "6.2",
        "7.0",
        "7.2",
        "7.5",
        "8.0",
        "8.6",
        "8.7",
        "8.9",
        "9.0",
        "10.0",
        "10.1",
        "12.0",
    ],
    "libraries": {
        "libcudart": {
            "resolved": f"{LIB64}/libcudart.so.12",
            "where": "ldconfig",
            "in_toolkit": f"{LIB64}/libcudart.so.12",
        },
        "libcublas": {
            "resolved": f"{LIB64}/libcublas.so.12",
            "where": "ldconfig",
            "in_toolkit": f"{LIB64}/libcublas.so.12",
        },
        "libnvrtc": {
            "resolved": f"{LIB64}/libnvrtc.so.12",
            "where": "ldconfig",
            "in_toolkit": f"{LIB64}/libnvrtc.so.12",
        },
        "libcurand": {
            "resolved": f"{LIB64}/libcurand.so.10",
            "where": "ldconfig",
            "in_toolkit": f"{LIB64}/libcurand.so.10",
        },
    },
    "ldconfig": {"path": "/sbin/ldconfig", "ran": True, "error": None},
    "toolkits": [
        {
            "root": TOOLKIT,
            "version": "12.8.93",
            "release": "12.8",
            "nvcc": f"{TOOLKIT}/bin/nvcc",
            "cuda_h": True,
        }
    ],
    "cuda_env": {
        "CUDA_HOME": {
            "value": TOOLKIT,
            "realpath": TOOLKIT,
            "exists": True,
            "cuda_h": True,
            "nvcc": True,
        }
    },
    "standard": [{"path": "/usr/local/cuda", "realpath": TOOLKIT, "cuda_h": True}],
    "search_roots": ["/usr/local", "/opt"],
}
