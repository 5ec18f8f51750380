package engagement

import "testing"

// TestBannedWordsMatchAfterNormalisation: full-width letters, invisible characters, compatibility forms and
// case do not hide a banned word, whichever form the host typed it in; words that merely look alike in
// other scripts, or that only share letters across a space, are not matched.
func TestBannedWordsMatchAfterNormalisation(t *testing.T) {
	mod := Moderation{BannedWords: []string{"free", "ＶＸ", "加微信"}}
	tests := []struct {
		text, want string
	}{
		{"FREE gifts", "free"},
		{"ｆｒｅｅ gifts", "free"},             // full-width
		{"f\u200bree gifts", "free"},       // zero-width space
		{"f\u200dr\u2060e\ufeffe", "free"}, // zero-width joiner, word joiner, byte-order mark
		{"f\u00adree", "free"},             // soft hyphen
		{"add vx 123", "ＶＸ"},               // the host typed it full-width
		{"ｖ\u200cｘ: abc", "ＶＸ"},            // zero-width non-joiner between full-width letters
		{"快来加微信", "加微信"},                   // Chinese as is
		{"快来加\u200b微信", "加微信"},             // and with a zero-width space inside
		{"ﬀree", "free"},                   // NFKC: the ligature ﬀ is "ff", and "ffree" contains "free"
		{"fr ee", ""},                      // a real space is a real separator
		{"frее", ""},                       // Cyrillic е (U+0435) is another letter
		{"nothing to see", ""},
	}
	for _, tt := range tests {
		if got := mod.bannedWord(tt.text); got != tt.want {
			t.Errorf("bannedWord(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
	if got := matchForm("Ｆ\u200bＲＥＥ"); got != "free" {
		t.Errorf("matchForm = %q, want free", got)
	}
}
