#!/usr/bin/env bash
# telegraf-build.sh DIR [VERSION]
#
# Builds the Telegraf the agent is compared with in issue 19 (a custom
# minimal build: Modbus in, Kafka out, memory buffer only) into DIR/telegraf,
# from the Go module cache with `go install module@version`: no Telegraf
# source or binary is kept in this repository. The benchmark that runs it is
# TestTelegrafRSS (internal/testbed/footprint, build tag footprint), with
# FL_TELEGRAF=DIR/telegraf; see docs/benchmarks.md, "Telegraf on this
# machine".
#
# Build tags: Telegraf's `custom` tag drops every plugin not named; the
# others name the Modbus input, the Kafka output and the influx serializer,
# the Kafka output's default data_format (Telegraf's custom_builder adds a
# plugin's default serializer the same way; without it the config fails to
# load). Flags as Telegraf's release packages: CGO off, -w -s, the version
# stamped into internal.Version.
#
# Exit status: 0 built, 1 the build failed, 2 a usage error.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
	echo "usage: $0 DIR [VERSION]   (default version v1.37.2)" >&2
	exit 2
fi
dir=$1
version=${2:-v1.37.2}
tags=custom,inputs.modbus,outputs.kafka,serializers.influx

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
# Outside any module, so that the repository's go.mod plays no part.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
CGO_ENABLED=0 GOBIN="$dir" go install -trimpath -tags "$tags" \
	-ldflags "-w -s -X github.com/influxdata/telegraf/internal.Version=${version#v}" \
	"github.com/influxdata/telegraf/cmd/telegraf@$version"
"$dir/telegraf" --version
ls -l "$dir/telegraf"
