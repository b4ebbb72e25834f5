"""Meta-tests of the check registry: ids, codes, probes, documentation."""

from __future__ import annotations

import importlib
import re

import pytest

from kyudoctor import catalog
from kyudoctor import probes as probe_registry
from kyudoctor.checks import MODULES, all_checks, get

HOST_CODES = {
    *(f"GPU00{i}" for i in range(1, 6)),
    *(f"CUDA00{i}" for i in range(1, 7)),
    *(f"CXX00{i}" for i in range(1, 8)),
    *(f"PY00{i}" for i in range(1, 7)),
    *(f"TORCH00{i}" for i in (1, 2, 3, 4, 5, 6, 8)),
    *(f"BIN00{i}" for i in (1, 2, 3, 4, 5, 6, 8)),
    "ENV001",
    "ENV002",
}


def test_ids_are_unique_and_dotted() -> None:
    """Check ids are unique and look like family.name."""
    ids = [c.id for c in all_checks()]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+\.[a-z_]+", i) for i in ids), ids


def test_every_host_code_is_produced_by_exactly_one_check() -> None:
    """Each host code of the catalog belongs to one check, and every check code is in the catalog."""
    owners: dict[str, list[str]] = {}
    for check in all_checks():
        for code in check.codes:
            catalog.get(code)
            owners.setdefault(code, []).append(check.id)
    assert HOST_CODES <= set(owners), sorted(HOST_CODES - set(owners))
    assert {c: o for c, o in owners.items() if len(o) > 1} == {}


def test_checks_name_real_probes() -> None:
    """Required and optional probes are registered probe names."""
    names = {p.name for p in probe_registry.ALL}
    for check in all_checks():
        assert set(check.probes) | set(check.uses) <= names, check.id
        assert not set(check.probes) & set(check.uses), check.id


@pytest.mark.parametrize("module", MODULES)
def test_each_check_module_documents_itself(module: str) -> None:
    """The module docstring is the check's documentation, with the three fixed headings."""
    doc = importlib.import_module(f"kyudoctor.checks.{module}").__doc__ or ""
    for heading in ("What it checks", "Why it matters", "How to fix"):
        assert re.search(rf"^{heading}$", doc, re.M), (module, heading)


def test_get_raises_on_unknown_ids() -> None:
    """get() returns a registered check and raises KeyError naming the known ids otherwise."""
    assert get("gpu.driver").id == "gpu.driver"
    with pytest.raises(KeyError, match="gpu.driver"):
        get("gpu.nope")


def test_public_api_is_curated() -> None:
    """kyudoctor.__all__ is sorted and every name in it resolves."""
    import kyudoctor

    assert list(kyudoctor.__all__) == sorted(kyudoctor.__all__)
    for name in kyudoctor.__all__:
        assert getattr(kyudoctor, name) is not None
