package processor

import "errors"

// Errors that end Run.
var (
	// ErrNoReadingsTopic means the topic of readings does not exist (the
	// bridge creates it, or an operator does).
	ErrNoReadingsTopic = errors.New("readings topic missing")
	// ErrChangelogPartitions means the changelog topic exists with another
	// partition count than the readings topic: its partitions would not
	// match the input partitions whose state they hold.
	ErrChangelogPartitions = errors.New("changelog partitions do not match the readings topic")
)
