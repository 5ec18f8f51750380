package httpapi

import "testing"

// TestBrowserFeedbackPrompt: the host asks for an NPS score from the panel; the viewer's page opens the rate
// tab with the question and the NPS scale marked; the viewer answers and the host's summary counts it.
func TestBrowserFeedbackPrompt(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.createStream("s1")
	b := newBrowser(t)
	host := openHostPanel(ts, b, "s1")
	ann := openViewer(ts, b, "ann", "s1")
	ann.waitFor(`#feedback-prompt[hidden]`)

	host.click("#feedback-ask-nps")
	host.waitText("#feedback-status", "Asked")
	ann.waitFor(`#panel-rate:not([hidden])`)
	ann.waitFor(`#feedback-prompt:not([hidden])[data-kind="nps"]`)
	ann.waitText("#feedback-prompt", "How likely are you to recommend this live to a friend?")
	ann.waitFor(`#nps-block.asked`)
	ann.waitFor(`#rating-block:not(.asked)`)

	ann.click(`#nps-options .nps-option[data-score="9"]`)
	ann.waitText("#nps-note", "Thanks for your feedback!")
	host.waitText("#feedback-nps", "100")

	// Asked again for a rating, the page moves the mark; asked again for NPS, it says it was answered.
	host.click("#feedback-ask-rating")
	ann.waitFor(`#rating-block.asked`)
	ann.waitText("#feedback-prompt", "How would you rate this show?")
	host.click("#feedback-ask-nps")
	ann.waitText("#feedback-prompt", "you already answered")

	host.noExceptions()
	ann.noExceptions()
}
