package notify

import (
	"net/url"
	"os"
	"slices"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/internal/kafkasec"
)

// Config configures a notifier.
type Config struct {
	Kafka KafkaConfig `yaml:"kafka"`
	// GroupBy are the labels whose values make a group: the transitions
	// of one group that come within GroupWait go out in one notification.
	// Default [alertname, agent].
	GroupBy []string `yaml:"group_by"`
	// GroupWait is how long a group waits for more transitions after its
	// first before it is sent. Default 1s; 0 sends each poll's at once.
	GroupWait *time.Duration `yaml:"group_wait"`
	// States are the states whose transitions are notified. Default
	// firing, no-data, resolved (pending is not news to a person).
	States []string `yaml:"states"`
	// Webhooks receive a signed JSON body per group.
	Webhooks []WebhookConfig `yaml:"webhooks"`
	// Alertmanagers receive the firing and resolved alerts through the v2
	// API.
	Alertmanagers []AlertmanagerConfig `yaml:"alertmanagers"`
}

// KafkaConfig names the cluster, the topics and the group.
type KafkaConfig struct {
	Brokers []string `yaml:"brokers"`
	// Security: tls and sasl (SCRAM-SHA-512, ...) of the connection to
	// the brokers (internal/kafkasec).
	Security kafkasec.Config `yaml:",inline"`
	// Group is the notifier's consumer group. Default fieldline-notify.
	Group string `yaml:"group"`
	// AlertsTopic and StateTopic are the processor's (default fl.alerts
	// and fl.alerts.state); SilencesTopic is compacted and holds the
	// silences (default fl.alerts.silences); DeadletterTopic the
	// notifications given up on (default fl.alerts.deadletter).
	AlertsTopic     string `yaml:"alerts_topic"`
	StateTopic      string `yaml:"state_topic"`
	SilencesTopic   string `yaml:"silences_topic"`
	DeadletterTopic string `yaml:"deadletter_topic"`
	// ReplicationFactor of the topics the notifier creates (-1: the
	// broker's default).
	ReplicationFactor int    `yaml:"replication_factor"`
	ClientID          string `yaml:"client_id"`
}

// WebhookConfig is one webhook target.
type WebhookConfig struct {
	Name string `yaml:"name"`
	URL  string `yaml:"url"`
	// Secret signs each body (header X-Fieldline-Signature: sha256=<hex
	// HMAC-SHA256 of the body>); SecretFile reads it from a file instead.
	Secret     string `yaml:"secret"`
	SecretFile string `yaml:"secret_file"`
	// MaxAttempts before the notification goes to the dead-letter topic.
	// Default 5.
	MaxAttempts int `yaml:"max_attempts"`
	// Backoff between attempts: doubling from Min to Max. Default 500ms to
	// 30s.
	BackoffMin time.Duration `yaml:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max"`
	// Timeout of one attempt. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
}

// AlertmanagerConfig is one Prometheus Alertmanager.
type AlertmanagerConfig struct {
	Name string `yaml:"name"`
	// URL is the Alertmanager's base URL (http://am:9093); alerts go to
	// URL/api/v2/alerts.
	URL         string        `yaml:"url"`
	MaxAttempts int           `yaml:"max_attempts"`
	BackoffMin  time.Duration `yaml:"backoff_min"`
	BackoffMax  time.Duration `yaml:"backoff_max"`
	Timeout     time.Duration `yaml:"timeout"`
	// Resend is how often firing alerts are sent again: Alertmanager
	// resolves an alert it has not heard of for its resolve_timeout.
	// Default 1m.
	Resend time.Duration `yaml:"resend"`
}

// SetDefaults fills in zero fields.
func (c *Config) SetDefaults() {
	k := &c.Kafka
	if len(k.Brokers) == 0 {
		k.Brokers = []string{"127.0.0.1:9092"}
	}
	for _, d := range []struct {
		f *string
		v string
	}{
		{&k.Group, "fieldline-notify"}, {&k.AlertsTopic, "fl.alerts"}, {&k.StateTopic, "fl.alerts.state"},
		{&k.SilencesTopic, "fl.alerts.silences"}, {&k.DeadletterTopic, "fl.alerts.deadletter"}, {&k.ClientID, "fieldline-notify"},
	} {
		if *d.f == "" {
			*d.f = d.v
		}
	}
	if k.ReplicationFactor == 0 {
		k.ReplicationFactor = -1
	}
	if c.GroupBy == nil {
		c.GroupBy = []string{fieldline.LabelAlertName, fieldline.LabelAgent}
	}
	if c.GroupWait == nil {
		d := time.Second
		c.GroupWait = &d
	}
	if c.States == nil {
		c.States = []string{"firing", "no-data", "resolved"}
	}
	for i := range c.Webhooks {
		w := &c.Webhooks[i]
		setTarget(&w.MaxAttempts, &w.BackoffMin, &w.BackoffMax, &w.Timeout)
	}
	for i := range c.Alertmanagers {
		a := &c.Alertmanagers[i]
		setTarget(&a.MaxAttempts, &a.BackoffMin, &a.BackoffMax, &a.Timeout)
		if a.Resend == 0 {
			a.Resend = time.Minute
		}
	}
}

func setTarget(attempts *int, bmin, bmax, timeout *time.Duration) {
	if *attempts == 0 {
		*attempts = 5
	}
	if *bmin == 0 {
		*bmin = 500 * time.Millisecond
	}
	if *bmax == 0 {
		*bmax = 30 * time.Second
	}
	if *timeout == 0 {
		*timeout = 10 * time.Second
	}
}

// Check lists the config's problems (after SetDefaults).
func (c *Config) Check(p *confkit.Problems) {
	c.Kafka.Security.Check(p.In("kafka"))
	if *c.GroupWait < 0 {
		p.Add("group_wait", "must be ≥ 0, got %s", *c.GroupWait)
	}
	for i, s := range c.States {
		st, ok := fieldline.ParseAlertState(s)
		if !ok || st == fieldline.AlertInactive {
			p.At("states", i).Add("", "unknown state %q (want pending, firing, no-data or resolved)", s)
		}
	}
	names := map[string]bool{}
	name := func(q *confkit.Problems, n string) {
		if n == "" {
			q.Add("name", "is required")
		} else if names[n] {
			q.Add("name", "%q names another target too", n)
		}
		names[n] = true
	}
	for i := range c.Webhooks {
		w := &c.Webhooks[i]
		q := p.At("webhooks", i)
		name(q, w.Name)
		checkURL(q, w.URL)
		switch {
		case w.Secret != "" && w.SecretFile != "":
			q.Add("secret", "set secret or secret_file, not both")
		case w.SecretFile != "":
			if _, err := os.ReadFile(w.SecretFile); err != nil {
				q.Add("secret_file", "%v", err)
			}
		}
		checkTarget(q, w.MaxAttempts, w.BackoffMin, w.BackoffMax, w.Timeout)
	}
	for i := range c.Alertmanagers {
		a := &c.Alertmanagers[i]
		q := p.At("alertmanagers", i)
		name(q, a.Name)
		checkURL(q, a.URL)
		checkTarget(q, a.MaxAttempts, a.BackoffMin, a.BackoffMax, a.Timeout)
		if a.Resend < time.Second {
			q.Add("resend", "must be ≥ 1s, got %s", a.Resend)
		}
	}
	k := &c.Kafka
	topics := []string{k.AlertsTopic, k.StateTopic, k.SilencesTopic, k.DeadletterTopic}
	for i, t := range topics {
		if slices.Contains(topics[:i], t) {
			p.Add("kafka", "topic %q named twice", t)
		}
	}
}

func checkURL(q *confkit.Problems, s string) {
	u, err := url.Parse(s)
	switch {
	case s == "":
		q.Add("url", "is required")
	case err != nil:
		q.Add("url", "%v", err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		q.Add("url", "%q: want http:// or https:// and a host", s)
	}
}

func checkTarget(q *confkit.Problems, attempts int, bmin, bmax, timeout time.Duration) {
	if attempts < 1 {
		q.Add("max_attempts", "must be ≥ 1, got %d", attempts)
	}
	if bmin < 0 || bmax < bmin {
		q.Add("backoff_max", "want 0 ≤ backoff_min ≤ backoff_max, got %s and %s", bmin, bmax)
	}
	if timeout <= 0 {
		q.Add("timeout", "must be > 0, got %s", timeout)
	}
}
