package main

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/fieldline/fieldline/internal/testbed/agentrun"
)

// agentTags are the agent's build tags (AGENT_TAGS in the Makefile).
const agentTags = agentrun.Tags

func TestMain(m *testing.M) {
	code := m.Run()
	agentrun.RemoveBuilds()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}
