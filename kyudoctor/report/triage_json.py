"""The JSON output of ``kyudoctor triage``, schema ``kyudoctor.triage/1``
(``kyudoctor/data/triage.schema.json``).

Sorted keys, two-space indent; the same log gives the same document but for ``duration_ms``::

    {
      "bytes": 560,
      "encoding": "utf-8",
      "exit_code": 1,
      "fail_on": "error",
      "findings": [{"code": "GPU006", "confidence": 0.98, "count": 1, "docs": "explain GPU006",
                    "evidence": [{"line": 4, "text": "torch.OutOfMemoryError: ..."}],
                    "excerpt": "torch.OutOfMemoryError: ...", "explained_by": null,
                    "fix": {"commands": ["nvidia-smi ..."], "text": "..."}, "ignored": false,
                    "line": 4, "severity": "error", "slug": "cuda-out-of-memory",
                    "title": "..."}],
      "kyudoctor_version": "0.1.0",
      "lines": 7,
      "matcher": "hyperscan",
      "schema": "kyudoctor.triage/1",
      "source": "docker.log",
      "summary": {"duration_ms": 12.5, "errors": 3, "ignored": 0, "infos": 0, "warnings": 0}
    }
"""

from __future__ import annotations

import json
from typing import TextIO

from kyudoctor.triage import TriageResult, to_dict


def render(result: TriageResult, stream: TextIO) -> None:
    """Write the result as one JSON document."""
    json.dump(to_dict(result), stream, indent=2, sort_keys=True, ensure_ascii=False)
    stream.write("\n")
