#!/usr/bin/env bash
# Installs dependencies, builds, and starts one node on the embedded defaults:
# data in ./data, DNS on 127.0.0.1:5353, HTTP on 127.0.0.1:8053. Extra arguments
# go to pweb-node (e.g. --label uw).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPWEB_TESTS=OFF
cmake --build build --target pweb-node
exec build/node/pweb-node "$@"
