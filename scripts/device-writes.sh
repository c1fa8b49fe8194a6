#!/usr/bin/env bash
# device-writes.sh [DEVICE] [-- BENCH FLAGS]
#
# The flash written at the block device during the latency run (issue 19),
# which the run's own RESULT flash line (the process's write_bytes) does
# not see: the file system's journal, the kernel's write-back of the
# buffer's journal pages. It samples the sectors written to DEVICE
# (default: the device of the temporary directory; field 7 of
# /sys/block/DEVICE/stat) over 100 s inside a 130 s measure window of
# `fieldline-cloud bench --mode latency`, after 100 s of the machine idle
# for comparison. Extra flags go to the bench (e.g. --write-delay 0).
# docs/benchmarks.md, "a journal in the page cache", has the figures.
#
# Exit status: 0 measured, 1 the bench failed, 2 a usage error.
set -euo pipefail

dev=""
if [ $# -gt 0 ] && [ "$1" != "--" ]; then dev=$1; shift; fi
[ "${1:-}" = "--" ] && shift
if [ -z "$dev" ]; then
	src=$(df --output=source "${TMPDIR:-/tmp}" | tail -1)
	dev=$(basename "$src")
	[ -e "/sys/block/$dev/stat" ] || dev=$(basename "$(readlink -f "/sys/class/block/$dev/..")")
fi
stat=/sys/block/$dev/stat
if [ ! -r "$stat" ]; then
	echo "device-writes.sh: no $stat (give the block device, e.g. vda or mmcblk0)" >&2
	exit 2
fi
sectors() { awk '{print $7}' "$stat"; }
window() {
	sleep 25
	local a b
	a=$(sectors); sleep 100; b=$(sectors)
	awk -v what="$1" -v dev="$dev" -v n=$(( (b - a) * 512 )) 'BEGIN { printf "%s: %d bytes written to %s in 100 s, %.2f B a reading at 10,000 readings/s\n", what, n, dev, n / 1e6 }'
}

cd "$(dirname "$0")/.."
bin=$(mktemp -d)/fieldline-cloud
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./cloud/cmd/fieldline-cloud
sync # the build's own writes go out now, not in the windows
a=$(sectors); sleep 100; b=$(sectors)
echo "idle: $(( (b - a) * 512 )) bytes written to $dev in 100 s"
"$bin" bench --mode latency --rate 10000 --quiet --warmup 5s --measure 130s "$@" &
pid=$!
window "bench ${*:-(defaults)}"
wait "$pid" || exit 1
