package health

import (
	"context"
	"sync"
	"time"

	"github.com/cododemo/cododemo/pkg/inventory"
	"github.com/cododemo/cododemo/pkg/sshx"
)

// SSHConnector dials nodes with pkg/sshx and remembers the connections so
// they can be closed after the report.
type SSHConnector struct {
	// Base holds the settings shared by every node (host keys, agent,
	// timeout); user and identity file come from the inventory.
	Base sshx.Config

	mu      sync.Mutex
	clients []*sshx.Client
}

// Connect dials n.
func (c *SSHConnector) Connect(ctx context.Context, n inventory.Node) (Session, error) {
	cfg := c.Base
	cfg.User = n.SSH.User
	cfg.IdentityFile = n.SSH.IdentityFile
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	cl, err := sshx.Dial(ctx, n.Name, n.SSH.Addr(), cfg)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.clients = append(c.clients, cl)
	c.mu.Unlock()
	return cl, nil
}

// Close closes every connection made.
func (c *SSHConnector) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cl := range c.clients {
		_ = cl.Close()
	}
	c.clients = nil
}
