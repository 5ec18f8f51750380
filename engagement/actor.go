package engagement

// Roles carried in tokens (docs/protocol.md, "Connecting").
const (
	RoleViewer  = "viewer"
	RoleHost    = "host"
	RoleService = "service"
	RoleAdmin   = "admin"
)

// Actor is who does something: the verified claims of a token.
type Actor struct {
	User string
	Name string
	Role string
	// Stream is the stream a host token is limited to; empty means none (for a host: only streams they own).
	Stream string
}

// CanHost reports whether the actor may run host actions on st: an admin always; a host on the stream their
// token names, or on a stream they created.
func (a Actor) CanHost(st Stream) bool {
	switch a.Role {
	case RoleAdmin:
		return a.Stream == "" || a.Stream == st.ID
	case RoleHost:
		if a.Stream != "" {
			return a.Stream == st.ID
		}
		return st.Host == a.User
	}
	return false
}

// IsStaff reports whether the actor speaks for the show (host or admin): their comments are never sampled away.
func (a Actor) IsStaff() bool { return a.Role == RoleHost || a.Role == RoleAdmin }
