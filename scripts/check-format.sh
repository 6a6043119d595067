#!/usr/bin/env bash
# Fails if any C++ file of ours differs from .clang-format. Fix with:
#   git ls-files '*.cpp' '*.hpp' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
git ls-files '*.cpp' '*.hpp' '*.hpp.in' | grep -v '\.in$' | xargs clang-format --dry-run -Werror
echo "format: clean"
