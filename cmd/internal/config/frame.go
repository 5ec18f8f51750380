package config

import (
	"fmt"
	"net/url"
	"strings"
)

// frameAncestors reads KUDOS_FRAME_ANCESTORS: the origins (space- or comma-separated) of the shop pages that may
// frame the embeddable room (/embed/:stream). Each must be an https origin, or http on localhost or 127.0.0.1
// for development; a path, a wildcard, a bare keyword ('self', *) or anything else is refused naming the
// variable, so that a typo never opens framing wider than meant. The origins come back normalised
// (scheme://host[:port], lower case, no trailing slash) and without duplicates.
func frameAncestors(v string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		o, err := frameOrigin(f)
		if err != nil {
			return nil, fmt.Errorf("KUDOS_FRAME_ANCESTORS: %q %v (want https://host[:port], or http://localhost[:port] / http://127.0.0.1[:port] for development; space- or comma-separated)", f, err)
		}
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	return out, nil
}

// frameOrigin checks one origin of KUDOS_FRAME_ANCESTORS and returns it normalised.
func frameOrigin(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("is not a URL")
	}
	if u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery || (u.Path != "" && u.Path != "/") {
		return "", fmt.Errorf("is not a bare origin (no path, query, fragment or user)")
	}
	host := strings.ToLower(u.Hostname())
	if host == "" || strings.ContainsAny(host, "*%") {
		return "", fmt.Errorf("has no host name (wildcards are not accepted)")
	}
	if p := u.Port(); p != "" {
		if len(p) > 5 || strings.Trim(p, "0123456789") != "" {
			return "", fmt.Errorf("has a bad port")
		}
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if host != "localhost" && host != "127.0.0.1" {
			return "", fmt.Errorf("is plain http on a host other than localhost or 127.0.0.1")
		}
	default:
		return "", fmt.Errorf("is not an https origin")
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host), nil
}
