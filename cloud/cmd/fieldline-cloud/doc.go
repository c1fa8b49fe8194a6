// Command fieldline-cloud runs the cloud side of Fieldline: the bridge from
// NATS to Kafka, rule push to the fleet, a demo that runs the whole system
// on one machine, the end-to-end load run, the rule bundle check, and tail,
// which prints a topic's records decoded.
//
// # Basics
//
//	fieldline-cloud bridge --config bridge.yaml   # NATS fl.up.* → Kafka fl.readings
//	fieldline-cloud fleet keygen --out /etc/fieldline
//	fieldline-cloud fleet rules push b.yaml --fleet boiler --canary 10% --key fleet.key
//	fieldline-cloud fleet serve --config fleet.yaml  # registry of agents, canary controller
//	fieldline-cloud fleet agents                  # every agent, its rules, its errors
//	fieldline-cloud demo                          # everything on this machine
//	fieldline-cloud bench                         # readings/s into Kafka, latency
//	fieldline-cloud check-rules bundle.yaml       # as the agents compile it
//	fieldline-cloud tail fl.readings -n 10        # records, decoded (--json, --follow)
//
// Every command, at every level, explains itself with --help (a summary, an
// example, its flags); `fieldline-cloud completion bash|zsh|fish` prints a
// shell completion script. The command line is github.com/spf13/cobra:
// command.go says how a command is written (one file each, listed in
// main.go's commands). The agent stays on the small internal/cli: cobra
// would add 512 KiB to the arm64 agent, which has no room for it.
//
// # Caveats
//
// The binary links an embedded NATS server (nats-server as a library) and
// an embedded Kafka (franz-go's kfake), through internal/embedded, on
// purpose: `fieldline-cloud demo` runs the whole system with nothing
// installed beyond Go, and `fieldline-cloud bench` runs the load test the
// same way; both are product features (docs/architecture.md, "Embedded
// default"). Only those two commands start them: `bridge` connects to the
// NATS and Kafka its config names and never starts either. A test
// (deps_test.go) holds that line: in this binary only cloud/demo and
// cloud/loadtest import internal/embedded, and only internal/embedded
// imports kfake or the NATS server. What it costs is size on a cloud
// machine, not memory or start-up: 33 MB stripped for linux/amd64, of which
// the demo and bench commands (the brokers and the agent they run) are
// about 15 MB. The agent binary, which has a size budget, links neither
// (agent/cmd/fieldline-agent/deps_test.go).
package main
