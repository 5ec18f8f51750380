package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/kudos-live/kudos/engagement"
)

// errRulesInvalid makes `kudos rules check` exit 1 after it has printed every problem.
var errRulesInvalid = errors.New("the rules file is not valid")

// rulesCmd implements `kudos rules check FILE`: it reads FILE as the server would (KUDOS_RULES) and prints
// every problem, one a line as "FILE: field: why", or a summary of the rules when there is none.
func rulesCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		return errors.New("usage: kudos rules check FILE")
	}
	fs := flag.NewFlagSet("kudos rules check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: kudos rules check FILE")
	}
	path := fs.Arg(0)
	rules, err := engagement.LoadRules(path)
	var re *engagement.RulesError
	switch {
	case errors.As(err, &re):
		for _, p := range re.Problems {
			field := p.Field
			if field == "" {
				field = "(file)"
			}
			fmt.Fprintf(stdout, "%s: %s: %s\n", path, field, p.Message)
		}
		fmt.Fprintf(stdout, "%s: %d problem(s)\n", path, len(re.Problems))
		return errRulesInvalid
	case err != nil:
		return err
	}
	e := rules.Loyalty
	fmt.Fprintf(stdout, "%s: ok: monthly cap %d, tiers by %s:", path, e.MonthlyCap, e.TierBasis)
	for _, t := range e.Tiers {
		fmt.Fprintf(stdout, " %s %d ×%g", t.Tier, t.Threshold, t.Multiplier)
		if len(t.Privileges) > 0 {
			fmt.Fprintf(stdout, " %v", t.Privileges)
		}
		fmt.Fprint(stdout, ";")
	}
	fmt.Fprintf(stdout, " pending %d days, expiry %d months, %d catalogue items\n", e.PendingDays, e.ExpiryMonths, len(e.Catalogue))
	return nil
}
