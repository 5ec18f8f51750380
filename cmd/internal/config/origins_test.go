package config

import (
	"slices"
	"strings"
	"testing"
)

// TestAllowedOrigins: KUDOS_ALLOWED_ORIGINS takes bare http(s) origins, normalised as browsers send them in
// Origin; a wildcard (which the CORS middleware would answer with Access-Control-Allow-Origin: * and the socket
// check would take as "every page") or anything but an origin refuses the start naming the variable.
func TestAllowedOrigins(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "KUDOS_ALLOWED_ORIGINS" {
				return v
			}
			return ""
		}
	}
	c, err := FromEnv(env(" https://Shop.example/, http://intranet.shop:8080,http://localhost:5173"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"https://shop.example", "http://intranet.shop:8080", "http://localhost:5173"}
	if !slices.Equal(c.AllowedOrigins, want) {
		t.Fatalf("AllowedOrigins = %q, want %q", c.AllowedOrigins, want)
	}
	for _, bad := range []string{"*", "https://*.shop.example", "https://shop.example, *", "shop.example", "https://shop.example/live", "null", "ws://shop.example"} {
		_, err := FromEnv(env(bad))
		if err == nil {
			t.Errorf("KUDOS_ALLOWED_ORIGINS=%q accepted, want an error", bad)
		} else if !strings.Contains(err.Error(), "KUDOS_ALLOWED_ORIGINS") {
			t.Errorf("KUDOS_ALLOWED_ORIGINS=%q: error %q does not name the variable", bad, err)
		}
	}
}
