package inventory

// KeepEndpoints adds to eps, for every node of prev that eps lacks, the
// endpoint prev recorded: a node that is not running now (halted, or not
// asked for) keeps its last known endpoint in the inventory `up` writes.
func KeepEndpoints(eps map[string]Endpoint, prev *Inventory) {
	for _, n := range prev.Nodes {
		if _, ok := eps[n.Name]; !ok {
			eps[n.Name] = Endpoint{Host: n.SSH.Host, Port: n.SSH.Port, User: n.SSH.User, IdentityFile: n.SSH.IdentityFile}
		}
	}
}
