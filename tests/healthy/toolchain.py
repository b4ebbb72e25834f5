"""Healthy ``toolchain`` facts: g++ 12.3.0 (Ubuntu 22.04's g++-12, selected as g++), cmake
3.28.3, pkg-config with OpenSSL 3.0.2 headers, git, and a rustup toolchain in ~/.cargo/bin."""

from __future__ import annotations

from typing import Any

HOME = "/home/kyu"
CARGO_HOME = f"{HOME}/.cargo"
GXX_BANNER = "g++ (Ubuntu 12.3.0-1ubuntu1~22.04) 12.3.0"


def _gcc(path: str, banner: str = GXX_BANNER) -> dict[str, Any]:
    return {
        "path": path,
        "version": "12.3.0",
        "major": 12,
        "banner": banner,
        "compiler": "gcc",
        "error": None,
    }


FACTS: dict[str, Any] = {
    "gxx": _gcc("/usr/bin/g++"),
    "cxx": _gcc("/usr/bin/c++", "c++ (Ubuntu 12.3.0-1ubuntu1~22.04) 12.3.0"),
    "cxx_env": None,
    "ccbin": None,
    "gxx_versions": [
        {"name": "g++-11", "path": "/usr/bin/g++-11", "major": 11},
        {"name": "g++-12", "path": "/usr/bin/g++-12", "major": 12},
    ],
    "libstdcxx": {
        "printed": "/usr/lib/gcc/x86_64-linux-gnu/12/libstdc++.so",
        "exists": True,
        "error": None,
    },
    "cmake": {"path": "/usr/local/bin/cmake", "version": "3.28.3", "major": 3, "error": None},
    "pkg_config": {"path": "/usr/bin/pkg-config", "version": "0.29.2", "error": None},
    "openssl": {"found": True, "version": "3.0.2", "via": "pkg-config", "error": None},
    "git": {"path": "/usr/bin/git", "version": "2.34.1", "error": None},
    "cargo": {
        "path": f"{CARGO_HOME}/bin/cargo",
        "version": "1.85.0",
        "on_path": True,
        "cargo_home": CARGO_HOME,
        "error": None,
    },
    "rustc": {
        "path": f"{CARGO_HOME}/bin/rustc",
        "version": "1.85.0",
        "on_path": True,
        "cargo_home": CARGO_HOME,
        "error": None,
    },
}
