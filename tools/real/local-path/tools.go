//go:build tools

// The provisioner's main package is its module root; this file only pins it for `go mod tidy`.
package tools

import _ "github.com/rancher/local-path-provisioner"
