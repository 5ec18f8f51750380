package config

import (
	"slices"
	"strings"
	"testing"
)

// TestFrameAncestors: KUDOS_FRAME_ANCESTORS takes https origins (and http on localhost/127.0.0.1), space- or
// comma-separated, normalised; anything else refuses the start naming the variable.
func TestFrameAncestors(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "KUDOS_FRAME_ANCESTORS" {
				return v
			}
			return ""
		}
	}
	c, err := FromEnv(env(" https://Shop.example,https://m.shop.example:8443  http://localhost:8000 http://127.0.0.1:5173/ https://shop.example"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"https://shop.example", "https://m.shop.example:8443", "http://localhost:8000", "http://127.0.0.1:5173"}
	if !slices.Equal(c.FrameAncestors, want) {
		t.Fatalf("FrameAncestors = %q, want %q", c.FrameAncestors, want)
	}
	if c, err := FromEnv(env("")); err != nil || len(c.FrameAncestors) != 0 {
		t.Fatalf("unset: %q, %v; want none and no error", c.FrameAncestors, err)
	}
	for _, bad := range []string{
		"http://shop.example",       // plain http off localhost
		"shop.example",              // no scheme
		"*",                         // wildcard
		"https://*.shop.example",    // wildcard host
		"'self'",                    // a CSP keyword
		"https://shop.example/live", // a path
		"https://shop.example?x=1",  // a query
		"https://user@shop.example", // credentials
		"javascript:alert(1)",       // another scheme
		"ftp://shop.example",        // another scheme
		"https://shop.example:80a",  // bad port
		"https://shop.example, data:text/html,x",
	} {
		_, err := FromEnv(env(bad))
		if err == nil {
			t.Errorf("KUDOS_FRAME_ANCESTORS=%q accepted, want an error", bad)
		} else if !strings.Contains(err.Error(), "KUDOS_FRAME_ANCESTORS") {
			t.Errorf("KUDOS_FRAME_ANCESTORS=%q: error %q does not name the variable", bad, err)
		}
	}
}
