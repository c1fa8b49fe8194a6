package agent

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/uplink"
)

// TestNoSecretShows: the agent's NATS token, a password in one of its NATS
// URLs and its HTTP token appear in none
// of its logs (at debug), its heartbeat, /status, /metrics or its config
// printed; /status and /metrics need the token.
func TestNoSecretShows(t *testing.T) {
	const natsSecret, httpSecret, urlSecret = "nats-s3cret-token-7731", "http-s3cret-token-9924", "url-s3cret-3317"
	ns := testkit.NATS(t)
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	beats, err := nc.SubscribeSync(uplink.StatusSubject("gw-sec"))
	if err != nil {
		t.Fatal(err)
	}
	var logs testkit.SyncBuffer
	yaml := fmt.Sprintf(`
agent: {id: gw-sec, data_dir: %s, clock_sync: floor}
uplink: {nats: {url: "%s,nats://gw:%s@127.0.0.1:1", token: %s}, status_interval: 1s}
http: {listen: "127.0.0.1:0", token: %s}
log: {level: debug}
`, t.TempDir(), ns.URL(), urlSecret, natsSecret, httpSecret)
	cfg := mustConfig(t, yaml)
	a := startAgent(t, yaml, Options{Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})

	beat, err := beats.NextMsg(30 * time.Second)
	if err != nil {
		t.Fatalf("no heartbeat: %v", err)
	}
	get := func(path, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+a.HTTPAddr()+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := get("/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d", code)
	}
	if code, _ := get("/healthz", ""); code != http.StatusOK {
		t.Errorf("/healthz without the token: %d", code)
	}
	_, status := get("/status", httpSecret)
	_, metrics := get("/metrics", httpSecret)
	if !strings.Contains(metrics, "fieldline_") || !strings.Contains(status, "gw-sec") {
		t.Fatalf("/status or /metrics not served:\n%.300s\n%.300s", status, metrics)
	}
	for what, s := range map[string]string{
		"logs": logs.String(), "heartbeat": string(beat.Data), "/status": status, "/metrics": metrics,
		"config %+v": fmt.Sprintf("%+v", cfg), "config %#v": fmt.Sprintf("%#v", cfg),
	} {
		for _, secret := range []string{natsSecret, httpSecret, urlSecret} {
			if secret == urlSecret && strings.HasPrefix(what, "config") {
				continue // the URL is a plain string of the config; logs redact it
			}
			if strings.Contains(s, secret) {
				t.Errorf("%s shows a secret", what)
			}
		}
	}
}
