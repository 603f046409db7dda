package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/platform/config"
	"example.com/wallet/platform/kafkabus"
)

// The chaos cluster: its own PostgreSQL cluster (fsync on) on chaosPGPort, the shared
// Kafka broker, and two replicas of each region. Clients and the other region reach a
// region through its proxy (a load balancer over its replicas, and a link the suite
// can slow, cut or silence); each region reaches PostgreSQL through another.
const (
	chaosPGCluster = "walletchaos"
	chaosPGPort    = "5434"
	pairSecret     = "chaos-eu-us-pair-secret-for-the-chaos-suite"
	gatewayToken   = "dev-token"
)

var chaosRegions = []string{"eu", "us"}

// replica is one wallet process.
type replica struct {
	name    string // eu-a, eu-b, ...
	region  string
	addr    string
	admin   string
	env     []string
	logPath string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	stopped bool // SIGSTOPped
}

// cluster is everything the suite runs and can break.
type cluster struct {
	root     string
	dir      string
	bin      string
	pgURL    string
	brokers  string
	prefix   string
	dbs      map[string]string // shard -> database name
	replicas []*replica
	entry    map[string]*proxy // region -> its load balancer and inter-region link
	pgLink   map[string]*proxy // region -> its link to PostgreSQL
	cfg      map[string]*config.Config
	log      func(string, ...any)
}

func (c *cluster) script(ctx context.Context, env []string, path string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(c.root, path), args...)
	cmd.Dir, cmd.Env = c.root, append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", path, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func pgEnv() []string {
	return []string{"WALLET_PG_CLUSTER=" + chaosPGCluster, "WALLET_PG_PORT=" + chaosPGPort, "WALLET_PG_FSYNC=on", "WALLET_PG_URL="}
}

// startCluster brings everything up: PostgreSQL, Kafka, fresh shard databases, the
// proxies and four replicas, and waits until every replica is ready.
func startCluster(ctx context.Context, root string, ttl time.Duration, log func(string, ...any)) (*cluster, error) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	c := &cluster{root: root, dir: filepath.Join(root, ".cache", "walletchaos"), brokers: "127.0.0.1:" + envOr("KAFKA_PORT", "9092"),
		prefix: "chaos" + hex.EncodeToString(b[:]), dbs: map[string]string{}, entry: map[string]*proxy{}, pgLink: map[string]*proxy{},
		cfg: map[string]*config.Config{}, log: log}
	c.pgURL = "postgres://wallet:wallet@127.0.0.1:" + chaosPGPort + "/postgres?sslmode=disable"
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, err
	}
	log("PostgreSQL cluster %s (fsync on) and the Kafka broker", chaosPGCluster)
	if err := c.script(ctx, pgEnv(), "scripts/postgres.sh", "up"); err != nil {
		return nil, err
	}
	if err := c.script(ctx, []string{"KAFKA_BROKERS="}, "scripts/kafka.sh", "up"); err != nil {
		return nil, err
	}
	c.bin = filepath.Join(c.dir, "wallet")
	build := exec.CommandContext(ctx, "go", "build", "-o", c.bin, "./cmd/wallet")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the wallet: %v\n%s", err, out)
	}
	pgHost := "127.0.0.1:" + chaosPGPort
	for _, region := range chaosRegions {
		var err error
		if c.pgLink[region], err = newProxy(pgHost); err != nil {
			return nil, err
		}
	}
	// Replicas' ports first: each region's load balancer needs them.
	ports := map[string][]string{}
	for _, region := range chaosRegions {
		for _, suffix := range []string{"a", "b"} {
			r := &replica{name: region + "-" + suffix, region: region, addr: freeAddr(), admin: freeAddr()}
			r.logPath = filepath.Join(c.dir, r.name+".log")
			c.replicas = append(c.replicas, r)
			ports[region] = append(ports[region], r.addr)
		}
	}
	for _, region := range chaosRegions {
		var err error
		if c.entry[region], err = newProxy(ports[region]...); err != nil {
			return nil, err
		}
	}
	if err := c.createDatabases(ctx); err != nil {
		return nil, err
	}
	for _, r := range c.replicas {
		peer := chaosRegions[0]
		if r.region == peer {
			peer = chaosRegions[1]
		}
		r.env = append(os.Environ(),
			"WALLET_HTTP__ADDR="+r.addr, "WALLET_HTTP__ADMIN_ADDR="+r.admin,
			"WALLET_KAFKA__BROKERS="+c.brokers, "WALLET_KAFKA__TOPIC_PREFIX="+c.prefix,
			fmt.Sprintf("WALLET_PEERS__%s__URL=http://%s", strings.ToUpper(peer), c.entry[peer].addr()),
			"WALLET_AUTH__REGION_SECRET=chaos-"+r.region+"-region-secret-for-the-chaos-suite",
			"WALLET_AUTH__LEDGER_SEAL_SECRET=chaos-"+r.region+"-ledger-seal-secret-for-the-chaos-suite",
			fmt.Sprintf("WALLET_PEERS__%s__SECRET=%s", strings.ToUpper(peer), pairSecret),
			"WALLET_LIMITS__RATE_PER_SECOND=1000000", "WALLET_LIMITS__RATE_BURST=1000000",
			"WALLET_LIMITS__GATEWAY_RATE_PER_SECOND=1000000", "WALLET_LIMITS__REPLICA_RATE_PER_SECOND=1000000",
			"WALLET_TRANSFERS__TTL="+ttl.String(), "WALLET_TRANSFERS__RESEND_AFTER=1s", "WALLET_TRANSFERS__RESEND_MAX=4s",
		)
		for shard, db := range c.dbs {
			if strings.HasPrefix(shard, r.region) {
				// The server as the application role, migrations as the owner.
				dsn := fmt.Sprintf("postgres://wallet_app:wallet_app@%s/%s?sslmode=disable&connect_timeout=3", c.pgLink[r.region].addr(), db)
				owner := fmt.Sprintf("postgres://wallet:wallet@%s/%s?sslmode=disable&connect_timeout=3", c.pgLink[r.region].addr(), db)
				r.env = append(r.env, fmt.Sprintf("WALLET_SHARDS__%s__DSN=%s", strings.ToUpper(shard), dsn),
					fmt.Sprintf("WALLET_SHARDS__%s__OWNER_DSN=%s", strings.ToUpper(shard), owner))
			}
		}
		cfg, err := config.Load(config.Options{Region: r.region, RegionsDir: filepath.Join(root, "regions"), Environ: r.env})
		if err != nil {
			return nil, err
		}
		c.cfg[r.region] = cfg
	}
	for _, region := range chaosRegions {
		migrate := exec.CommandContext(ctx, c.bin, "migrate", "up", "--region", region)
		migrate.Dir, migrate.Env = root, c.replicaOf(region).env
		if out, err := migrate.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("migrate %s: %v\n%s", region, err, out)
		}
	}
	for _, r := range c.replicas {
		if err := c.start(r); err != nil {
			return nil, err
		}
	}
	for _, r := range c.replicas {
		if err := c.waitReady(ctx, r, 60*time.Second); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *cluster) replicaOf(region string) *replica {
	for _, r := range c.replicas {
		if r.region == region {
			return r
		}
	}
	return nil
}

// createDatabases makes fresh shard databases for this run.
func (c *cluster) createDatabases(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, c.pgURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, shard := range []string{"eu0", "eu1", "us0", "us1"} {
		db := "chaos_" + shard
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
			return err
		}
		c.dbs[shard] = db
	}
	return nil
}

// shardURL is a direct connection to a shard's database (behind no proxy), for checks.
func (c *cluster) shardURL(shard string) string {
	u, _ := url.Parse(c.pgURL)
	u.Path = "/" + c.dbs[shard]
	return u.String()
}

func (c *cluster) start(r *replica) error {
	logFile, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.bin, "serve", "--region", r.region)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = c.root, r.env, logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logFile.Close(); close(exited) }()
	r.mu.Lock()
	r.cmd, r.exited, r.stopped = cmd, exited, false
	r.mu.Unlock()
	return nil
}

func (c *cluster) waitReady(ctx context.Context, r *replica, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		exited := r.exited
		r.mu.Unlock()
		select {
		case <-exited:
			return fmt.Errorf("replica %s exited; see %s", r.name, r.logPath)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := http.Get("http://" + r.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("replica %s not ready after %s", r.name, within)
}

// kill9 ends a replica abruptly, as a crash would.
func (c *cluster) kill9(r *replica) {
	r.mu.Lock()
	cmd, exited, stopped := r.cmd, r.exited, r.stopped
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	if stopped {
		_ = cmd.Process.Signal(syscall.SIGCONT)
	}
	<-exited
}

// freeze and thaw stop and continue a replica (SIGSTOP, SIGCONT): a process that
// hangs and comes back with everything it believed before.
func (c *cluster) freeze(r *replica) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		_ = r.cmd.Process.Signal(syscall.SIGSTOP)
		r.stopped = true
	}
}

func (c *cluster) thaw(r *replica) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		_ = r.cmd.Process.Signal(syscall.SIGCONT)
		r.stopped = false
	}
}

// stop ends every replica gracefully (SIGTERM), and the proxies.
func (c *cluster) stop() {
	for _, r := range c.replicas {
		r.mu.Lock()
		cmd, exited, stopped := r.cmd, r.exited, r.stopped
		r.mu.Unlock()
		if cmd == nil {
			continue
		}
		if stopped {
			_ = cmd.Process.Signal(syscall.SIGCONT)
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	for _, p := range c.entry {
		p.close()
	}
	for _, p := range c.pgLink {
		p.close()
	}
	var topics []string
	for _, region := range chaosRegions {
		if cfg := c.cfg[region]; cfg != nil {
			topics = append(topics, cfg.TopicTCC(region), cfg.TopicDLQ(region))
		}
	}
	_ = kafkabus.DeleteTopics(context.Background(), []string{c.brokers}, topics...)
}

// freeAddr is a free loopback address below the ephemeral port range.
func freeAddr() string {
	for {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+int(randUint32()%11000))
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			ln.Close()
			return addr
		}
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
