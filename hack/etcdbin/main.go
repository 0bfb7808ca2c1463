// Command etcd is the etcd server of the Phalanx test cluster, built from the
// Go module proxy because etcd's own main module cannot be installed with
// "go install" (its go.mod carries replace directives). The version is set by
// the require line in go.mod; hack/kube-bins.sh builds it.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
