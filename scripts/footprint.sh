#!/usr/bin/env bash
# footprint.sh BINARY [LIMIT_BYTES]
#
# Checks the agent binary against its size budget: 15 MB, counted in decimal
# megabytes (15,000,000 bytes, not 15 MiB = 15,728,640), the figure the
# gateway issue sets for the linux/arm64 agent. `make cross` runs it on
# dist/fieldline-agent-linux-arm64; CI fails when it does.
#
# Exit status: 0 within the budget, 1 over it, 2 on a usage error or a
# missing binary. When over, it names the way to find what grew.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
	echo "usage: $0 BINARY [LIMIT_BYTES]   (default limit 15000000 bytes = 15 MB, decimal)" >&2
	exit 2
fi
bin=$1
limit=${2:-15000000}
case $limit in
'' | *[!0-9]*)
	echo "footprint: limit must be a number of bytes, got '$limit'" >&2
	exit 2
	;;
esac
if [ ! -f "$bin" ]; then
	echo "footprint: $bin does not exist (run make cross first)" >&2
	exit 2
fi

size=$(stat -c %s "$bin")
# Thousands separators without depending on the locale.
group() { echo "$1" | sed -e ':a' -e 's/\B[0-9]\{3\}\>/,&/' -e 'ta'; }
pct=$(awk -v s="$size" -v l="$limit" 'BEGIN { printf "%.1f", 100 * s / l }')
mb=$(awk -v s="$size" 'BEGIN { printf "%.2f", s / 1e6 }')

if [ "$size" -gt "$limit" ]; then
	over=$((size - limit))
	cat >&2 <<EOF
footprint: FAIL: $(basename "$bin") is $(group "$size") bytes ($mb MB), over its budget of $(group "$limit") bytes by $(group "$over") bytes.
  Find what grew: build it without -s -w and run
    go tool nm -size -sort size BINARY | head -50
  or compare 'go version -m BINARY' with the last good build; docs/benchmarks.md
  lists what each dependency costs and how the budget was met.
EOF
	exit 1
fi
echo "footprint: ok: $(basename "$bin") is $(group "$size") bytes ($mb MB), $pct% of its budget of $(group "$limit") bytes"
