package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRunRefusesBadInvocations(t *testing.T) {
	env := func(string) string { return "" }
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"address off this machine", []string{"-url", "http://10.1.2.3:8080", "-secret", "0123456789abcdef0"}, "loopback"},
		{"no secret", []string{"-url", "http://127.0.0.1:1"}, "secret"},
		{"unknown scenario", []string{"-scenario", "soak", "-secret", "0123456789abcdef0"}, "unknown scenario"},
		{"kafka without brokers", []string{"-scenario", "kafka"}, "brokers"},
		{"unknown flag", []string{"-nope"}, "not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, env, strings.NewReader(""), &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one mentioning %q", err, tt.wantErr)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing when the run cannot start", stdout.String())
			}
		})
	}
}
