#!/usr/bin/env bash
# Configures and builds the project (Release by default) into build/<preset>.
# Usage: scripts/build.sh [release|debug|asan|tsan] [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
shift || true
jobs="${JOBS:-$(nproc)}"
cmake --preset "$preset" -DSB_WERROR=ON "$@" >/dev/null
cmake --build "build/$preset" -j "$jobs"
