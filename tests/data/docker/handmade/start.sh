#!/usr/bin/env bash
set -euo pipefail
export LD_LIBRARY_PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')"
exec moshi-server worker --config configs/config-tts.toml
