package httpapi

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind (hubs, pumps, tickers).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// http.DefaultClient keeps idle keep-alive connections to test servers.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}
