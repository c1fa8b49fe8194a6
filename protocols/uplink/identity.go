package uplink

import (
	"encoding/json"
	"fmt"
)

// IdentityHeader is the header in which a NATS server in operator mode
// tells the exporting account who sent a request that crossed a service
// import: the JSON of the server's ClientInfo. The server writes it itself
// and replaces any header of that name the client sent, so a bridge in the
// cloud account can trust it (see docs/security.md).
const IdentityHeader = "Nats-Request-Info"

// Sender is the identity a NATS server authenticated for a request: the
// account's and the user's public nkeys, and the user JWT's name, which
// fieldline-cloud fleet provision sets to the agent id.
type Sender struct {
	Account string `json:"acc"`
	User    string `json:"user"`
	Name    string `json:"name_tag"`
}

// ParseSender reads the value of IdentityHeader. An empty value, one that
// does not decode, or one without account or name is ErrNoIdentity.
func ParseSender(value string) (Sender, error) {
	var s Sender
	if value == "" {
		return s, fmt.Errorf("%w: no %s header (the request did not come through the agents' account's service import)", ErrNoIdentity, IdentityHeader)
	}
	if err := json.Unmarshal([]byte(value), &s); err != nil {
		return Sender{}, fmt.Errorf("%w: %s header does not decode: %w", ErrNoIdentity, IdentityHeader, err)
	}
	if s.Account == "" || s.Name == "" {
		return Sender{}, fmt.Errorf("%w: %s header names no account or no user name (the import must share the requester's details)", ErrNoIdentity, IdentityHeader)
	}
	return s, nil
}

// InboxPrefix is the prefix of an agent's reply subjects,
// _FL_INBOX.<agent_id>: an agent's credentials allow it to subscribe there
// and nowhere else, so that it cannot read another agent's acks or the
// rule bundles delivered to another agent's watch.
func InboxPrefix(agentID string) string { return InboxRoot + agentID }

// InboxRoot begins every agent's InboxPrefix.
const InboxRoot = "_FL_INBOX."

// AliasBucket is the default NATS KV bucket in which the bridges keep the
// agents' sensor alias tables (bridge aliases.bucket), and the one the
// identities fieldline-cloud issues allow them.
const AliasBucket = "fl_aliases"

// BridgeInboxPrefix is the bridges' inbox prefix (the replies of the
// JetStream calls that keep the sensor alias tables).
const BridgeInboxPrefix = "_FL_BRIDGE_INBOX"
