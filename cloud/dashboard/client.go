package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Client reads a running dashboard's JSON API: what `fieldline-cloud alerts
// list --dashboard URL` uses (and `fleet agents` can), so that a command
// line needs no Kafka or NATS access of its own.
type Client struct {
	// Base is the dashboard's address, e.g. http://127.0.0.1:9275.
	Base string
	// HTTP defaults to http.DefaultClient; the context bounds each call.
	HTTP *http.Client
	// Token is the dashboard's bearer token (token or token_file in its
	// config); empty when it has none.
	Token string
}

func (c *Client) get(ctx context.Context, path string, v any) error {
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	u := strings.TrimRight(c.Base, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("dashboard %s: %w", u, err)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("dashboard %s: %s: %s", u, resp.Status, strings.TrimSpace(string(b)))
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("dashboard %s: reading the answer: %w", u, err)
	}
	return nil
}

// Agents returns the fleet as /api/agents has it, by id.
func (c *Client) Agents(ctx context.Context) ([]AgentView, error) {
	var v struct {
		Agents []AgentView `json:"agents"`
	}
	err := c.get(ctx, "/api/agents", &v)
	return v.Agents, err
}

// Alerts returns /api/alerts: active, history, silences.
func (c *Client) Alerts(ctx context.Context) (AlertsView, error) {
	var v AlertsView
	err := c.get(ctx, "/api/alerts", &v)
	return v, err
}
