#!/usr/bin/env bash
# Fails when server/startup-order.txt has gone stale for the release binary: when fewer than MIN percent (75)
# of the functions it lists are in the binary. The list is written from a recording (scripts/startup_order.sh)
# and names functions by their mangled symbols. Those change with a dependency of their crate (every symbol of
# the crate: after one was added to `app`, 42 % of the names were left and the idle server used 35.5 MiB instead
# of 24.5) or the compiler; and an ordinary change renames some: thin LTO suffixes the local functions it shares
# between code units with a hash of their unit (`.llvm.<hash>`), so changing one function of a unit renames the
# others (one changed function in `app` took 10 % of the names, 912 of them such suffixes). The linker skips
# names it lacks without a word, so a stale list silently costs memory. `make startup-order` writes it again.
# Usage: scripts/startup_order_check.sh RAMPART_BIN [MIN]
set -euo pipefail
BIN=${1:?usage: startup_order_check.sh RAMPART_BIN [MIN]}
MIN=${2:-75}
LIST="$(dirname "$0")/../server/startup-order.txt"
listed=$(sort -u "$LIST" | wc -l)
present=$(nm "$BIN" | awk '{print $NF}' | sort -u | comm -12 - <(sort -u "$LIST") | wc -l)
pct=$((100 * present / listed))
if [ "$pct" -lt "$MIN" ]; then
  echo "startup order: only $present of the $listed functions in server/startup-order.txt ($pct %) are in $BIN;"
  echo "  the list is stale (a dependency, a function or the compiler changed): run \`make startup-order\` and commit it"
  exit 1
fi
echo "startup order: $present of the $listed listed functions ($pct %) are in the binary"
