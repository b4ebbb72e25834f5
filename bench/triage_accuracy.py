"""Accuracy of `kyudoctor triage` on a corpus of real reports (issue #4's bars).

Run with the interpreter that has kyudoctor installed:

    python bench/triage_accuracy.py [CORPUS.json] [--matcher python|hyperscan] [-v] [--check]

The corpus is a JSON list of reports, each with `id`, `log`, `expected` (codes right as the
first answer), `also_ok` (fine as later findings) and `answerable` (whether the log alone
supports the expected code); default: `../shared/corpus/dev-reports.json` beside the repository.

Printed:
- top-1: answerable reports whose first finding is an expected code (bar: >= 90%);
- top-3: answerable reports with an expected code among the first three findings (bar: >= 97%);
- confident wrong: reports (all of them) whose first finding has confidence >= 0.5 and is in
  neither expected nor also_ok (bar: <= 2);
then every miss with what triage answered. `--check` exits 1 when a bar is not met.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus" / "dev-reports.json"

TOP1_BAR = 0.90
TOP3_BAR = 0.97
CONFIDENT_WRONG_BAR = 2
CONFIDENT = 0.5


@dataclass
class Outcome:
    """What triage answered for one report."""

    id: str
    expected: tuple[str, ...]
    also_ok: tuple[str, ...]
    answerable: bool
    answer: tuple[tuple[str, float], ...]

    @property
    def top1(self) -> bool:
        return bool(self.answer) and self.answer[0][0] in self.expected

    @property
    def top3(self) -> bool:
        return any(code in self.expected for code, _ in self.answer[:3])

    @property
    def confident_wrong(self) -> bool:
        if not self.answer:
            return False
        code, confidence = self.answer[0]
        return confidence >= CONFIDENT and code not in (*self.expected, *self.also_ok)


@dataclass
class Metrics:
    """The bars' numbers over a corpus."""

    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def answerable(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.answerable]

    @property
    def top1(self) -> float:
        return sum(o.top1 for o in self.answerable) / max(1, len(self.answerable))

    @property
    def top3(self) -> float:
        return sum(o.top3 for o in self.answerable) / max(1, len(self.answerable))

    @property
    def confident_wrong(self) -> int:
        return sum(o.confident_wrong for o in self.outcomes)

    @property
    def passed(self) -> bool:
        return (
            self.top1 >= TOP1_BAR
            and self.top3 >= TOP3_BAR
            and self.confident_wrong <= CONFIDENT_WRONG_BAR
        )


def evaluate(reports: Sequence[dict[str, Any]], matcher: str | None = None) -> Metrics:
    """Run triage over every report's log."""
    from kyudoctor.triage import triage_text

    metrics = Metrics()
    for report in reports:
        result = triage_text(report["log"], matcher=matcher)
        metrics.outcomes.append(
            Outcome(
                id=str(report["id"]),
                expected=tuple(report.get("expected") or ()),
                also_ok=tuple(report.get("also_ok") or ()),
                answerable=bool(report.get("answerable", True)),
                answer=tuple((f.code, f.confidence) for f in result.findings),
            )
        )
    return metrics


def _answer(outcome: Outcome) -> str:
    if not outcome.answer:
        return "(nothing recognised)"
    return ", ".join(f"{code} {confidence:.2f}" for code, confidence in outcome.answer[:4])


def report(metrics: Metrics, *, verbose: bool = False, stream: Any = sys.stdout) -> None:
    """Print the numbers, the bars and the misses."""
    n_answerable = len(metrics.answerable)
    rows = [
        (
            "top-1 (answerable)",
            f"{metrics.top1:.1%}",
            f">= {TOP1_BAR:.0%}",
            metrics.top1 >= TOP1_BAR,
        ),
        (
            "top-3 (answerable)",
            f"{metrics.top3:.1%}",
            f">= {TOP3_BAR:.0%}",
            metrics.top3 >= TOP3_BAR,
        ),
        (
            "confident wrong (all)",
            str(metrics.confident_wrong),
            f"<= {CONFIDENT_WRONG_BAR}",
            metrics.confident_wrong <= CONFIDENT_WRONG_BAR,
        ),
    ]
    print(f"{len(metrics.outcomes)} reports, {n_answerable} answerable", file=stream)
    print(f"{'metric':<24}{'value':>8}  {'bar':<8} ok", file=stream)
    for name, value, bar, ok in rows:
        print(f"{name:<24}{value:>8}  {bar:<8} {'yes' if ok else 'NO'}", file=stream)
    misses = [
        o for o in metrics.outcomes if (o.answerable and not o.top1) or o.confident_wrong or verbose
    ]
    if misses:
        print(file=stream)
        print("misses:" if not verbose else "all reports:", file=stream)
    for o in misses:
        flags = []
        if o.answerable and not o.top1:
            flags.append("top-1" if o.top3 else "top-3")
        if o.confident_wrong:
            flags.append("confident wrong")
        if not o.answerable:
            flags.append("not answerable")
        print(
            f"  {o.id:<40} expected {'/'.join(o.expected) or '-':<18} "
            f"got {_answer(o)}  [{', '.join(flags) or 'ok'}]",
            file=stream,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", default=str(DEFAULT_CORPUS))
    parser.add_argument("--matcher", choices=("hyperscan", "python"), default=None)
    parser.add_argument("-v", "--verbose", action="store_true", help="list every report")
    parser.add_argument("--check", action="store_true", help="exit 1 when a bar is not met")
    args = parser.parse_args(argv)
    reports = json.loads(Path(args.corpus).read_text(encoding="utf-8"))
    metrics = evaluate(reports, matcher=args.matcher)
    report(metrics, verbose=args.verbose)
    return 1 if args.check and not metrics.passed else 0


if __name__ == "__main__":
    sys.exit(main())
