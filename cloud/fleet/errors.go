package fleet

import "errors"

var (
	// ErrConflict: the key changed between reading it and writing it (two
	// operators pushed at once); nothing was written, push again.
	ErrConflict = errors.New("fleet: the key changed while writing")

	// ErrNotInHistory: rollback was asked for a revision the bucket no
	// longer holds (it keeps Config.History values per key), or that was
	// not a bundle (a clear).
	ErrNotInHistory = errors.New("fleet: revision not in the key's history")

	// ErrInvalidBundle: the bundle does not compile; the error lists every
	// problem.
	ErrInvalidBundle = errors.New("fleet: invalid rule bundle")

	// ErrRollout: the canary's state does not allow what was asked (a
	// second canary while one runs, promoting one that has not passed or
	// no longer runs).
	ErrRollout = errors.New("fleet: rollout")

	// ErrNoKey: a command that signs was given no signing key.
	ErrNoKey = errors.New("fleet: no signing key")
)
