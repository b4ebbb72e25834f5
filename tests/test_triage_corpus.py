"""The accuracy bars of issue #4 on the corpus of real reports hold (a regression fails CI)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from kyudoctor.triage import available_matchers

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "dev-reports.json"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "triage_accuracy", REPO / "bench" / "triage_accuracy.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("matcher", available_matchers())
def test_corpus_bars(matcher: str) -> None:
    """top-1 >= 90% and top-3 >= 97% of answerable reports; <= 2 confident wrong answers."""
    if not CORPUS.is_file():
        pytest.skip(f"corpus not found at {CORPUS}")
    bench = _bench()
    metrics = bench.evaluate(json.loads(CORPUS.read_text(encoding="utf-8")), matcher=matcher)
    assert len(metrics.outcomes) >= 30
    misses = [(o.id, o.expected, o.answer[:3]) for o in metrics.answerable if not o.top1]
    assert metrics.top1 >= bench.TOP1_BAR, misses
    assert metrics.top3 >= bench.TOP3_BAR, misses
    wrong = [(o.id, o.answer[:1]) for o in metrics.outcomes if o.confident_wrong]
    assert metrics.confident_wrong <= bench.CONFIDENT_WRONG_BAR, wrong


def test_the_harness_counts_as_specified() -> None:
    """top-1, top-3 and confident-wrong follow the definitions of the bars."""
    bench = _bench()
    outcomes = [
        bench.Outcome("a", ("GPU006",), (), True, (("GPU006", 0.9),)),
        bench.Outcome("b", ("GPU006",), ("WS007",), True, (("WS007", 0.9), ("GPU006", 0.9))),
        bench.Outcome("c", ("TLS004",), ("TLS001",), False, (("NET001", 0.6),)),
        bench.Outcome("d", ("TLS004",), (), False, (("NET001", 0.4),)),
    ]
    metrics = bench.Metrics(outcomes)
    assert (metrics.top1, metrics.top3, metrics.confident_wrong) == (0.5, 1.0, 1)
