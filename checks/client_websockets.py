"""client.websockets: whether the target environment's websockets can run Kyutai's clients.

What it checks
    The ``websockets`` distribution of the target Python environment (``--python``). Kyutai's
    TTS script passes ``additional_headers=`` to ``websockets.connect``, which exists from
    websockets 14 (WS013); websockets older than 11 also reports the normal end of every
    moshi-server stream, a close without status code (1005), as an error (WS006's warning
    case, named in the same finding). Skipped when websockets is not installed there:
    moshi-server itself does not need it.

Why it matters
    An old websockets fails Kyutai's client at once with "TypeError: ... unexpected keyword
    argument 'additional_headers'", or turns every successful stream into a
    ``ConnectionClosedError`` that looks like a server crash.

How to fix
    ``python -m pip install -U 'websockets>=14'`` in that environment, or use
    ``extra_headers`` with the legacy client.
"""

from __future__ import annotations

from kyudoctor.model import Check, Facts, Finding, Outcome
from kyudoctor.policy import load

from ._server import (
    websockets_major,
)
from ._util import probe_facts


def check(facts: Facts) -> Outcome:
    """WS013 when the target's websockets is older than Kyutai's clients need."""
    python = probe_facts(facts, "python")
    if python is None:
        return Outcome.skip("the python probe gave no facts")
    version, major = websockets_major(python)
    where = python.get("interpreter") or python.get("executable") or "the target environment"
    if version is None:
        return Outcome.skip(
            f"websockets is not installed in {where} (moshi-server does not need it)"
        )
    if major is None:
        return Outcome.skip(f"websockets {version} in {where}: version not understood")
    if major >= load().websockets_additional_headers_major:
        return Outcome.ok(f"websockets {version} in {where}")
    message = (
        f"websockets {version} in {where}: connect() has no additional_headers (Kyutai's TTS "
        f"client fails with TypeError; it needs websockets {load().websockets_additional_headers_major} "
        "or newer)"
    )
    if major < load().websockets_clean_1005_major:
        message += (
            "; it also reports the normal 1005 end of every stream as ConnectionClosedError (WS006)"
        )
    return Outcome.found(
        f"websockets {version} is too old for Kyutai's clients",
        Finding("WS013", message, evidence={"websockets": version, "interpreter": where}),
    )


CHECK = Check(
    id="client.websockets",
    group="host",
    title="websockets for Kyutai's clients",
    codes=("WS013",),
    probes=("python",),
    run=check,
)
