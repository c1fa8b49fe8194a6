#!/usr/bin/env bash
# Symbol bytes per package of the agent binary (docs/benchmarks.md, "What was
# big"): builds the agent for GOARCH (default arm64) with the Makefile's tags
# but without -s -w, sums `go tool nm -size` per package and prints the
# largest TOP (default 25) in kB. BY=module groups them by module (a
# github.com path's first three elements, another domain's first two) and
# the standard library by its top directory (crypto, net, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${GOARCH:-arm64}
top=${TOP:-25}
by=${BY:-package}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -tags nethttpomithttp2 -o "$tmp/agent" ./agent/cmd/fieldline-agent
# Text and read-only data symbols; the package is the symbol name up to the
# first "." after its last "/" (go:* names are runtime data).
go tool nm -size -sort size "$tmp/agent" | awk -v by="$by" '
	$3 ~ /^[TtRr]$/ {
		name = $4
		if (name ~ /^go:/) { pkg = "runtime data (go:)" }
		else {
			i = 0; n = split(name, parts, "/")
			last = parts[n]; dot = index(last, ".")
			pkg = (dot > 0) ? substr(name, 1, length(name) - length(last) + dot - 1) : name
		}
		if (by == "module" && pkg !~ /^runtime data/) {
			n = split(pkg, el, "/")
			keep = (el[1] == "github.com") ? 3 : (el[1] ~ /\./ ? 2 : 1)
			pkg = el[1]
			for (i = 2; i <= keep && i <= n; i++) pkg = pkg "/" el[i]
		}
		sum[pkg] += $2
	}
	END { for (p in sum) printf "%8.0f kB  %s\n", sum[p] / 1000, p }' | sort -rn | head -n "$top"
