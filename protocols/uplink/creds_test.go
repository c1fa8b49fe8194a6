package uplink

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// TestCredsFile connects with a .creds file (a user JWT and its nkey seed)
// to a real NATS server in operator mode, as a NATS deployment with
// decentralised auth hands out to each gateway.
func TestCredsFile(t *testing.T) {
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	okp, _ := nkeys.CreateOperator()
	opub, _ := okp.PublicKey()
	oc := jwt.NewOperatorClaims(opub)
	ojwt, err := oc.Encode(okp)
	must(err)
	ocl, err := jwt.DecodeOperatorClaims(ojwt)
	must(err)

	akp, _ := nkeys.CreateAccount()
	apub, _ := akp.PublicKey()
	ac := jwt.NewAccountClaims(apub)
	ajwt, err := ac.Encode(okp)
	must(err)

	user := func(name string) string {
		ukp, _ := nkeys.CreateUser()
		upub, _ := ukp.PublicKey()
		uc := jwt.NewUserClaims(upub)
		uc.Name = name
		ujwt, err := uc.Encode(akp)
		must(err)
		seed, _ := ukp.Seed()
		creds, err := jwt.FormatUserConfig(ujwt, seed)
		must(err)
		path := filepath.Join(t.TempDir(), name+".creds")
		must(os.WriteFile(path, creds, 0o600))
		return path
	}
	resolver := &server.MemAccResolver{}
	must(resolver.Store(apub, ajwt))
	s := runServer(t, &server.Options{TrustedOperators: []*jwt.OperatorClaims{ocl}, AccountResolver: resolver, NoSystemAccount: true})
	answer(t, s, nats.UserCredentials(user("bridge")))

	if err := sendOnce(t, NATSConfig{URL: s.ClientURL(), Creds: user("gw-creds")}, "gw-creds"); err != nil {
		t.Fatalf("with a creds file: %v", err)
	}
	if err := sendOnce(t, NATSConfig{URL: s.ClientURL()}, "gw-creds"); err == nil {
		t.Fatal("connected without credentials to a server in operator mode")
	}
}
