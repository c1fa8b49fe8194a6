package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fieldline/fieldline/cloud/fleet"
	"github.com/fieldline/fieldline/rules/signed"
)

func newFleetPromoteCmd(o *fleetOptions) *cobra.Command {
	var fleetName string
	var force bool
	cmd := &cobra.Command{
		Use:   "promote --fleet F [--force]",
		Short: "roll a canary that passed out to the whole fleet",
		Long: `Pushes the canary's bundle to fleet.<F> and then clears canary.<F>: the canary
agents move to the fleet's key with the same rules, the others get them. Only a
canary that ran its watch period without a failure is promoted, unless --force.`,
		Example: "  fieldline-cloud fleet rules promote --fleet boiler --key fleet.key",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := signed.CheckName(fleetName); err != nil {
				return usageError{fmt.Errorf("--fleet: %w", err)}
			}
			return o.withStore(cmd.Context(), func(c *fleet.Config, s *fleet.Store) error {
				sig, err := signer(c)
				if err != nil {
					return err
				}
				r, err := s.Promote(cmd.Context(), sig, fleetName, force, pusher())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "canary %d of %s %s\n", r.Revision, fleetName, r.Reason)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&fleetName, "fleet", "", "the fleet whose canary to promote")
	cmd.Flags().BoolVar(&force, "force", false, "promote a canary that has not passed yet")
	return cmd
}
