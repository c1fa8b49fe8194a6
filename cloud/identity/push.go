package identity

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
)

// ClaimsUpdateSubject is where a system account user sends an account JWT.
const ClaimsUpdateSubject = "$SYS.REQ.CLAIMS.UPDATE"

// Push sends an account JWT to the servers over nc, a connection of the
// system account's user (sys.creds), and waits for a server to take it. A
// server that takes a JWT with new revocations closes the revoked users'
// connections at once.
func Push(ctx context.Context, nc *nats.Conn, accountJWT string) error {
	msg, err := nc.RequestWithContext(ctx, ClaimsUpdateSubject, []byte(accountJWT))
	if err != nil {
		return fmt.Errorf("pushing account JWT on %s: %w", ClaimsUpdateSubject, err)
	}
	var resp struct {
		Data *struct {
			Account string `json:"account"`
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"data"`
		Error *struct {
			Account     string `json:"account"`
			Code        int    `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return fmt.Errorf("%w: the reply does not decode: %w", ErrPush, err)
	}
	if resp.Error != nil {
		return fmt.Errorf("%w: %s (code %d)", ErrPush, resp.Error.Description, resp.Error.Code)
	}
	if resp.Data == nil {
		return fmt.Errorf("%w: empty reply %q", ErrPush, msg.Data)
	}
	return nil
}
