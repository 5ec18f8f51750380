package config

import (
	"fmt"
	"net/url"
	"strings"
)

// allowedOrigins reads KUDOS_ALLOWED_ORIGINS: the comma-separated browser origins that may open sockets and
// read the API and the SDK across origins (CORS). Each must be a bare http(s) origin; a wildcard ("*" would
// make the CORS middleware answer Access-Control-Allow-Origin: * and the socket check admit every page), a
// path or anything else is refused naming the variable, as README promises ("never *"). The origins come back
// normalised (scheme://host[:port], lower case, no trailing slash), as browsers send them in Origin.
func allowedOrigins(v string) ([]string, error) {
	var out []string
	for _, o := range splitList(v) {
		n, err := allowedOrigin(o)
		if err != nil {
			return nil, fmt.Errorf("KUDOS_ALLOWED_ORIGINS: %q %v (want comma-separated origins such as https://shop.example or http://localhost:8000; wildcards are not accepted)", o, err)
		}
		out = append(out, n)
	}
	return out, nil
}

func allowedOrigin(s string) (string, error) {
	if strings.Contains(s, "*") {
		return "", fmt.Errorf("is a wildcard")
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("is not a URL")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", fmt.Errorf("is not an http(s) origin")
	}
	if u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery || (u.Path != "" && u.Path != "/") || u.Hostname() == "" {
		return "", fmt.Errorf("is not a bare origin (scheme://host[:port], no path, query or user)")
	}
	return scheme + "://" + strings.ToLower(u.Host), nil
}
