package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
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
		{"tables without results", []string{"-tables"}, "-results"},
		{"results without an output", []string{"-results", "results.jsonl"}, "-tables"},
		{"results file missing", []string{"-results", "no-such-results.jsonl", "-tables"}, "no such file"},
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

func TestRunSummarizesResults(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "results.jsonl")
	lines := `{"set":"capacity","run":1,"scenario":"fanout","viewers":1000,"connected":1000,"rate":20,"comments_acked":400,"deliveries_per_s":20000,"p50_ms":20,"p99_ms":60}
{"set":"capacity","run":1,"scenario":"fanout","viewers":2000,"connected":2000,"rate":20,"comments_acked":400,"deliveries_per_s":40000,"p50_ms":30,"p99_ms":300}
`
	if err := os.WriteFile(results, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	svg := filepath.Join(dir, "capacity.svg")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"-results", results, "-tables", "-svg", svg}, func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "**Capacity at SLO: 1,000 viewers") {
		t.Errorf("tables:\n%s", stdout.String())
	}
	b, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), `<circle class="p99"`); n != 2 {
		t.Errorf("%d p99 points in the SVG, want 2", n)
	}
}
