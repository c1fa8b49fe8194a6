package mqtt

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline/internal/confkit"
)

func TestSampleConfig(t *testing.T) {
	var c Config
	if err := confkit.Decode("sample.yaml", SampleConfig, &c); err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	if c.Name != "plant" || len(c.Subscriptions) != 4 || *c.QoS != 1 || c.MaxPayload != 64<<10 || c.Reconnect.Max != time.Minute {
		t.Fatalf("decoded %+v", c)
	}
	if s := c.Subscriptions[1]; *s.QoS != 0 || s.Kind != KindBool {
		t.Errorf("level switch %+v", s)
	}
	if s := c.Subscriptions[3]; s.Format != FormatJSON || len(s.Values) != 3 || s.Timestamp.Format != TSUnixMs {
		t.Errorf("env %+v", s)
	}
	// New reads the password file; point it at a real one.
	c.PasswordFile = t.TempDir() + "/pw"
	if err := writeFile(c.PasswordFile, "s3cret\n"); err != nil {
		t.Fatal(err)
	}
	src, err := New(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if string(src.conn.password) != "s3cret" || src.Name() != "mqtt/plant" {
		t.Errorf("password %q, name %s", src.conn.password, src.Name())
	}
}

func TestConfigProblems(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string
	}{
		{"nothing", "name: x\n", []string{
			"brokers: at least one broker URL is required",
			"subscriptions: at least one subscription is required",
		}},
		{"unknown key", "brokers: [mqtt://h:1]\nsubscriptions: [{topic: a, qso: 1}]\n", []string{"line 2: subscriptions[0].qso: unknown key (did you mean qos?)"}},
		{"everything wrong", `
brokers: ["http://h:1", "mqtt://", "mqtt://u:p@h:1"]
password: x
password_file: /x
tls: {cert_file: c.pem}
keepalive: 10ms
reconnect: {min: 2s, max: 1s}
qos: 2
subscriptions:
  - {topic: "a/#/b"}
  - {topic: "a/+", sensor: "x.<+>.<+>", qos: 2, kind: text}
  - {topic: "a/+", format: xml}
  - {topic: b, values: [{path: x}], timestamp: {path: t}}
  - {topic: c, format: json, scale: 2}
  - {topic: d, format: json, values: [{path: "a..b"}, {path: x, sensor: d.x}, {path: y, sensor: d.x, kind: bool, scale: 3}], timestamp: {path: t, format: unix_h}}
  - {topic: e, kind: bool, offset: 1}
`, []string{
			`brokers[0]: "http://h:1": unknown scheme "http"`,
			`brokers[1]: "mqtt://": no host`,
			"brokers[2]: mqtt://u:xxxxx@h:1: put credentials in username and password, not in the URL",
			"password_file: set either password or password_file, not both",
			"tls: cert_file and key_file go together",
			"keepalive: must be within 1s..18h12m15s, got 10ms",
			"reconnect.max: must be > reconnect.min (2s), got 1s",
			"qos: must be 0 or 1, got 2",
			`subscriptions[0].topic: "a/#/b": # must be the last level`,
			`subscriptions[1].sensor: "x.<+>.<+>" has more <+> than the filter has + levels (1)`,
			"subscriptions[1].qos: must be 0 or 1, got 2",
			`subscriptions[1].kind: unknown kind "text"`,
			`subscriptions[2].topic: topic filter "a/+" is already subscribed by subscriptions[1]`,
			`subscriptions[2].format: unknown format "xml"`,
			"subscriptions[3].values: values apply to format json only",
			"subscriptions[3].timestamp: timestamp applies to format json only",
			"subscriptions[4].scale: with format json, scale and offset go on each value",
			"subscriptions[4].values: format json needs at least one value",
			`subscriptions[5].values[0].path: "a..b" has an empty element`,
			`subscriptions[5].values[2].sensor: sensor id "d.x" is already produced by values[1]`,
			"subscriptions[5].values[2].scale: a bool sensor cannot be scaled or offset",
			`subscriptions[5].timestamp.format: unknown format "unix_h"`,
			"subscriptions[6].scale: a bool sensor cannot be scaled or offset",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			err := confkit.Decode("m.yaml", []byte(tc.yaml), &c)
			var ce *confkit.Error
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want *confkit.Error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q", w)
				}
			}
			if len(ce.Problems) != len(tc.want) {
				t.Errorf("got %d problems, want %d:\n%v", len(ce.Problems), len(tc.want), err)
			}
		})
	}
}

func TestPasswordNeverShows(t *testing.T) {
	c := Config{Name: "p", Brokers: []string{"mqtt://h:1"}, Username: "u", Password: "hunter2"}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("config", "cfg", c, "pw", c.Password)
	b.WriteString(fmt.Sprintf("%v %+v %#v %s", c, c, c, c.Password))
	if strings.Contains(b.String(), "hunter2") {
		t.Fatalf("password shown: %s", b.String())
	}
}

func TestBrokerURLDefaults(t *testing.T) {
	for in, want := range map[string]string{
		"mqtt://h":         "mqtt://h:1883",
		"tls://h":          "tls://h:8883",
		"mqtt://[::1]":     "mqtt://[::1]:1883",
		"wss://h/mqtt":     "wss://h:443/mqtt",
		"tcp://10.0.0.1:1": "tcp://10.0.0.1:1",
	} {
		u, err := brokerURL(in)
		if err != nil || u.String() != want {
			t.Errorf("%s: got %v %v, want %s", in, u, err, want)
		}
	}
}

func writeFile(name, s string) error { return os.WriteFile(name, []byte(s), 0o600) }
