#!/usr/bin/env bash
# Sets everything up, builds, and runs the whole test suite (unit, contract, integration, fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh release
# Fuzz target: built with clang in its own tree (libFuzzer needs clang).
if command -v clang++ >/dev/null; then
  cmake -S . -B build/fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSB_BUILD_FUZZ=ON -DSB_BUILD_BENCH=OFF >/dev/null
  cmake --build build/fuzz --target frame_fuzz game_input_fuzz -j "${JOBS:-$(nproc)}"
fi
cd build/release
ctest --output-on-failure --timeout 600 "$@"
if [ -x ../fuzz/tests/fuzz/frame_fuzz ]; then
  (cd ../fuzz && ctest --output-on-failure -L fuzz)
fi
