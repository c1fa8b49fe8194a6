package confkit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type withSecret struct {
	Name string `yaml:"name"`
	Auth struct {
		Password Secret `yaml:"password"`
	} `yaml:"auth"`
}

func TestSecretNeverShows(t *testing.T) {
	var c withSecret
	c.Auth.Password = "hunter2"
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "pw", c.Auth.Password, "cfg", c)
	j, _ := json.Marshal(c)
	for what, s := range map[string]string{
		"%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c), "%s": fmt.Sprintf("%s", c.Auth.Password),
		"json": string(j), "slog": logs.String(),
	} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("%s shows the secret: %s", what, s)
		}
	}
	if c.Auth.Password.Reveal() != "hunter2" {
		t.Error("Reveal")
	}
}

func TestLoadRefusesOpenSecretFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	open := write("open.yaml", "name: x\nauth: {password: hunter2}\n", 0o644)
	err := Load(open, &withSecret{})
	if !errors.Is(err, ErrReadable) || !strings.Contains(err.Error(), open+" has mode 0644") || !strings.Contains(err.Error(), "chmod 600 "+open) {
		t.Fatalf("open file with a password: %v", err)
	}
	if err := Load(write("private.yaml", "name: x\nauth: {password: hunter2}\n", 0o600), &withSecret{}); err != nil {
		t.Fatalf("private file: %v", err)
	}
	if err := Load(write("nosecret.yaml", "name: x\n", 0o644), &withSecret{}); err != nil {
		t.Fatalf("open file without a secret: %v", err)
	}
}

// TestCheckPrivateGroup: 0640 passes when the group is the process's own
// (root:fieldline 0640, the agent running as group fieldline) and fails
// for any other group; others may never read.
func TestCheckPrivateGroup(t *testing.T) {
	p := filepath.Join(t.TempDir(), "agent.creds")
	if err := os.WriteFile(p, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, -1, os.Getegid()); err != nil {
		t.Fatal(err)
	}
	if err := CheckPrivate(p); err != nil {
		t.Errorf("0640 with the process's group: %v", err)
	}
	other := os.Getegid() + 1
	if err := os.Chown(p, -1, other); err != nil {
		t.Logf("not checked: cannot give the file another group (not root): %v", err)
		return
	}
	if err := CheckPrivate(p); !errors.Is(err, ErrReadable) || !strings.Contains(err.Error(), "has mode 0640") {
		t.Errorf("0640 with group %d: %v", other, err)
	}
	_ = os.Chmod(p, 0o604)
	if err := CheckPrivate(p); !errors.Is(err, ErrReadable) {
		t.Errorf("0604: %v", err)
	}
}
