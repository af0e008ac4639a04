// pause is the real node's pod sandbox process (containerd's sandbox_image): it
// holds the pod's namespaces, reaps the zombies it inherits as PID 1, and exits
// on SIGTERM or SIGINT. No registry serves the usual pause image here, so
// hack/realnode.sh builds this one and packs it as an OCI image.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
