package main

import (
	"context"
	"fmt"
)

// version is stamped by the Makefile with -ldflags "-X main.version=...".
var version = "dev"

func init() {
	register("version", command{
		summary: "print the version",
		run: func(_ context.Context, e *env, _ []string) error {
			fmt.Fprintln(e.stdout, version)
			return nil
		},
	})
}
