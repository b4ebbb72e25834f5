"""Describe the Python interpreter that runs this script, as one line of JSON on stdout.

kyudoctor's ``python`` probe runs it inside the *target* interpreter (the one moshi-server's
embedded Python will use) as ``<python> -c <this text>``. The output line starts with
``KYUDOCTOR-INTROSPECT:`` so that noise printed by ``sitecustomize`` or ``.pth`` files cannot
be mistaken for it.

Constraints, because a user's interpreter may be old or broken:

- standard library only, and Python 3.6 syntax (no ``from __future__ import annotations``,
  no walrus, no ``dict[...]`` at run time) so that an old interpreter still answers and
  kyudoctor can say that it is too old;
- it never imports torch (that costs seconds and can crash): ``importlib.util.find_spec`` only
  locates the package, and ``torch/version.py`` is parsed with ``ast``, not executed;
- distributions are read from ``*.dist-info`` / ``*.egg-info`` metadata on ``sys.path``, the
  first one of a name winning, as import would load it.
"""

# ruff: noqa: UP006, UP030, UP032, UP035, UP045 - this script must keep Python 3.6 syntax
import ast
import email.parser
import importlib.util
import json
import os
import platform
import re
import sys
import sysconfig
from typing import Any, Dict, List, Optional, Tuple

MARKER = "KYUDOCTOR-INTROSPECT:"
TORCH_VERSION_KEYS = ("__version__", "cuda", "git_version", "hip", "debug")


def normalize(name: str) -> str:
    """A distribution name normalized per PEP 503."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_text(path: str) -> Optional[str]:
    """The text of a file, or None when it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def parse_metadata(text: str) -> Tuple[Optional[str], Optional[str], List[str]]:
    """Name, Version and Requires-Dist of a METADATA / PKG-INFO text."""
    message = email.parser.HeaderParser().parsestr(text)
    name = message.get("Name")
    version = message.get("Version")
    requires = [str(r).strip() for r in (message.get_all("Requires-Dist") or [])]
    return (
        str(name).strip() if name else None,
        str(version).strip() if version else None,
        requires,
    )


def egg_requires(path: str) -> List[str]:
    """PEP 508 strings from an egg-info ``requires.txt`` (``[extra:marker]`` sections)."""
    text = read_text(path)
    if text is None:
        return []
    out = []  # type: List[str]
    extra = ""
    marker = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            extra, _, marker = section.partition(":")
            extra = extra.strip()
            marker = marker.strip()
            continue
        conditions = []
        if marker:
            conditions.append("(" + marker + ")")
        if extra:
            conditions.append('extra == "' + extra + '"')
        if conditions:
            requirement, _, own = line.partition(";")
            if own.strip():
                conditions.insert(0, "(" + own.strip() + ")")
            line = requirement.strip() + "; " + " and ".join(conditions)
        out.append(line)
    return out


def read_distribution(entry: str, child: str) -> Optional[Dict[str, Any]]:
    """A distribution from the metadata ``child`` of sys.path entry ``entry``, if it is one."""
    path = os.path.join(entry, child)
    requires = []  # type: List[str]
    if child.endswith(".dist-info"):
        text = read_text(os.path.join(path, "METADATA"))
    elif child.endswith(".egg-info"):
        if os.path.isdir(path):
            text = read_text(os.path.join(path, "PKG-INFO"))
            requires = egg_requires(os.path.join(path, "requires.txt"))
        else:  # a distutils install writes PKG-INFO as a single file
            text = read_text(path)
    else:
        return None
    name = version = None  # type: Optional[str]
    if text is not None:
        name, version, dist_requires = parse_metadata(text)
        requires = dist_requires or requires
    stem = child.rsplit(".", 1)[0]
    if name is None:
        name = stem.split("-", 1)[0]
    if version is None and "-" in stem:
        version = stem.split("-")[1]
    return {
        "name": name,
        "version": version,
        "requires": requires,
        "location": entry,
        "metadata": path,
    }


def scan_distributions(paths: List[str]) -> Dict[str, Dict[str, Any]]:
    """Every distribution on ``paths``, keyed by normalized name; the first of a name wins."""
    found = {}  # type: Dict[str, Dict[str, Any]]
    for entry in paths:
        info = os.path.join(entry, "EGG-INFO")
        dists = []  # type: List[Dict[str, Any]]
        if entry.endswith(".egg") and os.path.isdir(info):
            text = read_text(os.path.join(info, "PKG-INFO"))
            if text is not None:
                name, version, _ = parse_metadata(text)
                if name:
                    dists.append(
                        {
                            "name": name,
                            "version": version,
                            "requires": egg_requires(os.path.join(info, "requires.txt")),
                            "location": entry,
                            "metadata": info,
                        }
                    )
        else:
            try:
                listing = sorted(os.listdir(entry))
            except OSError:
                continue
            for child in listing:
                if child.endswith((".dist-info", ".egg-info")):
                    dist = read_distribution(entry, child)
                    if dist is not None:
                        dists.append(dist)
        for dist in dists:
            key = normalize(str(dist["name"]))
            if key in found:
                found[key].setdefault("shadowed", []).append(
                    {"version": dist["version"], "location": dist["location"]}
                )
            else:
                dist["shadowed"] = []
                found[key] = dist
    return found


def torch_version_file() -> Tuple[Optional[str], Optional[str]]:
    """(torch package directory, its version.py) located without importing torch."""
    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError, AttributeError):
        return None, None
    if spec is None:
        return None, None
    locations = list(spec.submodule_search_locations or [])
    if not locations and spec.origin:
        locations = [os.path.dirname(spec.origin)]
    for location in locations:
        candidate = os.path.join(location, "version.py")
        if os.path.isfile(candidate):
            return location, candidate
    return (locations[0] if locations else None), None


def parse_torch_version(path: str) -> Dict[str, Any]:
    """The literal assignments of ``torch/version.py`` (parsed, never executed)."""
    values = {}  # type: Dict[str, Any]
    text = read_text(path)
    if text is None:
        return values
    try:
        tree = ast.parse(text, path)
    except (SyntaxError, ValueError):
        return values
    for node in tree.body:
        target = None  # type: Optional[str]
        value = None  # type: Optional[ast.AST]
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            first = node.targets[0]
            if isinstance(first, ast.Name):
                target, value = first.id, node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            target, value = node.target.id, node.value
        if target in TORCH_VERSION_KEYS and value is not None:
            try:
                literal = ast.literal_eval(value)
            except (ValueError, TypeError, SyntaxError):
                continue
            if literal is None or isinstance(literal, (str, bool, int, float)):
                values[target] = literal
    return values


def torch_facts() -> Optional[Dict[str, Any]]:
    """What torch/version.py says, or None when torch cannot be found."""
    location, version_file = torch_version_file()
    if location is None:
        return None
    values = parse_torch_version(version_file) if version_file else {}
    return {
        "version": values.get("__version__"),
        "cuda": values.get("cuda"),
        "git_version": values.get("git_version"),
        "hip": values.get("hip"),
        "path": location,
        "version_py": version_file if values else None,
    }


def full_version(info: Any) -> str:
    """``3.12.8`` or ``3.13.0rc2``, as packaging.markers formats an implementation version."""
    version = "{0}.{1}.{2}".format(info.major, info.minor, info.micro)
    if info.releaselevel != "final":
        version += info.releaselevel[0] + str(info.serial)
    return version


def marker_environment() -> Dict[str, str]:
    """The PEP 508 marker environment, computed like ``packaging.markers.default_environment``."""
    return {
        "implementation_name": sys.implementation.name,
        "implementation_version": full_version(sys.implementation.version),
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def libpython_paths(libdir: Optional[str], names: List[str]) -> List[str]:
    """Existing paths of this interpreter's libpython, with their real paths and /lib aliases."""
    out = []  # type: List[str]
    if not libdir:
        return out
    for name in names:
        path = os.path.join(libdir, name)
        if not os.path.exists(path):
            continue
        real = os.path.realpath(path)
        for candidate in (path, real):
            aliases = [candidate]
            # usrmerge: /lib is /usr/lib, and ldd may print either spelling.
            if candidate.startswith("/usr/lib"):
                aliases.append(candidate[len("/usr") :])
            elif candidate.startswith("/lib"):
                aliases.append("/usr" + candidate)
            for alias in aliases:
                exists = alias not in out and os.path.exists(alias)
                if exists and os.path.realpath(alias) == real:
                    out.append(alias)
    return out


def describe() -> Dict[str, Any]:
    """Everything kyudoctor wants to know about this interpreter."""
    paths = [p for p in sys.path if p != ""]
    config = sysconfig.get_config_vars()
    libdir = config.get("LIBDIR")
    ldlibrary = config.get("LDLIBRARY")
    instsoname = config.get("INSTSONAME")
    names = [str(n) for n in (instsoname, ldlibrary) if n]
    base_prefix = getattr(sys, "base_prefix", getattr(sys, "real_prefix", sys.prefix))
    info = sys.version_info
    return {
        "executable": sys.executable,
        "version": "{0}.{1}.{2}".format(info[0], info[1], info[2]),
        "version_info": [info[0], info[1], info[2]],
        "version_full": sys.version,
        "implementation": sys.implementation.name,
        "prefix": sys.prefix,
        "base_prefix": base_prefix,
        "is_venv": sys.prefix != base_prefix,
        "libdir": str(libdir) if libdir else None,
        "ldlibrary": str(ldlibrary) if ldlibrary else None,
        "instsoname": str(instsoname) if instsoname else None,
        "enable_shared": bool(config.get("Py_ENABLE_SHARED")),
        "libpython_paths": libpython_paths(str(libdir) if libdir else None, names),
        "markers": marker_environment(),
        "sys_path": paths,
        "distributions": scan_distributions(paths),
        "torch": torch_facts(),
    }


def main() -> None:
    """Print the description as one marked JSON line."""
    # ``python -c`` puts the current directory first on sys.path; the embedded interpreter does
    # not, so a stray ./torch or *.dist-info in the working directory must not count.
    sys.path[:] = [p for p in sys.path if p != ""]
    facts = describe()
    sys.stdout.write(MARKER + json.dumps(facts, sort_keys=True) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
