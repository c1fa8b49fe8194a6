package agent

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/rules"
	"github.com/fieldline/fieldline/rules/signed"
)

// testBucket is the rule bucket as the fleet tool writes it, and as
// someone with write access to it but without the signing key could.
type testBucket struct {
	t   testing.TB
	kv  jetstream.KeyValue
	sig *signed.Signer
	rev uint64
}

func testSigningKey(n byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{n}, ed25519.SeedSize))
}

// jetStream is a JetStream client of the NATS server at url, connected for
// the rest of the test.
func jetStream(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func newTestBucket(t testing.TB, url string) *testBucket {
	t.Helper()
	js := jetStream(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "fl_rules", History: 16})
	if err != nil {
		t.Fatal(err)
	}
	return &testBucket{t: t, kv: kv, sig: signed.NewSigner(testSigningKey(1))}
}

// sign makes the envelope of the next revision for key.
func (b *testBucket) sign(key, bundle string, canary *signed.Canary) ([]byte, uint64) {
	b.t.Helper()
	b.rev++
	st := signed.Statement{Key: key, Revision: b.rev, SignedAt: time.Now(), Bundle: bundle, Clear: bundle == "", Canary: canary}
	env, err := b.sig.Sign(st)
	if err != nil {
		b.t.Fatal(err)
	}
	return env, b.rev
}

// push signs and stores the next revision; bundle "" clears the key.
func (b *testBucket) push(key, bundle string, canary *signed.Canary) ([]byte, uint64) {
	b.t.Helper()
	env, rev := b.sign(key, bundle, canary)
	b.put(key, env)
	return env, rev
}

func (b *testBucket) put(key string, value []byte) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := b.kv.Put(ctx, key, value); err != nil {
		b.t.Fatal(err)
	}
}

func (b *testBucket) delete(key string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.kv.Delete(ctx, key); err != nil {
		b.t.Fatal(err)
	}
}

// syncAgentYAML is an agent of fleet f with labels ring=early that trusts
// testSigningKey(1).
func syncAgentYAML(id, dir, natsURL string) string {
	pub := testSigningKey(1).Public().(ed25519.PublicKey)
	return fmt.Sprintf(`agent: {id: %s, data_dir: %s, fleet: f, labels: {ring: early}}
uplink: {nats: {url: %s, reconnect_wait: 50ms}, retry_min: 20ms, retry_max: 200ms, status_interval: 1s}
rules: {trusted_keys: ["%s"]}
http: {listen: off}
`, id, dir, natsURL, signed.FormatPublicKey(pub))
}

func bundleV(version string) string {
	return fmt.Sprintf("version: %q\nname: b\nrules:\n  - {match: 'x.*', deadband: {absolute: 1}}\n", version)
}

// updates is fieldline_agent_rules_sync_updates_total{result}.
func updates(a *Agent, result string) float64 {
	return a.sync.m.updates.WithLabelValues(result).Value()
}

// TestRuleSync walks one agent through what the bucket may hold: pushes it
// takes, in the order of precedence of its keys, and values it refuses
// while the bundle it runs stays, each refusal named in the heartbeat.
func TestRuleSync(t *testing.T) {
	ns := testkit.NATS(t)
	b := newTestBucket(t, ns.URL())
	a := startAgent(t, syncAgentYAML("gw-sync", filepath.Join(t.TempDir(), "gw"), ns.URL()), Options{})
	other := newTestBucket(t, ns.URL())
	other.sig = signed.NewSigner(testSigningKey(2)) // not trusted
	var v1, copied []byte

	type want struct {
		result          string // the update's result label
		key             string // status: key and revision applied, version running
		rev, wanted     uint64
		version, errHas string
	}
	steps := []struct {
		name string
		do   func()
		want want
	}{
		{"the fleet's bundle", func() { v1, _ = b.push("fleet.f", bundleV("v1"), nil) }, want{syncApplied, "fleet.f", 1, 1, "v1", ""}},
		{"raw YAML written into the bucket", func() { b.put("fleet.f", []byte(bundleV("evil"))) },
			want{"refused_unsigned", "fleet.f", 1, 1, "v1", "fleet.f: unsigned bundle: the value is not a signed envelope"}},
		{"signed by an untrusted key", func() { other.rev = 50; other.push("fleet.f", bundleV("evil"), nil) },
			want{"refused_untrusted", "fleet.f", 1, 1, "v1", "fleet.f: signed by an untrusted key"}},
		{"undecodable", func() { b.put("fleet.f", []byte(`{"format":"fieldline-rules/1","statement":`)) },
			want{"refused_malformed", "fleet.f", 1, 1, "v1", "undecodable envelope"}},
		{"genuine but does not compile", func() {
			b.push("fleet.f", "version: v2\nname: b\nrules:\n  - {match: 'x.*', deadband: {absolute: -1}}\n", nil)
		}, want{syncInvalid, "fleet.f", 1, 2, "v1", "fleet.f@2: 1 problem(s)"}},
		{"the first bundle replayed", func() { b.put("fleet.f", v1) },
			want{"refused_replay", "fleet.f", 1, 2, "v1", "fleet.f@1: older revision: fleet.f@1 is not above revision 2"}},
		{"a newer bundle", func() { b.push("fleet.f", bundleV("v3"), nil) }, want{syncApplied, "fleet.f", 3, 3, "v3", ""}},
		{"a bundle of another agent copied to this one's key", func() {
			copied, _ = b.sign("agent.gw-other", bundleV("other"), nil)
			b.put("agent.gw-sync", copied)
		}, want{"refused_wrong_key", "fleet.f", 3, 3, "v3", "agent.gw-sync: bundle signed for another key: agent.gw-other@4"}},
		{"the agent's own bundle overrides the fleet's", func() { b.push("agent.gw-sync", bundleV("mine"), nil) },
			want{syncApplied, "agent.gw-sync", 5, 5, "mine", ""}},
		{"a fleet push under an override changes nothing that runs", func() { b.push("fleet.f", bundleV("v6"), nil) },
			want{syncTaken, "agent.gw-sync", 5, 5, "mine", ""}},
		{"an unsigned delete of the override is ignored", func() { b.delete("agent.gw-sync") },
			want{syncDeleted, "agent.gw-sync", 5, 5, "mine", ""}},
		{"a signed clear of the override falls back to the fleet", func() { b.push("agent.gw-sync", "", nil) },
			want{syncApplied, "fleet.f", 6, 6, "v6", ""}},
		{"a canary selecting the agent by label", func() {
			b.push("canary.f", bundleV("canary"), &signed.Canary{Selector: map[string]string{"ring": "early"}})
		}, want{syncApplied, "canary.f", 8, 8, "canary", ""}},
		{"a canary of other agents", func() {
			b.push("canary.f", bundleV("late"), &signed.Canary{Selector: map[string]string{"ring": "late"}})
		}, want{syncApplied, "fleet.f", 6, 6, "v6", ""}},
	}
	for _, s := range steps {
		before := updates(a, s.want.result)
		s.do()
		testkit.WaitFor(t, 10*time.Second, s.name+": an update "+s.want.result, func() bool { return updates(a, s.want.result) > before })
		st := a.Status()
		if st.RulesKey != s.want.key || st.RulesRevision != s.want.rev || st.RulesWanted != s.want.wanted || st.RulesVersion != s.want.version {
			t.Fatalf("%s: status runs %s@%d (%s) wanting %d; want %s@%d (%s) wanting %d", s.name,
				st.RulesKey, st.RulesRevision, st.RulesVersion, st.RulesWanted, s.want.key, s.want.rev, s.want.version, s.want.wanted)
		}
		if (s.want.errHas == "") != (st.RulesError == "") || !strings.Contains(st.RulesError, s.want.errHas) {
			t.Fatalf("%s: rules_error %q, want one with %q", s.name, st.RulesError, s.want.errHas)
		}
		if st.Fleet != "f" || st.Labels["ring"] != "early" {
			t.Fatalf("%s: status fleet %q labels %v", s.name, st.Fleet, st.Labels)
		}
	}
}

// TestRuleSyncRestartOffline: an agent restarted while NATS is down runs
// the last bundle it applied, verified again from the buffer file, and
// still refuses an older bundle written back while it was away.
func TestRuleSyncRestartOffline(t *testing.T) {
	ns := testkit.NATS(t)
	b := newTestBucket(t, ns.URL())
	cfg := mustConfig(t, syncAgentYAML("gw-offline", filepath.Join(t.TempDir(), "gw"), ns.URL()))
	old, _ := b.push("fleet.f", bundleV("v1"), nil)
	b.push("fleet.f", bundleV("v2"), nil)
	a, stop := launchAgent(t, cfg, Options{}, nil)
	testkit.WaitFor(t, 10*time.Second, "v2 applied", func() bool { return a.Status().RulesRevision == 2 })
	// A genuine bundle that does not compile, refused before the stop.
	b.push("fleet.f", "version: v3\nname: b\nrules:\n  - {match: 'x.*', deadband: {absolute: -1}}\n", nil)
	testkit.WaitFor(t, 10*time.Second, "v3 refused", func() bool { return updates(a, syncInvalid) == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	ns.Stop()
	a, stop = launchAgent(t, cfg, Options{}, nil)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	if st := a.Status(); st.RulesKey != "fleet.f" || st.RulesRevision != 2 || st.RulesVersion != "v2" || st.RulesWanted != 3 ||
		!strings.Contains(st.RulesError, "fleet.f@3: 1 problem(s)") {
		t.Fatalf("offline start: runs %s@%d (%s) wanting %d, error %q; want the last good fleet.f@2 (v2), wanting the refused 3 and saying why",
			st.RulesKey, st.RulesRevision, st.RulesVersion, st.RulesWanted, st.RulesError)
	}
	if err := ns.Restart(); err != nil {
		t.Fatal(err)
	}
	b = newTestBucketBound(t, ns.URL(), b)
	b.put("fleet.f", old)
	testkit.WaitFor(t, 30*time.Second, "the replayed v1 refused", func() bool { return updates(a, "refused_replay") == 1 })
	if st := a.Status(); st.RulesRevision != 2 || !strings.Contains(st.RulesError, "older revision") {
		t.Fatalf("after a replay: runs %s@%d, error %q", st.RulesKey, st.RulesRevision, st.RulesError)
	}
	b.push("fleet.f", bundleV("v4"), nil)
	testkit.WaitFor(t, 10*time.Second, "v4 applied", func() bool { return a.Status().RulesRevision == 4 })

	// A running agent's watch outlives a restart of the server.
	ns.Stop()
	if err := ns.Restart(); err != nil {
		t.Fatal(err)
	}
	b = newTestBucketBound(t, ns.URL(), b)
	b.push("fleet.f", bundleV("v5"), nil)
	testkit.WaitFor(t, 30*time.Second, "v5 applied after the server restarted", func() bool { return a.Status().RulesRevision == 5 })
}

// newTestBucketBound binds the existing bucket again (after a restart of
// the server), keeping b's signer and revisions.
func newTestBucketBound(t *testing.T, url string, b *testBucket) *testBucket {
	t.Helper()
	js := jetStream(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, "fl_rules")
	if err != nil {
		t.Fatal(err)
	}
	return &testBucket{t: t, kv: kv, sig: b.sig, rev: b.rev}
}

// TestRuleSyncKeepsRuleState: a pushed bundle that leaves a sensor's rule
// as it was keeps that rule's state across the swap: the deadband still
// measures from the last value sent, and a pending `for` alert keeps its
// timer (no "ok, rule_changed" and no second "pending"). Nothing queued
// in the buffer is touched: every reading reaches Kafka once.
func TestRuleSyncKeepsRuleState(t *testing.T) {
	ns := testkit.NATS(t)
	k := testkit.StartKafka(t)
	agentrun.StartBridge(t, ns.URL(), k)
	b := newTestBucket(t, ns.URL())
	const boiler = `  - match: boiler.temp
    deadband: {absolute: 1}
    alerts:
      - {name: hot, above: 50, for: 2s}
`
	b.push("fleet.f", "version: v1\nname: b\nrules:\n"+boiler+"  - {match: other, transform: {scale: 2}}\n", nil)
	src := &stepSource{values: make(chan float64)}
	a := startAgent(t, syncAgentYAML("gw-state", filepath.Join(t.TempDir(), "gw"), ns.URL()), Options{Sources: []Source{src}})
	testkit.WaitFor(t, 10*time.Second, "v1 applied", func() bool { return a.Status().RulesRevision == 1 })
	src.values <- 10   // sent
	src.values <- 10.5 // in the deadband
	src.values <- 60   // sent; hot pending
	testkit.WaitFor(t, 10*time.Second, "three readings in", func() bool { return a.Status().ReadingsIn == 3 })

	b.push("fleet.f", "version: v2\nname: b\nrules:\n"+boiler+"  - {match: other, transform: {scale: 3}}\n", nil)
	testkit.WaitFor(t, 10*time.Second, "v2 applied", func() bool { return a.Status().RulesRevision == 2 })
	src.values <- 60.5 // in the deadband of 60: dropped only if the state carried over
	src.values <- 62   // sent
	testkit.WaitFor(t, 10*time.Second, "hot fired", func() bool {
		st := a.Status()
		return st.Lanes[fieldline.LaneAlert].NextSeq == 3 && st.Depth() == 0 && st.ReadingsIn == 5
	})

	var tel []float64
	var alerts []string
	cons := testkit.NewConsumer(t, k.Brokers, k.Topic("fl.readings"))
	cons.Until(30*time.Second, func(rec *kgo.Record) bool {
		r := agentrun.ReadRecord(t, rec)
		switch r.Lane {
		case fieldline.LaneTelemetry:
			tel = append(tel, r.Value)
		case fieldline.LaneAlert:
			ev, err := rules.ParseAlertEvent(fieldline.Reading{Kind: fieldline.Kind(r.Kind), Text: r.Text, Value: r.Value, SensorID: r.SensorID})
			if err != nil {
				t.Fatal(err)
			}
			alerts = append(alerts, ev.Alert+":"+ev.State+":"+ev.Reason)
		}
		return len(tel) >= 3 && len(alerts) >= 2
	})
	if fmt.Sprint(tel) != "[10 60 62]" {
		t.Errorf("telemetry in Kafka %v, want [10 60 62] (60.5 inside the deadband kept across the swap)", tel)
	}
	if fmt.Sprint(alerts) != "[hot:pending: hot:firing:]" {
		t.Errorf("alert transitions %v, want [hot:pending: hot:firing:] (the pending timer kept across the swap)", alerts)
	}
}

// TestRuleSyncTakesThePlaceOfTheFile: an agent with rules.file runs the
// file until a pushed bundle applies; then SIGHUP's reload refuses to put
// the file back over the pushed bundle, and says why.
func TestRuleSyncTakesThePlaceOfTheFile(t *testing.T) {
	ns := testkit.NATS(t)
	b := newTestBucket(t, ns.URL())
	dir := t.TempDir()
	file := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(file, []byte(bundleV("local")), 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := strings.Replace(syncAgentYAML("gw-file", filepath.Join(dir, "gw"), ns.URL()), "rules: {", "rules: {file: "+file+", ", 1)
	a := startAgent(t, yaml, Options{})
	if st := a.Status(); st.RulesVersion != "local" || st.RulesKey != "" {
		t.Fatalf("before a push: runs %q from %q", st.RulesVersion, st.RulesKey)
	}
	if err := a.ReloadRules(); err != nil {
		t.Fatalf("reloading the file before a push: %v", err)
	}
	b.push("fleet.f", bundleV("pushed"), nil)
	testkit.WaitFor(t, 10*time.Second, "the pushed bundle applied", func() bool { return a.Status().RulesVersion == "pushed" })
	err := a.ReloadRules()
	if err == nil || !strings.Contains(err.Error(), "runs the pushed bundle fleet.f@1") {
		t.Fatalf("reloading the file over a pushed bundle: %v", err)
	}
	if st := a.Status(); st.RulesVersion != "pushed" {
		t.Fatalf("after the refused reload: runs %q", st.RulesVersion)
	}
}
