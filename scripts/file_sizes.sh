#!/usr/bin/env bash
# Fails when a Rust source file is over 500 lines (STYLE.md: split a module by action when it grows).
set -euo pipefail
limit=500
over=$(git ls-files '*.rs' | xargs wc -l | awk -v l=$limit '$2 != "total" && $1 > l {print "  " $2 ": " $1 " lines"}')
if [ -n "$over" ]; then
  echo "files over $limit lines:"; echo "$over"; exit 1
fi
echo "no Rust file over $limit lines"
