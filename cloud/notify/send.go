package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/retry"
	"github.com/fieldline/fieldline/protocols/wire"
)

// Headers of a webhook call.
const (
	HeaderSignature   = "X-Fieldline-Signature"
	HeaderIdempotency = "X-Fieldline-Idempotency-Key"
	HeaderAttempt     = "X-Fieldline-Attempt"
)

// Notification is one group's transitions, sent together.
type Notification struct {
	// Group holds the values of the group_by labels.
	Group  map[string]string
	Events []fieldline.AlertEvent
}

// Key is the notification's idempotency key: the SHA-256 of its
// transitions' keys (<fingerprint>-<seq>) in order. Each event also
// carries its own key in the body; a receiver that dedups by those is
// right even if a restart groups the same transitions otherwise.
func (n *Notification) Key() string {
	h := sha256.New()
	for _, k := range n.keys() {
		h.Write([]byte(k))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (n *Notification) keys() []string {
	keys := make([]string, len(n.Events))
	for i := range n.Events {
		keys[i] = EventKey(&n.Events[i])
	}
	return keys
}

// EventKey is a transition's idempotency key: <fingerprint>-<seq>.
func EventKey(e *fieldline.AlertEvent) string {
	return fmt.Sprintf("%s-%d", fieldline.FingerprintString(e.Fingerprint), e.Seq)
}

// WebhookBody is the JSON of a webhook call.
func WebhookBody(n *Notification) []byte {
	var b bytes.Buffer
	b.WriteString(`{"version":"1","idempotency_key":`)
	writeJSON(&b, n.Key())
	b.WriteString(`,"group":`)
	writeJSON(&b, n.Group)
	b.WriteString(`,"alerts":[`)
	for i := range n.Events {
		if i > 0 {
			b.WriteByte(',')
		}
		ev := wire.AppendAlertJSON(nil, &n.Events[i])
		// One more key in the event's object: its own idempotency key.
		b.Write(ev[:len(ev)-1])
		b.WriteString(`,"idempotency_key":`)
		writeJSON(&b, EventKey(&n.Events[i]))
		b.WriteByte('}')
	}
	b.WriteString("]}")
	return b.Bytes()
}

func writeJSON(b *bytes.Buffer, v any) {
	j, _ := json.Marshal(v) // strings and maps of strings
	b.Write(j)
}

// Sign is the signature header's value for body: "sha256=" and the hex
// HMAC-SHA256 of the body with secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is body's signature with secret (for
// receivers; constant time).
func Verify(secret, body []byte, sig string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(sig))
}

// permanent is an answer that another attempt will not change (a 4xx
// other than 408 and 429).
type permanent struct{ error }

// post sends one request and reads its answer: nil for a 2xx.
func post(ctx context.Context, hc *http.Client, u string, body []byte, headers map[string]string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return permanent{err}
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return nil
	}
	err = fmt.Errorf("%s answered %s: %s", u, resp.Status, strings.TrimSpace(string(msg)))
	if resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests {
		return permanent{err}
	}
	return err
}

// attempts posts until a 2xx, a permanent refusal, max attempts or ctx's
// end, waiting by policy between attempts. It returns the attempts made and
// the last error (nil: delivered).
func attempts(ctx context.Context, max int, policy retry.Policy, send func(attempt int) error) (int, error) {
	bo := policy.Start()
	var err error
	for a := 1; a <= max; a++ {
		if err = send(a); err == nil {
			return a, nil
		}
		var p permanent
		if errors.As(err, &p) || a == max {
			return a, err
		}
		if !retry.Sleep(ctx, bo.Next()) {
			return a, errors.Join(err, ctx.Err())
		}
	}
	return max, err
}

// amAlert is an alert of Alertmanager's v2 API (POST /api/v2/alerts).
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     string            `json:"startsAt,omitempty"`
	EndsAt       string            `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// AlertmanagerBody is the v2 API body for the alerts' latest events: a
// firing (or no-data) alert with startsAt and no endsAt, a resolved one
// with endsAt set to when it resolved. Annotations add fieldline_state
// (firing, no-data, resolved), value, fingerprint and seq.
func AlertmanagerBody(events []fieldline.AlertEvent) []byte {
	out := make([]amAlert, 0, len(events))
	for i := range events {
		ev := &events[i]
		a := amAlert{Labels: ev.Labels, Annotations: map[string]string{}}
		for k, v := range ev.Annotations {
			a.Annotations[k] = v
		}
		a.Annotations["fieldline_state"] = ev.To.String()
		a.Annotations["fieldline_value"] = fmt.Sprint(ev.Value)
		a.Annotations["fieldline_fingerprint"] = fieldline.FingerprintString(ev.Fingerprint)
		a.Annotations["fieldline_seq"] = fmt.Sprint(ev.Seq)
		if ev.ActiveSinceNs != 0 {
			a.StartsAt = time.Unix(0, ev.ActiveSinceNs).UTC().Format(time.RFC3339Nano)
		}
		if ev.To == fieldline.AlertResolved || ev.To == fieldline.AlertInactive {
			a.EndsAt = time.Unix(0, ev.TimeNs).UTC().Format(time.RFC3339Nano)
		}
		out = append(out, a)
	}
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].Labels[fieldline.LabelAlertName] < out[j].Labels[fieldline.LabelAlertName]
	})
	b, _ := json.Marshal(out)
	return b
}
