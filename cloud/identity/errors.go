package identity

import "errors"

var (
	// ErrExists means Init found an authority in the directory already.
	ErrExists = errors.New("an authority exists in this directory already")
	// ErrNoAuthority means Open found no authority in the directory.
	ErrNoAuthority = errors.New("no authority in this directory (fieldline-cloud fleet authority init makes one)")
	// ErrUnknownAgent means Revoke was asked about an agent never provisioned.
	ErrUnknownAgent = errors.New("agent not provisioned by this authority")
	// ErrPush means a server did not take an account JWT.
	ErrPush = errors.New("account JWT not taken by the server")
)
