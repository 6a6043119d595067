#!/usr/bin/env bash
# Builds the libFuzzer targets with clang, replays every seed, then fuzzes each
# target for FUZZ_SECONDS (default 60). A crash fails the run; its input is kept in
# build-fuzz/crashes/ to become a regression seed under test/fuzz/corpus/.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${FUZZ_SECONDS:-60}"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPWEB_FUZZ=ON >/dev/null
cmake --build build-fuzz --target fuzz_dns_query fuzz_tcp_framer fuzz_gateway_frame fuzz_agent_record fuzz_nic_update \
  fuzz_dns_update fuzz_rdata_text
mkdir -p build-fuzz/crashes
passed=0
for target in dns_query tcp_framer gateway_frame agent_record nic_update dns_update rdata_text; do
  bin="build-fuzz/test/fuzz/fuzz_${target}"
  seeds="test/fuzz/corpus/${target}"
  work="build-fuzz/corpus-${target}"
  mkdir -p "$work"
  echo "fuzz: replaying seeds of ${target}"
  "$bin" -runs=0 "$seeds"
  echo "fuzz: fuzzing ${target} for ${SECONDS_EACH}s"
  "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix=build-fuzz/crashes/"${target}"- -print_final_stats=1 "$work" "$seeds" 2>&1 | tail -n 12
  passed=$((passed + 1))
done
echo "fuzz: ${passed} targets clean"
