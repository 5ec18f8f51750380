package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"time"
)

// group is the viewer sockets of a run, held by this process or by child processes.
type group interface {
	snapshot() Stats
	// cpu is the CPU seconds used so far by the processes holding the sockets, this one included.
	cpu() float64
	vote(ctx context.Context, pollID string, options int, window, wait time.Duration) Stats
	finish(ctx context.Context, expected int64, drain time.Duration) Stats
}

// localGroup holds the sockets in this process.
type localGroup struct{ p *pool }

func (g localGroup) snapshot() Stats { return g.p.snapshot() }

func (g localGroup) cpu() float64 { return processCPU() }

func (g localGroup) vote(ctx context.Context, pollID string, options int, window, wait time.Duration) Stats {
	g.p.vote(ctx, pollID, options, window, wait)
	return g.p.snapshot()
}

func (g localGroup) finish(ctx context.Context, expected int64, drain time.Duration) Stats {
	return g.p.finish(ctx, expected, drain)
}

// connectViewers opens cfg.Viewers sockets, split over cfg.Procs processes, to stream on urls.
func connectViewers(ctx context.Context, cfg Config, urls []string, streamID string) (group, error) {
	if cfg.Procs <= 1 {
		m, err := newMinter(cfg.Secret)
		if err != nil {
			return nil, err
		}
		p := newPool(cfg, 0, "bench-viewer")
		stop := progress(cfg, "connecting", p.snapshot, nil)
		err = p.connect(ctx, urls, streamID, cfg.Viewers, m.viewer)
		stop()
		if err != nil {
			p.close()
			return nil, err
		}
		return localGroup{p}, nil
	}
	return startChildren(ctx, cfg, urls, streamID)
}

// childSpec is the first line a child process reads on its standard input.
type childSpec struct {
	Config Config   `json:"config"`
	URLs   []string `json:"urls"`
	Stream string   `json:"stream"`
	Offset int      `json:"offset"`
	Count  int      `json:"count"`
}

// childCmd is a later line: vote or finish.
type childCmd struct {
	Cmd      string        `json:"cmd"`
	Poll     string        `json:"poll,omitempty"`
	Options  int           `json:"options,omitempty"`
	Window   time.Duration `json:"window,omitempty"`
	Wait     time.Duration `json:"wait,omitempty"`
	Expected int64         `json:"expected,omitempty"`
	Drain    time.Duration `json:"drain,omitempty"`
}

// childMsg is a line a child writes on its standard output.
type childMsg struct {
	Event string `json:"event"` // progress, ready, failed, voted, done
	Error string `json:"error,omitempty"`
	Stats Stats  `json:"stats"`
}

// RunChild is the body of a child process (kudos-bench -child): it reads its childSpec from in, opens its
// sockets, reports "ready", then obeys vote and finish commands, reporting Stats as JSON lines on out.
func RunChild(ctx context.Context, in io.Reader, out io.Writer) error {
	dec := json.NewDecoder(in)
	var spec childSpec
	if err := dec.Decode(&spec); err != nil {
		return fmt.Errorf("read child spec: %w", err)
	}
	cfg := spec.Config
	cfg.Procs = 1
	m, err := newMinter(cfg.Secret)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	enc := json.NewEncoder(out)
	send := func(msg childMsg) {
		msg.Stats.CPU = processCPU()
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(msg)
	}
	p := newPool(cfg, spec.Offset, "bench-viewer")
	stopProgress := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				send(childMsg{Event: "progress", Stats: p.snapshot()})
			}
		}
	}()
	defer close(stopProgress)
	if err := p.connect(ctx, spec.URLs, spec.Stream, spec.Count, m.viewer); err != nil {
		p.close()
		send(childMsg{Event: "failed", Error: err.Error(), Stats: p.snapshot()})
		return err
	}
	send(childMsg{Event: "ready", Stats: p.snapshot()})
	for {
		var c childCmd
		if err := dec.Decode(&c); err != nil {
			p.close() // the parent went away
			return nil
		}
		switch c.Cmd {
		case "vote":
			p.vote(ctx, c.Poll, c.Options, c.Window, c.Wait)
			send(childMsg{Event: "voted", Stats: p.snapshot()})
		case "finish":
			send(childMsg{Event: "done", Stats: p.finish(ctx, c.Expected, c.Drain)})
			return nil
		}
	}
}

// child is one child process as the parent sees it.
type child struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	msgs  chan childMsg
	mu    sync.Mutex
	last  Stats
	ended chan struct{}
}

// remoteGroup is the sockets held by child processes.
type remoteGroup struct {
	cfg      Config
	children []*child
}

func startChildren(ctx context.Context, cfg Config, urls []string, streamID string) (group, error) {
	g := &remoteGroup{cfg: cfg}
	offset := 0
	for i := range cfg.Procs {
		n := cfg.Viewers / cfg.Procs
		if i < cfg.Viewers%cfg.Procs {
			n++
		}
		c, err := startChild(ctx, cfg, childSpec{Config: cfg, URLs: urls, Stream: streamID, Offset: offset, Count: n})
		if err != nil {
			g.kill()
			return nil, err
		}
		g.children = append(g.children, c)
		offset += n
	}
	stop := progress(cfg, "connecting", g.snapshot, nil)
	defer stop()
	for _, c := range g.children {
		msg, err := c.await(ctx, "ready", 10*time.Minute)
		if err != nil {
			g.kill()
			return nil, err
		}
		c.set(msg.Stats)
	}
	return g, nil
}

func startChild(ctx context.Context, cfg Config, spec childSpec) (*child, error) {
	cmd := exec.CommandContext(ctx, cfg.Executable, "-child")
	cmd.Stderr = cfg.stderr()
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	spec.Config.Stderr, spec.Config.Executable = nil, ""
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start child process: %w", err)
	}
	c := &child{cmd: cmd, in: in, msgs: make(chan childMsg, 16), ended: make(chan struct{})}
	go func() {
		defer close(c.ended)
		dec := json.NewDecoder(outPipe)
		for {
			var m childMsg
			if err := dec.Decode(&m); err != nil {
				return
			}
			c.set(m.Stats)
			if m.Event != "progress" {
				c.msgs <- m
			}
		}
	}()
	if err := json.NewEncoder(in).Encode(spec); err != nil {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("send child spec: %w", err)
	}
	return c, nil
}

func (c *child) set(st Stats) {
	c.mu.Lock()
	c.last = st
	c.mu.Unlock()
}

// await returns the child's next message, which must be event.
func (c *child) await(ctx context.Context, event string, timeout time.Duration) (childMsg, error) {
	select {
	case m := <-c.msgs:
		if m.Event != event {
			return m, fmt.Errorf("child process %d: %s %s (wanted %s)", c.cmd.Process.Pid, m.Event, m.Error, event)
		}
		return m, nil
	case <-c.ended:
		select {
		case m := <-c.msgs:
			if m.Event == event {
				return m, nil
			}
		default:
		}
		return childMsg{}, fmt.Errorf("child process %d ended before %s", c.cmd.Process.Pid, event)
	case <-ctx.Done():
		return childMsg{}, ctx.Err()
	case <-time.After(timeout):
		return childMsg{}, fmt.Errorf("child process %d: no %s within %s", c.cmd.Process.Pid, event, timeout)
	}
}

func (g *remoteGroup) cpu() float64 { return g.snapshot().CPU + processCPU() }

func (g *remoteGroup) snapshot() Stats {
	var st Stats
	for _, c := range g.children {
		c.mu.Lock()
		st.Add(c.last)
		c.mu.Unlock()
	}
	if st.Frames == nil {
		st = newStats()
	}
	return st
}

// all sends cmd to every child and merges their answers.
func (g *remoteGroup) all(ctx context.Context, cmd childCmd, event string, timeout time.Duration) (Stats, error) {
	for _, c := range g.children {
		if err := json.NewEncoder(c.in).Encode(cmd); err != nil {
			return Stats{}, fmt.Errorf("command child process: %w", err)
		}
	}
	st := newStats()
	var errs []error
	for _, c := range g.children {
		m, err := c.await(ctx, event, timeout)
		if err != nil {
			errs = append(errs, err)
			c.mu.Lock()
			m.Stats = c.last
			c.mu.Unlock()
		}
		st.Add(m.Stats)
	}
	return st, errors.Join(errs...)
}

func (g *remoteGroup) vote(ctx context.Context, pollID string, options int, window, wait time.Duration) Stats {
	st, err := g.all(ctx, childCmd{Cmd: "vote", Poll: pollID, Options: options, Window: window, Wait: wait}, "voted", window+wait+time.Minute)
	if err != nil {
		fmt.Fprintln(g.cfg.stderr(), "kudos-bench:", err)
	}
	return st
}

func (g *remoteGroup) finish(ctx context.Context, expected int64, drain time.Duration) Stats {
	st, err := g.all(ctx, childCmd{Cmd: "finish", Expected: expected, Drain: drain}, "done", drain+time.Minute)
	if err != nil {
		fmt.Fprintln(g.cfg.stderr(), "kudos-bench:", err)
	}
	for _, c := range g.children {
		_ = c.in.Close()
		select {
		case <-c.ended:
		case <-time.After(15 * time.Second):
			_ = c.cmd.Process.Kill()
		}
		_ = c.cmd.Wait()
	}
	return st
}

func (g *remoteGroup) kill() {
	for _, c := range g.children {
		_ = c.in.Close()
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	}
}
