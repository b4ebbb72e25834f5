"""config.secrets: the API keys the server accepts, and the Hugging Face token it will need.

What it checks
    ``authorized_ids`` (only its size and whether it holds Kyutai's sample key
    ``public_token`` or an empty key: the values are never read into a report) against the
    address the server binds: that of a running ``moshi-server worker --config <this file>``
    (``--addr``), else moshi-server's default ``0.0.0.0``, every interface. The sample key on
    a non-loopback address is CFG006. Then, when the config names ``hf://`` files, whether the
    token file moshi-server's download client reads exists (``$HF_HOME/token``, else
    ``~/.cache/huggingface/token``); ``HF_TOKEN`` does not count, because that client does not
    read it (CFG007). Skipped when the config was not found or did not parse (CFG001).

Why it matters
    ``public_token`` is published in Kyutai's sample configs: on an address other machines
    reach, anyone can use the GPU. Downloads from gated or private Hugging Face repositories
    fail at start with HTTP 401 when the token file is missing, even with ``HF_TOKEN`` set.

How to fix
    Put a secret key in ``authorized_ids`` and give it to the clients (keep ``public_token``
    only with ``--addr 127.0.0.1``). Run ``hf auth login`` as the user that runs the server
    (it writes the token file), or write the token to ``$HF_HOME/token``.
"""

from __future__ import annotations

from kyudoctor.model import Check, Facts, Finding, Outcome

from ._config import config_facts, evidence, params, unusable


def check(facts: Facts) -> Outcome:
    """CFG006 for the sample key on a public address; CFG007 for hf:// without a token file."""
    config = config_facts(facts)
    reason = unusable(config)
    if reason is not None or config is None:
        return Outcome.skip(reason or "no config")
    file = config.get("file")
    findings: list[Finding] = []
    notes: list[str] = []

    ids = config.get("authorized_ids") or {}
    bind = config.get("bind") or {}
    addr, port = bind.get("addr") or "0.0.0.0", bind.get("port") or 8080
    weak = [
        label
        for label, present in (
            ("Kyutai's sample key public_token", ids.get("public_token")),
            ("an empty key", ids.get("empty")),
        )
        if present
    ]
    if weak and not bind.get("loopback"):
        how = (
            f"the running server (pid {bind.get('pid')}) was started with --addr {addr}"
            if bind.get("source") == "process"
            else f"moshi-server binds {addr}, every interface, by default (no running server "
            "started with this config was found to say otherwise)"
        )
        findings.append(
            Finding(
                "CFG006",
                f"authorized_ids in {file} accepts {' and '.join(weak)} ({ids.get('count')} "
                f"key{'s' if ids.get('count') != 1 else ''} in all), and {how}: anyone who "
                f"reaches port {port} can use the server",
                evidence=evidence(
                    config,
                    ids.get("line"),
                    key="authorized_ids",
                    count=ids.get("count"),
                    addr=addr,
                    bind_source=bind.get("source"),
                ),
                params=params(config),
            )
        )
    elif weak:
        notes.append(f"sample key accepted on loopback {addr} only")
    elif ids:
        notes.append(f"authorized_ids: {ids.get('count')} key(s), none of them the sample key")

    hf = config.get("hf") or {}
    downloads = [d for d in hf.get("downloads") or [] if d.get("valid") is not False]
    if downloads:
        token_file = hf.get("token_file")
        if hf.get("token_file_exists") and not hf.get("token_file_empty"):
            notes.append(f"HF token file {token_file} present")
        else:
            state = "is empty" if hf.get("token_file_exists") else "does not exist"
            env_note = ""
            if hf.get("hf_token_env") or hf.get("hub_token_env"):
                name = "HF_TOKEN" if hf.get("hf_token_env") else "HUGGING_FACE_HUB_TOKEN"
                env_note = f"; {name} is set, but moshi-server's download client does not read it"
            first = downloads[0]
            findings.append(
                Finding(
                    "CFG007",
                    f"{file} downloads {len(downloads)} hf:// file"
                    f"{'s' if len(downloads) != 1 else ''} at start (first: `{first.get('key')}` "
                    f'= "{first.get("value")}"); moshi-server\'s download client reads the '
                    f"Hugging Face token only from {token_file}, which {state}{env_note}. Public "
                    "repositories download without it; gated or private ones fail with 401",
                    evidence=evidence(
                        config,
                        first.get("line"),
                        key=first.get("key"),
                        token_file=token_file,
                        downloads=len(downloads),
                    ),
                    params=params(config),
                )
            )

    if findings:
        return Outcome.found(
            "; ".join(
                s
                for s in (
                    "sample API key on a public address"
                    if any(f.code == "CFG006" for f in findings)
                    else "",
                    "no HF token file" if any(f.code == "CFG007" for f in findings) else "",
                )
                if s
            ),
            *findings,
        )
    return Outcome.ok("; ".join(notes) or "no API keys or hf:// downloads to judge")


CHECK = Check(
    id="config.secrets",
    group="files",
    title="Server config API keys and HF token",
    codes=("CFG006", "CFG007"),
    probes=("config",),
    run=check,
)
