package bench

import (
	"maps"
	"syscall"
	"time"
)

// Stats are what a group of viewer sockets observed. Stats of several processes merge with Add.
type Stats struct {
	Viewers    int `json:"viewers"`     // sockets attempted
	Connected  int `json:"connected"`   // sockets that got their welcome
	DialErrors int `json:"dial_errors"` // upgrades that failed
	Open       int `json:"open"`        // sockets still open when the stats were taken

	Frames   map[string]int64 `json:"frames"`   // envelopes received, by type
	Comments int64            `json:"comments"` // comment envelopes received by all viewers
	Latency  *Histogram       `json:"latency"`  // send-to-receive time of comments
	// ChatSkipped is the sum of the counts of the chat.skipped frames received: comments the server told a
	// viewer it did not send them (an overloaded node skips chat, and only chat).
	ChatSkipped int64 `json:"chat_skipped,omitempty"`

	// Drops counts sockets closed by the server, by close code (1008 slow consumer, 1001 shutdown…).
	Drops map[int]int `json:"drops"`
	// ReadErrors counts sockets that failed without a close frame.
	ReadErrors int `json:"read_errors"`

	// Complete is how many viewers received every expected comment; Missing is the sum of the shortfalls.
	Complete int   `json:"complete"`
	Missing  int64 `json:"missing"`

	VotesSent   int64            `json:"votes_sent"`
	VotesAcked  int64            `json:"votes_acked"`
	AckedByOpt  []int64          `json:"acked_by_option,omitempty"`
	VoteErrors  map[string]int64 `json:"vote_errors,omitempty"`
	FirstVoteNS int64            `json:"first_vote_ns,omitempty"`
	LastAckNS   int64            `json:"last_ack_ns,omitempty"`

	// CPU is the CPU seconds the process holding these sockets has used so far (child processes only).
	CPU float64 `json:"cpu_s,omitempty"`
}

func newStats() Stats {
	return Stats{Frames: map[string]int64{}, Latency: &Histogram{}, Drops: map[int]int{}, VoteErrors: map[string]int64{}}
}

// Add merges o into s.
func (s *Stats) Add(o Stats) {
	if s.Frames == nil {
		*s = newStats()
	}
	s.Viewers += o.Viewers
	s.Connected += o.Connected
	s.DialErrors += o.DialErrors
	s.Open += o.Open
	for k, v := range o.Frames {
		s.Frames[k] += v
	}
	s.Comments += o.Comments
	s.ChatSkipped += o.ChatSkipped
	s.Latency.Merge(o.Latency)
	for k, v := range o.Drops {
		s.Drops[k] += v
	}
	s.ReadErrors += o.ReadErrors
	s.Complete += o.Complete
	s.Missing += o.Missing
	s.VotesSent += o.VotesSent
	s.VotesAcked += o.VotesAcked
	for i, n := range o.AckedByOpt {
		for len(s.AckedByOpt) <= i {
			s.AckedByOpt = append(s.AckedByOpt, 0)
		}
		s.AckedByOpt[i] += n
	}
	maps.Copy(s.VoteErrors, addMaps(s.VoteErrors, o.VoteErrors))
	if o.FirstVoteNS != 0 && (s.FirstVoteNS == 0 || o.FirstVoteNS < s.FirstVoteNS) {
		s.FirstVoteNS = o.FirstVoteNS
	}
	s.LastAckNS = max(s.LastAckNS, o.LastAckNS)
	s.CPU += o.CPU
}

// processCPU returns the CPU seconds (user and system) this process has used.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func addMaps(a, b map[string]int64) map[string]int64 {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]int64{}
	}
	for k, v := range b {
		out[k] += v
	}
	return out
}

// dropped is the number of sockets closed by the server.
func (s Stats) dropped() int {
	n := 0
	for _, v := range s.Drops {
		n += v
	}
	return n
}

// voteSpan is the time from the first vote sent to the last ack received.
func (s Stats) voteSpan() time.Duration {
	if s.FirstVoteNS == 0 || s.LastAckNS == 0 {
		return 0
	}
	return time.Duration(s.LastAckNS - s.FirstVoteNS)
}
