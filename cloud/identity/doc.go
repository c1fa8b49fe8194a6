// Package identity issues and takes back the NATS credentials of
// Fieldline's agents: a NATS operator with three accounts (decentralized
// JWT, nkeys), kept in one directory (an Authority).
//
// # Basics
//
// Init makes the operator and the accounts:
//   - AGENTS holds every agent and the fleet tools (fleet.creds). An agent's
//     user JWT (Provision) is named after the agent id and lets it publish
//     only fl.up.<id> and fl.status.<id>, read only its own and its fleet's
//     keys of the rule bucket (one filtered consumer per key), and subscribe
//     only to its own reply subjects (uplink.InboxPrefix) and to
//     fl.bridge.hello: AgentPermissions lists them.
//   - CLOUD holds the bridges (bridge.creds). It exports the service
//     fl.up.* and the stream fl.bridge.hello, which AGENTS imports, with the
//     requester's details shared: the server stamps every batch with the
//     sender's account and user JWT name (uplink.IdentityHeader), and the
//     bridge compares that name with the batch's agent id.
//   - SYS, the system account, whose user (sys.creds) pushes account JWTs
//     to the servers (Push).
//
// Revoke adds the agent's user key to the AGENTS account JWT's revocations;
// Push sends the account JWT to the servers ($SYS.REQ.CLAIMS.UPDATE), which
// close the agent's connections at once and refuse it from then on.
// ServerConfig is the nats-server configuration for this operator (full
// resolver, JWTs preloaded, JetStream).
//
// # Caveats
//
// The directory holds the operator's and the accounts' private seeds: it is
// made 0700 and every secret file 0600, and Open refuses a secret file that
// its group or others can read. Keep the operator seed offline in
// production; only the AGENTS account seed is needed to provision.
package identity
