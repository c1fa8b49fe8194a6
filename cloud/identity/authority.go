package identity

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/fieldline/fieldline/protocols/uplink"
)

// Authority is the operator, its accounts and the agents it provisioned,
// kept in Dir.
type Authority struct {
	Dir      string
	operator nkeys.KeyPair
	sys      *account
	agents   *account
	cloud    *account
}

// account is one account's key pair and claims.
type account struct {
	name   string
	kp     nkeys.KeyPair
	claims *jwt.AccountClaims
}

// Files of an authority's directory.
const (
	operatorSeed = "operator.nk"
	operatorJWT  = "operator.jwt"
	// ServerConfigFile is the nats-server configuration Init writes.
	ServerConfigFile = "nats-server.conf"
	// BridgeCreds, FleetCreds and SysCreds are the users Init issues.
	BridgeCreds = "bridge.creds"
	FleetCreds  = "fleet.creds"
	SysCreds    = "sys.creds"
	agentsDir   = "agents"
)

// Account names (the JWTs' names; the servers know them by public key).
const (
	SysAccount    = "SYS"
	AgentsAccount = "AGENTS"
	CloudAccount  = "CLOUD"
)

// InitOptions configure Init.
type InitOptions struct {
	// Name of the operator. Default fieldline.
	Name string
}

// Init makes a new authority in dir (created 0700; it must not hold one).
func Init(dir string, o InitOptions) (*Authority, error) {
	if o.Name == "" {
		o.Name = "fieldline"
	}
	// The server configuration names files by path: absolute ones.
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("authority directory: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, operatorSeed)); err == nil {
		return nil, fmt.Errorf("%s: %w", dir, ErrExists)
	}
	if err := os.MkdirAll(filepath.Join(dir, agentsDir), 0o700); err != nil {
		return nil, fmt.Errorf("making authority directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("making authority directory private: %w", err)
	}
	a := &Authority{Dir: dir}
	if a.operator, err = nkeys.CreateOperator(); err != nil {
		return nil, fmt.Errorf("creating operator key: %w", err)
	}
	newAccount := func(name string) (*account, error) {
		kp, err := nkeys.CreateAccount()
		if err != nil {
			return nil, fmt.Errorf("creating account key %s: %w", name, err)
		}
		pub, _ := kp.PublicKey()
		c := jwt.NewAccountClaims(pub)
		c.Name = name
		return &account{name: name, kp: kp, claims: c}, nil
	}
	if a.sys, err = newAccount(SysAccount); err != nil {
		return nil, err
	}
	if a.agents, err = newAccount(AgentsAccount); err != nil {
		return nil, err
	}
	if a.cloud, err = newAccount(CloudAccount); err != nil {
		return nil, err
	}
	// The agents' rule bucket lives in AGENTS, the bridges' alias tables
	// in CLOUD.
	a.agents.claims.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	a.cloud.claims.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	// CLOUD serves the batches and says hello; AGENTS imports both, and
	// shares the requester's details so that the server stamps them on
	// every batch (uplink.IdentityHeader).
	cloudPub := a.cloud.pub()
	a.cloud.claims.Exports = jwt.Exports{
		&jwt.Export{Name: "batches", Subject: uplink.SubjectPrefix + "*", Type: jwt.Service, ResponseType: jwt.ResponseTypeSingleton},
		&jwt.Export{Name: "hello", Subject: uplink.HelloSubject, Type: jwt.Stream},
	}
	a.agents.claims.Imports = jwt.Imports{
		&jwt.Import{Name: "batches", Subject: uplink.SubjectPrefix + "*", Account: cloudPub, Type: jwt.Service, Share: true},
		&jwt.Import{Name: "hello", Subject: uplink.HelloSubject, Account: cloudPub, Type: jwt.Stream},
	}

	opub, _ := a.operator.PublicKey()
	oc := jwt.NewOperatorClaims(opub)
	oc.Name = o.Name
	oc.SystemAccount = a.sys.pub()
	ojwt, err := oc.Encode(a.operator)
	if err != nil {
		return nil, fmt.Errorf("signing operator JWT: %w", err)
	}
	if err := writeSeed(filepath.Join(dir, operatorSeed), a.operator); err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(dir, operatorJWT), []byte(ojwt), 0o644); err != nil {
		return nil, err
	}
	for _, acc := range a.accounts() {
		if err := a.save(acc); err != nil {
			return nil, err
		}
	}
	users := []struct {
		file  string
		acc   *account
		name  string
		perms jwt.Permissions
	}{
		{SysCreds, a.sys, "sys", jwt.Permissions{}},
		{BridgeCreds, a.cloud, "bridge", bridgePermissions()},
		{FleetCreds, a.agents, "fleet", fleetPermissions()},
	}
	for _, u := range users {
		creds, _, err := issueUser(u.acc, u.name, u.perms)
		if err != nil {
			return nil, err
		}
		if err := writeFile(filepath.Join(dir, u.file), creds, 0o600); err != nil {
			return nil, err
		}
	}
	if err := a.writeServerConfig(); err != nil {
		return nil, err
	}
	return a, nil
}

// Open loads the authority in dir, refusing secret files others can read.
func Open(dir string) (*Authority, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("authority directory: %w", err)
	}
	a := &Authority{Dir: dir}
	if a.operator, err = readSeed(filepath.Join(dir, operatorSeed)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", dir, ErrNoAuthority)
		}
		return nil, err
	}
	load := func(name string) (*account, error) {
		kp, err := readSeed(filepath.Join(dir, strings.ToLower(name)+".nk"))
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, strings.ToLower(name)+".jwt")
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading account %s: %w", name, err)
		}
		c, err := jwt.DecodeAccountClaims(strings.TrimSpace(string(raw)))
		if err != nil {
			return nil, fmt.Errorf("decoding %s: %w", path, err)
		}
		return &account{name: name, kp: kp, claims: c}, nil
	}
	if a.sys, err = load(SysAccount); err != nil {
		return nil, err
	}
	if a.agents, err = load(AgentsAccount); err != nil {
		return nil, err
	}
	if a.cloud, err = load(CloudAccount); err != nil {
		return nil, err
	}
	return a, nil
}

// AgentsAccountKey is the public key of AGENTS: the bridge's
// identity.agents_account.
func (a *Authority) AgentsAccountKey() string { return a.agents.pub() }

// AccountJWT is the current signed JWT of AGENTS, the one Push sends.
func (a *Authority) AccountJWT() (string, error) { return a.agents.claims.Encode(a.operator) }

// File is the path of one of the authority's files (BridgeCreds, ...).
func (a *Authority) File(name string) string { return filepath.Join(a.Dir, name) }

func (a *Authority) accounts() []*account { return []*account{a.sys, a.agents, a.cloud} }

func (acc *account) pub() string { p, _ := acc.kp.PublicKey(); return p }

// save writes the account's seed and freshly signed JWT.
func (a *Authority) save(acc *account) error {
	token, err := acc.claims.Encode(a.operator)
	if err != nil {
		return fmt.Errorf("signing account JWT %s: %w", acc.name, err)
	}
	base := filepath.Join(a.Dir, strings.ToLower(acc.name))
	if err := writeSeed(base+".nk", acc.kp); err != nil {
		return err
	}
	return writeFile(base+".jwt", []byte(token), 0o644)
}

// issueUser signs a user of acc named name and returns its creds file.
func issueUser(acc *account, name string, perms jwt.Permissions) (creds []byte, userKey string, err error) {
	ukp, err := nkeys.CreateUser()
	if err != nil {
		return nil, "", fmt.Errorf("creating user key %s: %w", name, err)
	}
	upub, _ := ukp.PublicKey()
	uc := jwt.NewUserClaims(upub)
	uc.Name = name
	uc.Permissions = perms
	token, err := uc.Encode(acc.kp)
	if err != nil {
		return nil, "", fmt.Errorf("signing user JWT %s: %w", name, err)
	}
	seed, _ := ukp.Seed()
	creds, err = jwt.FormatUserConfig(token, seed)
	if err != nil {
		return nil, "", fmt.Errorf("formatting creds of %s: %w", name, err)
	}
	return creds, upub, nil
}
