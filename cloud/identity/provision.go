package identity

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/rules/signed"
)

// Agent is what the authority keeps of a provisioned agent (agents/<id>.json).
type Agent struct {
	ID     string `json:"id"`
	Fleet  string `json:"fleet,omitempty"`
	Bucket string `json:"bucket"`
	// UserKey is the public nkey of its credentials, the key Revoke revokes.
	UserKey string    `json:"user_key"`
	Issued  time.Time `json:"issued"`
	// Revoked is when its credentials were revoked (zero: they are valid).
	Revoked time.Time `json:"revoked,omitzero"`
}

// Provisioned is the result of Provision.
type Provisioned struct {
	Agent Agent
	// Creds is the agent's .creds file (user JWT and seed): a secret.
	Creds []byte
	// Replaced is the user key of earlier credentials of the same agent,
	// revoked by this call (the account JWT changed: Push it).
	Replaced string
}

// Provision issues credentials for agent id of fleet (may be empty) with
// its rule bundles in bucket. Provisioning an agent again revokes its
// earlier credentials.
func (a *Authority) Provision(id, fleet, bucket string) (*Provisioned, error) {
	if err := uplink.CheckAgentID(id); err != nil {
		return nil, err
	}
	if fleet != "" {
		if err := signed.CheckName(fleet); err != nil {
			return nil, fmt.Errorf("fleet: %w", err)
		}
	}
	if bucket == "" {
		bucket = "fl_rules"
	}
	creds, key, err := issueUser(a.agents, id, AgentPermissions(id, fleet, bucket))
	if err != nil {
		return nil, err
	}
	p := &Provisioned{Agent: Agent{ID: id, Fleet: fleet, Bucket: bucket, UserKey: key, Issued: time.Now().UTC()}, Creds: creds}
	old, err := a.Agent(id)
	switch {
	case errors.Is(err, ErrUnknownAgent):
	case err != nil:
		return nil, err
	case old.Revoked.IsZero():
		a.agents.claims.RevokeAt(old.UserKey, time.Now())
		if err := a.saveAgents(); err != nil {
			return nil, err
		}
		p.Replaced = old.UserKey
	}
	if err := a.keep(&p.Agent); err != nil {
		return nil, err
	}
	return p, nil
}

// Revoke revokes the credentials of agent id from now on and returns the
// account JWT to Push.
func (a *Authority) Revoke(id string) (string, error) {
	ag, err := a.Agent(id)
	if err != nil {
		return "", err
	}
	now := time.Now()
	a.agents.claims.RevokeAt(ag.UserKey, now)
	if err := a.saveAgents(); err != nil {
		return "", err
	}
	ag.Revoked = now.UTC()
	if err := a.keep(ag); err != nil {
		return "", err
	}
	return a.AccountJWT()
}

// Agent is what the authority keeps of agent id (ErrUnknownAgent if none).
func (a *Authority) Agent(id string) (*Agent, error) {
	if err := uplink.CheckAgentID(id); err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(filepath.Join(a.Dir, agentsDir, id+".json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", id, ErrUnknownAgent)
	}
	if err != nil {
		return nil, fmt.Errorf("reading agent %s: %w", id, err)
	}
	var ag Agent
	if err := json.Unmarshal(raw, &ag); err != nil {
		return nil, fmt.Errorf("decoding agent %s: %w", id, err)
	}
	return &ag, nil
}

func (a *Authority) keep(ag *Agent) error {
	data, err := json.MarshalIndent(ag, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding agent %s: %w", ag.ID, err)
	}
	if err := os.MkdirAll(filepath.Join(a.Dir, agentsDir), 0o700); err != nil {
		return fmt.Errorf("keeping agent %s: %w", ag.ID, err)
	}
	return writeFile(filepath.Join(a.Dir, agentsDir, ag.ID+".json"), append(data, '\n'), 0o600)
}

// saveAgents signs and writes the AGENTS account JWT, and the server
// configuration that preloads it.
func (a *Authority) saveAgents() error {
	if err := a.save(a.agents); err != nil {
		return err
	}
	return a.writeServerConfig()
}

// User issues credentials for a user of the agents' account that is not an
// agent (a monitoring tool, a test), with perms. The bridge refuses its
// batches: its name is not an agent's subject.
func (a *Authority) User(name string, perms jwt.Permissions) ([]byte, error) {
	creds, _, err := issueUser(a.agents, name, perms)
	return creds, err
}
