package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kudos-live/kudos/cmd/internal/authtoken"
	"github.com/kudos-live/kudos/engagement"
)

const tokenTTL = 2 * time.Hour

var httpClient = &http.Client{Timeout: 30 * time.Second}

// minter mints tokens with the server's secret, so that 15,000 viewers need no HTTP round trips.
type minter struct{ tokens *authtoken.Key }

func newMinter(secret string) (*minter, error) {
	t, err := authtoken.NewKey([]byte(secret))
	if err != nil {
		return nil, err
	}
	return &minter{tokens: t}, nil
}

func (m *minter) viewer(user string) (string, error) {
	tok, _, err := m.tokens.Mint(user, user, engagement.RoleViewer, "", tokenTTL)
	return tok, err
}

func (m *minter) host(streamID string) (string, error) {
	tok, _, err := m.tokens.Mint("bench-host", "Bench Host", engagement.RoleHost, streamID, tokenTTL)
	return tok, err
}

// call sends a JSON request and decodes a 2xx answer into out (if not nil).
func call(ctx context.Context, method, u, token string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s %s", method, u, res.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, u, err)
		}
	}
	return nil
}

// createStream creates the run's stream with no video delay (votes open at once); an existing one is reused.
func createStream(ctx context.Context, base, hostToken, streamID string) error {
	body := map[string]any{"id": streamID, "title": "kudos-bench " + streamID, "video_delay_ms": 0}
	err := call(ctx, http.MethodPost, base+"/api/v1/streams", hostToken, body, nil)
	if err != nil && strings.Contains(err.Error(), "409") {
		return nil
	}
	return err
}

// poll is the part of the Poll answer the bench checks.
type poll struct {
	ID     string  `json:"id"`
	Counts []int64 `json:"counts"`
	Total  int64   `json:"total"`
}

// metrics is what the bench reads from a server: its memory and CPU.
type metrics struct {
	RSS, Heap, Goroutines int64
	CPU, Sampled          float64
}

// serverMetrics reads the server's process figures from /proc/<pid> when pid is set, else from /metrics.
func serverMetrics(ctx context.Context, base string, pid int) (metrics, error) {
	var m metrics
	if err := scrape(ctx, base, &m); err != nil && pid == 0 {
		return m, err
	}
	if pid > 0 {
		rss, err := procRSS(pid)
		if err != nil {
			return m, err
		}
		m.RSS = rss
	}
	return m, nil
}

func scrape(ctx context.Context, base string, m *metrics) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return err
	}
	res, err := httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("read %s/metrics: %w", base, err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		switch name {
		case "process_resident_memory_bytes":
			m.RSS = int64(f)
		case "go_memstats_heap_inuse_bytes":
			m.Heap = int64(f)
		case "go_goroutines":
			m.Goroutines = int64(f)
		case "process_cpu_seconds_total":
			m.CPU = f
		case "kudos_ws_sampled_total":
			m.Sampled = f
		}
	}
	return sc.Err()
}

// procRSS reads VmRSS of pid.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read server RSS: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmRSS %q: %w", v, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
