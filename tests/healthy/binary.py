"""Healthy ``binary`` facts: moshi-server 0.6.4 built by cargo with ``cuda``, an ELF in
``~/.cargo/bin`` (on PATH, first), linked to the venv interpreter's libpython3.12.so.1.0."""

from __future__ import annotations

from typing import Any

HOME = "/home/kyu"
CARGO_BIN = f"{HOME}/.cargo/bin"
BINARY = f"{CARGO_BIN}/moshi-server"
PYTHON_LIBDIR = f"{HOME}/.local/share/uv/python/cpython-3.12.8-linux-x86_64-gnu/lib"

FACTS: dict[str, Any] = {
    "candidates": [
        {
            "path": BINARY,
            "kind": "elf",
            "on_path": True,
            "shebang": None,
            "realpath": BINARY,
            "executable": True,
            "interpreter": None,
        }
    ],
    "first_on_path": BINARY,
    "first_kind": "elf",
    "cargo_home": f"{HOME}/.cargo",
    "cargo_bin": CARGO_BIN,
    "cargo_bin_on_path": True,
    "cargo_binary": BINARY,
    "install": {
        "version": "0.6.4",
        "features": ["cuda"],
        "source": "registry+https://github.com/rust-lang/crates.io-index",
        "record": f"{HOME}/.cargo/.crates2.json",
        "all_features": False,
        "no_default_features": False,
        "profile": "release",
        "target": "x86_64-unknown-linux-gnu",
        "rustc": "rustc 1.85.0 (4d91de4e4 2025-02-17)",
    },
    "install_error": None,
    "ldd": {
        "ran": True,
        "not_found": [],
        "resolved": {
            "libpython3.12.so.1.0": f"{PYTHON_LIBDIR}/libpython3.12.so.1.0",
            "libssl.so.3": "/lib/x86_64-linux-gnu/libssl.so.3",
            "libcrypto.so.3": "/lib/x86_64-linux-gnu/libcrypto.so.3",
            "libstdc++.so.6": "/lib/x86_64-linux-gnu/libstdc++.so.6",
            "libgcc_s.so.1": "/lib/x86_64-linux-gnu/libgcc_s.so.1",
            "libm.so.6": "/lib/x86_64-linux-gnu/libm.so.6",
            "libc.so.6": "/lib/x86_64-linux-gnu/libc.so.6",
            "ld-linux-x86-64.so.2": "/lib64/ld-linux-x86-64.so.2",
        },
        "error": None,
        "binary": BINARY,
    },
}
