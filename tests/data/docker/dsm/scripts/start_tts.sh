#!/bin/bash
set -e
source /app/.venv/bin/activate
export LD_LIBRARY_PATH=$(python -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')
# The build needs the GPU to pick the kernel architecture: it runs at container start.
cargo install --features cuda moshi-server@0.6.4
exec /root/.cargo/bin/moshi-server "$@"
