package identity

import (
	"github.com/nats-io/jwt/v2"

	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/rules/signed"
)

// AgentPermissions are what agent id of fleet (may be empty) may do on
// NATS, with its rule bundles in bucket: publish its batches and
// heartbeats, watch its own and its fleet's rule keys, receive replies on
// its own inbox and the bridges' hello. Everything else is denied.
func AgentPermissions(id, fleet, bucket string) jwt.Permissions {
	stream := "KV_" + bucket
	pub := []string{
		uplink.Subject(id),
		uplink.StatusSubject(id),
		// js.KeyValue binds the bucket: the stream's info (its config
		// and counts, no values).
		"$JS.API.STREAM.INFO." + stream,
		// The ordered consumers' flow-control replies.
		"$JS.FC." + stream + ".>",
	}
	for _, key := range RuleKeys(id, fleet) {
		// A watch of one key creates its consumer on a subject that ends
		// with the filter; the server refuses a body whose filter differs.
		pub = append(pub, "$JS.API.CONSUMER.CREATE."+stream+".*.$KV."+bucket+"."+key)
	}
	return jwt.Permissions{
		Pub: jwt.Permission{Allow: pub},
		Sub: jwt.Permission{Allow: []string{uplink.InboxPrefix(id) + ".>", uplink.HelloSubject}},
	}
}

// RuleKeys are the keys of the rule bucket agent id of fleet reads.
func RuleKeys(id, fleet string) []string {
	keys := []string{signed.AgentKey(id)}
	if fleet != "" {
		keys = append(keys, signed.CanaryKey(fleet), signed.FleetKey(fleet))
	}
	return keys
}

// bridgePermissions: take batches, reply to them, say hello, and keep the
// agents' sensor alias tables in the KV bucket uplink.AliasBucket (make it, read
// and write its keys, with replies on the bridges' own inbox prefix); nothing
// else (in particular no fl.up.>, so that no cloud user can send a batch
// that skips the service import and its identity header).
func bridgePermissions() jwt.Permissions {
	stream := "KV_" + uplink.AliasBucket
	return jwt.Permissions{
		Pub: jwt.Permission{Allow: []string{
			uplink.HelloSubject,
			"$JS.API.INFO", // jetstream.CreateKeyValue asks the account's limits first
			"$JS.API.STREAM.INFO." + stream,
			"$JS.API.STREAM.CREATE." + stream,
			"$JS.API.DIRECT.GET." + stream + ".>",
			"$JS.API.STREAM.MSG.GET." + stream,
			"$KV." + uplink.AliasBucket + ".>",
		}},
		Sub:  jwt.Permission{Allow: []string{uplink.SubjectPrefix + "*", uplink.BridgeInboxPrefix + ".>"}},
		Resp: &jwt.ResponsePermission{MaxMsgs: 1},
	}
}

// fleetPermissions: the fleet tools (push, serve, agents) use JetStream
// and read heartbeats; they do not speak for an agent.
func fleetPermissions() jwt.Permissions {
	return jwt.Permissions{
		Pub: jwt.Permission{Deny: []string{uplink.SubjectPrefix + ">", uplink.StatusSubjectPrefix + ">"}},
	}
}
