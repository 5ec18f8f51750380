// Package static holds the browser side of Kudos: the viewer page and the host control panel, embedded into
// the binary so that one file runs the whole product. It has no logic of its own; httpapi mounts FS.
package static

import "embed"

// FS holds the pages and their assets: index.html (the viewer page, served at /, and with the embed's head at
// /embed/:stream for shops to frame; examples/ holds a shop page, not served), host.html (the host panel,
// served at /host), everything under assets/ (served at /assets/) and the client SDK (served at /sdk/: the
// ES module, its TypeScript declarations and its npm package.json; its tests stay in the repository).
//
//go:embed index.html host.html assets sdk/kudos-client.js sdk/kudos-client.d.ts sdk/package.json
var FS embed.FS
