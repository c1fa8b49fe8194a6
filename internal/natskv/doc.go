// Package natskv opens, and checks the names of, the NATS JetStream key-value buckets the cloud
// daemons keep (the fleet's rule and agent buckets, the bridges' alias
// tables). It knows nothing of what the buckets hold.
package natskv
