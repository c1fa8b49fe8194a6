#!/usr/bin/env bash
# Runs every fuzz target in the module for FUZZTIME each (default 20s), one
# after the other (go test -fuzz takes one target in one package at a time).
# New failing inputs land in the package's testdata/fuzz/<Target>/ and fail
# the run; commit them with the fix so they stay in the seed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-20s}
go=${GO:-go}
n=0
for pkg in $($go list ./...); do
	targets=$($go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true)
	for t in $targets; do
		echo "== $pkg $t ($fuzztime)"
		$go test -run '^$' -fuzz "^$t\$" -fuzztime "$fuzztime" "$pkg"
		n=$((n + 1))
	done
done
echo "fuzzed $n targets for $fuzztime each"
