"""Healthy ``gpu`` facts: one NVIDIA H100 80GB HBM3 seen through NVML, driver 570.124.06."""

from __future__ import annotations

from typing import Any

FACTS: dict[str, Any] = {
    "source": "nvml",
    "nvml": {"loaded": True, "error": None},
    "nvidia_smi": {"path": None, "returncode": None, "error": None},
    "driver_version": "570.124.06",
    "driver_max_cuda": "12.8",
    "gpus": [
        {
            "index": 0,
            "name": "NVIDIA H100 80GB HBM3",
            "uuid": "GPU-6e4bd0f7-31d5-2c3c-7a77-9a2b8f4e0c1d",
            "compute_cap": "9.0",
            "memory_total_mib": 81559,
            "memory_free_mib": 81004,
            "memory_used_mib": 1,
            "processes": [],
        }
    ],
    "error": None,
}
