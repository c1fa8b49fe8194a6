package agentrun

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Tags are the build tags of the agent binary, as AGENT_TAGS in the
// Makefile: nethttpomithttp2 leaves HTTP/2 out of net/http (the agent serves
// /metrics over HTTP/1.1 and dials no HTTP/2 server).
const Tags = "nethttpomithttp2"

// Target is a platform the agent is built for.
type Target struct {
	GOOS   string // default linux
	GOARCH string // default amd64
	GOARM  string // for GOARCH arm, e.g. "7"
}

func (t Target) withDefaults() Target {
	if t.GOOS == "" {
		t.GOOS = "linux"
	}
	if t.GOARCH == "" {
		t.GOARCH = "amd64"
	}
	return t
}

func (t Target) String() string {
	t = t.withDefaults()
	s := t.GOOS + "/" + t.GOARCH
	if t.GOARM != "" {
		s += " v" + t.GOARM
	}
	return s
}

// Stamp is what the Makefile writes into the binary with -X.
type Stamp struct {
	Version   string // main.version
	BuildDate string // main.buildDate
}

// Root is the module's root folder.
func Root() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the fieldline module")
	}
	return filepath.Dir(mod), nil
}

// Build builds the agent for tg into out, stripped and stamped as `make
// cross` does.
func Build(ctx context.Context, out string, tg Target, st Stamp) error {
	tg = tg.withDefaults()
	root, err := Root()
	if err != nil {
		return err
	}
	ldflags := "-s -w"
	if st.Version != "" {
		ldflags += " -X main.version=" + st.Version
	}
	if st.BuildDate != "" {
		ldflags += " -X main.buildDate=" + st.BuildDate
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", Tags, "-ldflags", ldflags, "-o", out, "./agent/cmd/fieldline-agent")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+tg.GOOS, "GOARCH="+tg.GOARCH, "GOARM="+tg.GOARM)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building fieldline-agent for %s: %w\n%s", tg, err, b)
	}
	return nil
}

var builds struct {
	mu   sync.Mutex
	dir  string
	bins map[Target]string
}

// Binary returns the agent built for tg (stamped "test"), building it the
// first time a test of this process asks. RemoveBuilds deletes the builds.
func Binary(t testing.TB, tg Target) string {
	t.Helper()
	tg = tg.withDefaults()
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if bin, ok := builds.bins[tg]; ok {
		return bin
	}
	if builds.dir == "" {
		dir, err := os.MkdirTemp("", "fieldline-agentrun-")
		if err != nil {
			t.Fatal(err)
		}
		builds.dir, builds.bins = dir, map[Target]string{}
	}
	bin := filepath.Join(builds.dir, "fieldline-agent-"+tg.GOOS+"-"+tg.GOARCH+tg.GOARM)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	if err := Build(ctx, bin, tg, Stamp{Version: "test"}); err != nil {
		t.Fatal(err)
	}
	t.Logf("built fieldline-agent for %s in %s", tg, time.Since(start).Round(time.Millisecond))
	builds.bins[tg] = bin
	return bin
}

// RemoveBuilds deletes what Binary built; call it from TestMain.
func RemoveBuilds() {
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if builds.dir != "" {
		os.RemoveAll(builds.dir)
		builds.dir, builds.bins = "", nil
	}
}
