package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"example.com/wallet/platform/config"
	"example.com/wallet/platform/shard"
)

// benchRegions are the two regions of the local stack; workloads enter through the
// first.
var benchRegions = []string{"eu", "us"}

// region is one region of the stack as the benchmark sees it: its API, its
// configuration (shard DSNs included, for building long histories and reading
// transfers' outcomes) and, when the benchmark started it, its process.
type region struct {
	name   string
	url    string
	env    []string
	cfg    *config.Config
	router *shard.Router
	cmd    *exec.Cmd
	exited chan struct{}
}

// stack is the two regions, the PostgreSQL server and the Kafka brokers they use.
type stack struct {
	root    string
	regions map[string]*region
	pgURL   string
	brokers []string
	started bool // the benchmark started the regions and stops them at the end
}

// openStack finds a running two-region stack at the configured addresses, or starts
// one the way `make run` does (PostgreSQL, Kafka, shard databases, migrations, two
// `wallet serve` processes), with rate limits lifted so the benchmark measures the
// service rather than its throttle.
func openStack(ctx context.Context, o options, log func(string, ...any)) (*stack, error) {
	s := &stack{root: o.root, regions: map[string]*region{}}
	pgURL, err := s.script(ctx, nil, "scripts/postgres.sh", "url")
	if err != nil {
		return nil, err
	}
	s.pgURL = strings.TrimSpace(pgURL)

	for i, name := range benchRegions {
		out, err := s.script(ctx, []string{"WALLET_LOCAL_DB_PREFIX=" + o.dbPrefix}, "scripts/local.sh", "env", name)
		if err != nil {
			return nil, err
		}
		env := strings.Fields(out)
		env = append(env,
			"WALLET_KAFKA__TOPIC_PREFIX="+o.topicPrefix,
			// Lifted for the run: a benchmark of the throttle would say nothing.
			"WALLET_LIMITS__RATE_PER_SECOND=1000000000",
			"WALLET_LIMITS__RATE_BURST=1000000000",
			"WALLET_LIMITS__GATEWAY_RATE_PER_SECOND=1000000000",
			"WALLET_LIMITS__REPLICA_RATE_PER_SECOND=1000000000",
			// Profiles under load: go tool pprof http://<admin>/debug/pprof/profile
			"WALLET_HTTP__PPROF=true",
		)
		if b := os.Getenv("KAFKA_BROKERS"); b != "" {
			env = append(env, "WALLET_KAFKA__BROKERS="+b)
		}
		if o.portBase > 0 {
			peer := benchRegions[1-i]
			env = append(env,
				fmt.Sprintf("WALLET_HTTP__ADDR=127.0.0.1:%d", o.portBase+i),
				fmt.Sprintf("WALLET_HTTP__ADMIN_ADDR=127.0.0.1:%d", o.portBase+10+i),
				fmt.Sprintf("WALLET_PEERS__%s__URL=http://127.0.0.1:%d", strings.ToUpper(peer), o.portBase+1-i),
			)
		}
		cfg, err := config.Load(config.Options{Region: name, RegionsDir: filepath.Join(o.root, "regions"), Environ: env})
		if err != nil {
			return nil, fmt.Errorf("region %s: %w", name, err)
		}
		s.regions[name] = &region{name: name, url: "http://" + cfg.HTTP.Addr, env: env, cfg: cfg, router: shard.NewRouter(cfg)}
	}
	s.brokers = s.regions[benchRegions[0]].cfg.Kafka.Brokers

	ready := 0
	for _, r := range s.regions {
		if r.ready(ctx) {
			ready++
		}
	}
	switch {
	case ready == len(s.regions):
		log("using the regions already running at %s and %s (their own rate limits apply)", s.regions["eu"].url, s.regions["us"].url)
		return s, nil
	case ready > 0:
		return nil, fmt.Errorf("only some regions answer at their addresses: stop them or start both")
	case o.start == "never":
		return nil, fmt.Errorf("no region answers at %s (--start never)", s.regions["eu"].url)
	}
	if err := s.start(ctx, o, log); err != nil {
		s.close(log)
		return nil, err
	}
	return s, nil
}

// start brings up everything the regions need and the regions themselves.
func (s *stack) start(ctx context.Context, o options, log func(string, ...any)) error {
	log("starting PostgreSQL, Kafka and regions eu and us (rate limits lifted)")
	if _, err := s.script(ctx, nil, "scripts/postgres.sh", "up"); err != nil {
		return err
	}
	if _, err := s.script(ctx, nil, "scripts/kafka.sh", "up"); err != nil {
		return err
	}
	if _, err := s.script(ctx, []string{"WALLET_LOCAL_DB_PREFIX=" + o.dbPrefix}, "scripts/local.sh", "databases"); err != nil {
		return err
	}
	dir := filepath.Join(s.root, ".cache", "walletbench")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	bin := filepath.Join(dir, "wallet")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/wallet")
	build.Dir = s.root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the wallet: %v\n%s", err, out)
	}
	s.started = true
	for _, name := range benchRegions {
		r := s.regions[name]
		env := append(os.Environ(), r.env...)
		migrate := exec.CommandContext(ctx, bin, "migrate", "up", "--region", name)
		migrate.Dir, migrate.Env = s.root, env
		if out, err := migrate.CombinedOutput(); err != nil {
			return fmt.Errorf("region %s: migrate: %v\n%s", name, err, out)
		}
		logPath := filepath.Join(dir, o.dbPrefix+name+".log")
		logFile, err := os.Create(logPath)
		if err != nil {
			return err
		}
		r.cmd = exec.Command(bin, "serve", "--region", name)
		r.cmd.Dir, r.cmd.Env = s.root, env
		r.cmd.Stdout, r.cmd.Stderr = logFile, logFile
		if err := r.cmd.Start(); err != nil {
			logFile.Close()
			return err
		}
		r.exited = make(chan struct{})
		go func() { _ = r.cmd.Wait(); logFile.Close(); close(r.exited) }()
	}
	for _, name := range benchRegions {
		r := s.regions[name]
		deadline := time.Now().Add(60 * time.Second)
		for !r.ready(ctx) {
			select {
			case <-r.exited:
				return fmt.Errorf("region %s exited during start-up; see %s", name, filepath.Join(".cache", "walletbench", o.dbPrefix+name+".log"))
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("region %s not ready after 60 s", name)
			}
		}
	}
	return nil
}

// close stops the regions this benchmark started (SIGTERM, then wait), and nothing else.
func (s *stack) close(log func(string, ...any)) {
	for _, r := range s.regions {
		if r.cmd == nil || r.cmd.Process == nil {
			continue
		}
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.exited:
		case <-time.After(30 * time.Second):
			log("region %s did not stop within 30 s; killing it", r.name)
			_ = r.cmd.Process.Kill()
			<-r.exited
		}
	}
}

// rateLimited reports whether the regions run with their own rate limits (the
// benchmark found them running).
func (s *stack) rateLimited() bool { return !s.started }

func (r *region) ready(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.url+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// script runs one of the repository's scripts and returns its standard output.
func (s *stack) script(ctx context.Context, env []string, path string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(s.root, path), args...)
	cmd.Dir = s.root
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %v: %s", path, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// itoa is strconv.Itoa, for building keys.
func itoa(n int) string { return strconv.Itoa(n) }
