"""Builders of real tiny executables named like moshi-server, for the binary probe's tests.

ELF files are compiled with the real C compiler, so ``ldd`` and the loader see genuine dynamic
sections: one plain program, one that needs a ``libpython3.99.so.1.0`` which no standard
directory holds (``ldd`` prints "not found" unless ``LD_LIBRARY_PATH`` names ``libdir``), and one
static program. Python console scripts are written the way pip and uv write them.
"""

from __future__ import annotations

import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

LIBPYTHON_SONAME = "libpython3.99.so.1.0"

_MAIN_PLAIN = "int main(void) { return 0; }\n"
_LIB = "int kyu_py_init(void) { return 0; }\n"
_MAIN_LINKED = "int kyu_py_init(void);\nint main(void) { return kyu_py_init(); }\n"


@dataclass(frozen=True)
class ElfKit:
    """Compiled programs (never installed anywhere: copy them with :func:`install`)."""

    plain: Path
    needs_libpython: Path
    static: Path | None
    libdir: Path  # holds LIBPYTHON_SONAME, the only copy of it


def _cc(*args: str | Path) -> None:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build test ELF binaries")
    subprocess.run([compiler, *map(str, args)], check=True, capture_output=True, timeout=60)


def build_elf_kit(workdir: Path) -> ElfKit:
    """Compile the programs into ``workdir``; the libpython stub is moved out of the build dir."""
    build = workdir / "build"
    libdir = workdir / "libdir"
    build.mkdir(parents=True)
    libdir.mkdir()
    (build / "plain.c").write_text(_MAIN_PLAIN)
    (build / "lib.c").write_text(_LIB)
    (build / "linked.c").write_text(_MAIN_LINKED)
    plain = build / "plain"
    _cc("-o", plain, build / "plain.c")
    library = build / LIBPYTHON_SONAME
    _cc("-shared", "-fPIC", f"-Wl,-soname,{LIBPYTHON_SONAME}", "-o", library, build / "lib.c")
    linked = build / "needs-libpython"
    _cc("-o", linked, build / "linked.c", f"-L{build}", f"-l:{LIBPYTHON_SONAME}")
    # The library now lives only where nothing looks by default, so ldd says "not found".
    library.rename(libdir / LIBPYTHON_SONAME)
    static: Path | None = build / "static"
    try:
        _cc("-static", "-o", static, build / "plain.c")
    except subprocess.CalledProcessError:  # no static libc installed
        static = None
    return ElfKit(plain=plain, needs_libpython=linked, static=static, libdir=libdir)


def install(source: Path, directory: Path, name: str = "moshi-server") -> Path:
    """Copy ``source`` to ``directory/name`` and make it executable."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    shutil.copyfile(source, target)
    _make_executable(target)
    return target


def write_console_script(directory: Path, interpreter: str, name: str = "moshi-server") -> Path:
    """The ``moshi-server`` console script of Python moshi < 0.2.8, exactly as pip writes it."""
    return _write(
        directory / name,
        f"#!{interpreter}\n"
        "# -*- coding: utf-8 -*-\n"
        "import re\n"
        "import sys\n"
        "from moshi.server import main\n"
        "if __name__ == '__main__':\n"
        "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
        "    sys.exit(main())\n",
    )


def write_long_path_console_script(
    directory: Path, interpreter: str, name: str = "moshi-server"
) -> Path:
    """pip's launcher for an interpreter path too long for a shebang line (``/bin/sh`` + exec)."""
    return _write(
        directory / name,
        "#!/bin/sh\n"
        f'\'\'\'exec\' "{interpreter}" "$0" "$@"\n'
        "' '''\n"
        "# -*- coding: utf-8 -*-\n"
        "import re\n"
        "import sys\n"
        "from moshi.server import main\n"
        "if __name__ == '__main__':\n"
        "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
        "    sys.exit(main())\n",
    )


def write_shell_wrapper(directory: Path, target: Path, name: str = "moshi-server") -> Path:
    """A user's shell wrapper that execs the real binary."""
    return _write(directory / name, f'#!/bin/sh\nexec "{target}" "$@"\n')


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    _make_executable(path)
    return path


def _make_executable(path: Path) -> None:
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
