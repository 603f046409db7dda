package main

import (
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// linkMode is what a proxy does to the traffic it carries.
type linkMode int32

const (
	linkPass      linkMode = iota
	linkSlow               // every chunk waits linkLatency before it is forwarded
	linkBlackhole          // nothing is forwarded and nothing is closed: a silent peer
)

// linkLatency is the delay of a slow link, each way.
const linkLatency = 150 * time.Millisecond

// proxy is a TCP proxy on loopback between a client and one of several backends (a
// region's replicas behind it, like a Kubernetes Service), through which the chaos
// suite slows, cuts and silences links. Each accepted connection goes to the next
// backend that accepts a connection.
type proxy struct {
	ln       net.Listener
	backends []string
	next     atomic.Uint32
	mode     atomic.Int32
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
}

func newProxy(backends ...string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, backends: backends, conns: map[net.Conn]struct{}{}}
	go p.accept()
	return p, nil
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) close() {
	p.ln.Close()
	p.reset()
}

func (p *proxy) set(m linkMode) { p.mode.Store(int32(m)) }

// reset closes every connection through the proxy, as a network reset would; new
// ones are accepted.
func (p *proxy) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *proxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.serve(client)
	}
}

func (p *proxy) serve(client net.Conn) {
	var server net.Conn
	start := int(p.next.Add(1))
	for i := range p.backends {
		c, err := net.DialTimeout("tcp", p.backends[(start+i)%len(p.backends)], time.Second)
		if err == nil {
			server = c
			break
		}
	}
	if server == nil {
		client.Close()
		return
	}
	p.mu.Lock()
	p.conns[client], p.conns[server] = struct{}{}, struct{}{}
	p.mu.Unlock()
	go p.pipe(server, client)
	go p.pipe(client, server)
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer func() {
		dst.Close()
		src.Close()
		p.mu.Lock()
		delete(p.conns, dst)
		delete(p.conns, src)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		switch linkMode(p.mode.Load()) {
		case linkBlackhole:
			continue
		case linkSlow:
			time.Sleep(linkLatency + time.Duration(rand.Int64N(int64(linkLatency/5))))
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}
