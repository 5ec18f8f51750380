// Package static holds the browser side of Kudos: the viewer page and the host control panel, embedded into
// the binary so that one file runs the whole product. It has no logic of its own; httpapi mounts FS.
package static

import "embed"

// FS holds the pages and their assets: index.html (the viewer page, served at /), host.html (the host panel,
// served at /host) and everything under assets/ (served at /assets/).
//
//go:embed index.html host.html assets
var FS embed.FS
