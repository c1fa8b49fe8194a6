// Package fleet is the cloud's side of rule push: it signs rule bundles
// and stores them in the NATS JetStream key-value bucket agents watch,
// keeps a registry of agents from their heartbeats, and runs staged
// rollouts (canaries) that withdraw themselves when canary agents fail.
// `fieldline-cloud fleet ...` is its command line.
//
// It owns the buckets (Store): fl_rules (the signed bundles, keys
// fleet.<fleet>, canary.<fleet>, agent.<agent_id>), fl_agents (the last
// heartbeat of every agent, AgentRecord) and fl_fleet (the revision
// counter and the rollout records). It must not know how an agent applies
// a bundle (package agent) nor what a bundle means (package rules, which
// it calls to validate); the envelope and the canary selection are
// rules/signed's, shared with the agents.
//
// # Basics
//
// Store.Push validates a bundle (rules.Compile: every problem listed),
// takes the next revision of the bucket's one counter, signs and writes it
// with a compare-and-set on the key, so that two operators pushing at once
// do not overwrite each other unseen (ErrConflict). Rollback pushes the
// bundle of an old revision again, with a new revision: agents refuse
// anything older than what they have. A signed clear empties a key (an
// agent's override, a canary): agents ignore unsigned deletes.
//
// StartCanary pushes to canary.<fleet> with a selection (a percentage of
// the fleet by a fixed hash of the agent id, label pairs, or both) and
// writes a Rollout record holding the limits it is judged by and its
// withdrawal, signed at push time. The Controller, run by the fleet
// server, looks at every running canary each Config.Interval: a canary
// agent that refuses the bundle, has not applied it within ApplyTimeout,
// sends no heartbeat for MaxSilence, sends no telemetry for MaxSilence
// after applying it (when it did before), or raises more than MaxErrors
// rule errors, fails the canary; the controller writes the withdrawal and
// records why (`fleet rules status` shows it). A canary that runs its
// Watch period without a failure is marked passed, and Promote pushes its
// bundle to fleet.<fleet> and clears the canary key.
//
// The Registry takes heartbeats from fl.status.* (queue group fl-fleet)
// and writes each agent's AgentRecord; a View watches the bucket and holds
// every record, for the controller. Server runs both (`fleet serve`);
// every other command reads and writes the buckets itself and needs no
// server running.
//
// # Caveats
//
// The controller judges agents from heartbeats: its decisions lag by a
// status_interval, and an agent counts only once the registry heard from
// it while the canary runs. Rule errors are counted from when an agent
// was first judged, so errors its old bundle raised in the seconds before
// it applied the canary count against the canary.
//
// The withdrawal is signed when the canary is pushed and kept in fl_fleet:
// someone who can write that bucket and fl_rules can end a canary early
// (never start one, or change what runs).
package fleet
