// Command terraform-provider-aerie is the OpenTofu/Terraform provider for
// Aerie, served over the plugin protocol (version 6).
package main

import (
	"context"
	"flag"
	"log"

	"github.com/aerie-dev/terraform-provider-aerie/internal/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	debug := flag.Bool("debug", false, "run with support for debuggers such as delve")
	flag.Parse()
	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/aerie-dev/aerie",
		Debug:   *debug,
	})
	if err != nil {
		log.Fatal(err)
	}
}
