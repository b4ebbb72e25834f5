"""Compact views of probe facts shown under each check in -v and JSON reports."""

from __future__ import annotations

import pytest

from kyudoctor.facts import VIEWS, compact
from tests.healthy import healthy


@pytest.mark.parametrize("probe", sorted(VIEWS))
def test_every_probe_has_a_small_view_of_its_healthy_facts(probe: str) -> None:
    """Each probe's healthy facts give a non-empty view, far smaller than the facts."""
    facts = healthy()[probe]
    view = compact(probe, facts)
    assert view and len(repr(view)) < max(len(repr(facts)), 1200)


def test_python_view_lists_key_distributions_not_all() -> None:
    """The python view names moshi-server's key packages and counts the rest."""
    view = compact("python", healthy()["python"])
    assert view["installed"]["torch"].startswith("2.9.1")
    assert view["distributions"] >= len(view["installed"])
    assert view["torch"]["cuda"] == "12.8"


def test_gpu_view_is_the_gpu_table() -> None:
    """The gpu view keeps the driver, its CUDA version and each GPU's name and capability."""
    view = compact("gpu", healthy()["gpu"])
    assert view["driver_max_cuda"] == "12.8"
    assert view["gpus"][0]["compute_cap"] == "9.0"


def test_missing_facts_give_an_empty_view() -> None:
    """A probe that failed has no view."""
    assert compact("gpu", None) == {}
