package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"example.com/wallet/api"
	"example.com/wallet/modules/accounts"
	"example.com/wallet/modules/batches"
	"example.com/wallet/modules/ledger"
	"example.com/wallet/modules/transfers"
	"example.com/wallet/modules/webhooks"
	"example.com/wallet/platform/config"
	"example.com/wallet/platform/events"
	"example.com/wallet/platform/health"
	"example.com/wallet/platform/httpapi"
	"example.com/wallet/platform/idempotency"
	"example.com/wallet/platform/kafkabus"
	"example.com/wallet/platform/outbox"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/ratelimit"
	"example.com/wallet/platform/shard"
	"example.com/wallet/platform/tracing"
)

// serve runs the region until ctx is cancelled (SIGTERM), then shuts down gracefully:
// readiness turns false, in-flight requests drain, pools close.
func serve(ctx context.Context, args, environ []string, stdout io.Writer) error {
	cfg, err := newFlags("serve").load(args, environ)
	if err != nil {
		return err
	}
	logs := newLogBuffer(stdout)
	defer logs.Close()
	logger := newLogger(logs, cfg.Log.Level).With("region", cfg.Region)
	slog.SetDefault(logger)
	if _, set := os.LookupEnv("GOGC"); !set {
		// The live heap is tens of megabytes and the garbage is per request: at the
		// default GOGC=100 marking took about 8% of the CPU under load
		// (docs/performance.md). Four times the live heap is still small, and
		// GOMEMLIMIT (the chart derives it from the container's limit) caps it. An
		// explicit GOGC wins.
		debug.SetGCPercent(400)
	}

	stopTracing, err := tracing.Setup(ctx, cfg.Tracing, cfg.Region, logger)
	if err != nil {
		return err
	}
	defer func() {
		// Last, after every worker stopped: the spans of the final batches go out.
		flush, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := stopTracing(flush); err != nil {
			logger.Warn("flushing traces", "error", err.Error())
		}
	}()

	client, err := kafkaClient(cfg)
	if err != nil {
		return err
	}
	shards, err := pgdb.Open(ctx, cfg.ShardList)
	if err != nil {
		return err
	}
	defer pgdb.Close(shards)
	if err := verifySchemas(ctx, logger, cfg, shards); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	checks := map[string]health.Check{
		"kafka": func(ctx context.Context) error { return client.Ping(ctx, cfg.Kafka.Brokers) },
	}
	for name, s := range shards {
		checks["shard/"+name] = s.Pool.Ping
	}
	tracker := health.NewTracker(cfg.Region, checks, reg)

	router := shard.NewRouter(cfg)
	peers := map[string]httpapi.Peer{}
	for name, p := range cfg.Peers {
		peers[name] = httpapi.Peer{URL: p.URL, Token: cfg.ForwardToken(name)}
	}
	forwarder, err := httpapi.NewForwarder(cfg.Region, peers, logger)
	if err != nil {
		return err
	}
	region := pgdb.NewShards(router, shards)
	idem := idempotency.NewStore(cfg.Idempotency.Retention)
	ledgerSvc := ledger.NewService(region, cfg.LedgerSealKey())
	movements := ledger.NewMovements(ledgerSvc, idem)
	accountsSvc := accounts.NewService(region, ledgerSvc, cfg.Catalogue().Default().Code)
	limiter := ratelimit.New(ratelimit.Limits{PerUser: cfg.Limits.RatePerSecond, Burst: cfg.Limits.RateBurst,
		PerGateway: cfg.Limits.GatewayRatePerSecond, PerReplica: cfg.Limits.ReplicaRatePerSecond, MaxUsers: cfg.Limits.MaxTrackedUsers})
	backpressure := newPressure(cfg, reg)
	transfersSvc := transfers.NewService(transfers.Config{Buckets: cfg.Buckets, TTL: cfg.Transfers.TTL,
		ResendAfter: cfg.Transfers.ResendAfter, ResendMax: cfg.Transfers.ResendMax, Backlogged: backpressure.backlogged,
		MaxWaiters: cfg.Transfers.MaxWaiters, MessageKeys: messageKeys(cfg), Currencies: cfg.Catalogue()},
		region, ledgerSvc, idem, transfers.NewMetrics(reg))
	reg.MustRegister(transfersSvc.PendingCollector(logger))

	// Webhook endpoints and deliveries live on the region's first shard.
	webhooksSvc := webhooks.NewService(shards[cfg.ShardList[0].Name].Pool, webhooks.Config{Region: cfg.Region,
		RetryDelays: cfg.Webhooks.Delays(), Timeout: cfg.Webhooks.Timeout, Senders: cfg.Webhooks.Senders,
		PerEndpoint: cfg.Webhooks.PerEndpoint, AllowInternal: cfg.Profile == "local", SecretOverlap: cfg.Webhooks.SecretOverlap,
		LogRetention: cfg.Webhooks.LogRetention},
		webhooks.NewMetrics(reg))
	reg.MustRegister(webhooksSvc.PendingCollector(logger))

	batchesHTTP := batches.NewHTTP()
	api := newAPI(cfg, logger, reg, tracker, func(r chi.Router) {
		accounts.NewHTTP(accountsSvc, forwarder, cfg.Region).Mount(r)
		ledger.NewHTTP(ledgerSvc, movements, forwarder, limiter, cfg.Catalogue()).Mount(r)
		transfers.NewHTTP(transfersSvc, forwarder, limiter, cfg.Catalogue()).Mount(r)
		webhooks.NewHTTP(webhooksSvc, forwarder).Mount(r)
		batchesHTTP.Mount(r)
	})
	batchesHTTP.Dispatch(api)
	admin := chi.NewRouter()
	admin.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	if cfg.HTTP.Pprof {
		admin.HandleFunc("/debug/pprof/*", pprof.Index)
		admin.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		admin.HandleFunc("/debug/pprof/profile", pprof.Profile)
		admin.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		admin.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}

	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	tracker.CheckAll(ctx)
	var workers sync.WaitGroup
	spawn := func(f func()) {
		workers.Add(1)
		go func() { defer workers.Done(); f() }()
	}
	spawn(func() { tracker.Run(bg, 2*time.Second) })
	spawn(func() { expireIdempotencyRecords(bg, logger, idem, shards) })
	bus := newMessaging(cfg, client, logger, reg)
	defer bus.close()
	for _, region := range cfg.Regions() {
		if region != cfg.Region {
			spawn(func() { bus.ensureTopics(bg, region) })
		}
	}
	// The relay lease's holder names this replica the same way across its restarts
	// (a pod keeps its name), so a restarted leader takes its lease back at once
	// instead of waiting for it to lapse.
	hostname, _ := os.Hostname()
	holder := hostname + "/" + cfg.HTTP.Addr
	for name, s := range shards {
		// Every region's TCC messages, and this region's event stream in a loop of its
		// own (events.Destination).
		destinations := append(cfg.Regions(), events.Destination)
		relay := &outbox.Relay{Shard: name, Pool: s.Pool, Regions: destinations, Publish: bus.publish, Logger: logger, Holder: holder,
			Metrics: bus.outboxMetrics, Hold: cfg.Testing.RelayHold, Drop: cfg.Testing.RelayDrop}
		spawn(func() { relay.Run(bg) })
	}
	// kafka-go starts a group reader's membership as soon as it is built, and one that
	// joins before its topic exists can stay unassigned: build it once the topic is there.
	consumerDone := make(chan *kafkabus.Consumer[transfers.Inbound], 1)
	webhookConsumerDone := make(chan *kafkabus.Consumer[webhooks.Event], 1)
	spawn(func() {
		bus.ensureTopics(bg, cfg.Region)
		if bg.Err() != nil {
			close(consumerDone)
			close(webhookConsumerDone)
			return
		}
		consumer := bus.consumer(transfersSvc)
		backpressure.consumer.Store(consumer)
		consumerDone <- consumer
		// The webhooks read the event stream in a group of their own: however far
		// behind they fall, the TCC consumer and the money never wait for them.
		webhookConsumer := bus.webhookConsumer(webhooksSvc)
		webhookConsumerDone <- webhookConsumer
		spawn(func() { webhookConsumer.Run(bg) })
		consumer.Run(bg)
	})
	spawn(func() { webhooksSvc.RunDispatcher(bg, logger) })
	spawn(func() { webhooksSvc.RunRetention(bg, logger) })
	spawn(func() { transfersSvc.RunNotifications(bg, logger) })
	spawn(func() { backpressure.run(bg, shards) })
	spawn(func() {
		transfersSvc.RunSweep(bg, logger, min(cfg.Transfers.TTL/4, cfg.Transfers.ResendAfter/4, time.Second))
	})

	apiServer := newServer(cfg.HTTP, cfg.HTTP.Addr, api)
	adminServer := newServer(cfg.HTTP, cfg.HTTP.AdminAddr, admin)
	apiLn, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.HTTP.Addr, err)
	}
	adminLn, err := net.Listen("tcp", cfg.HTTP.AdminAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.HTTP.AdminAddr, err)
	}
	serveErr := make(chan error, 2)
	go func() { serveErr <- apiServer.Serve(apiLn) }()
	go func() { serveErr <- adminServer.Serve(adminLn) }()
	tracker.SetPhase(health.PhaseReady)
	logger.Info("wallet serving", "addr", apiLn.Addr().String(), "admin_addr", adminLn.Addr().String(), "shards", router.Shards())

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("server stopped: %w", err)
	}
	logger.Info("shutting down")
	tracker.SetPhase(health.PhaseStopping)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := apiServer.Shutdown(shutdownCtx); err != nil {
		logger.Warn("api shutdown", "error", err.Error())
	}
	_ = adminServer.Shutdown(shutdownCtx)
	// Consumers finish the message in hand, relays their batch; then everything stops.
	stopBackground()
	workers.Wait()
	if consumer, ok := <-consumerDone; ok {
		// Leaving the group hands its partitions to the other replicas at once.
		_ = consumer.Reader.Close()
	}
	if consumer, ok := <-webhookConsumerDone; ok {
		_ = consumer.Reader.Close()
	}
	logger.Info("stopped")
	return nil
}

// newAPI builds the public router: plumbing endpoints, then /v1 behind authentication.
// messageKeys are the keys of the TCC messages this region exchanges with each region,
// itself included.
func messageKeys(cfg *config.Config) map[string][]byte {
	keys := map[string][]byte{}
	for _, region := range cfg.Regions() {
		keys[region] = cfg.MessageKey(region)
	}
	return keys
}

func newAPI(cfg *config.Config, logger *slog.Logger, reg prometheus.Registerer, tracker *health.Tracker, mount func(chi.Router)) http.Handler {
	r := chi.NewRouter()
	r.Use(httpapi.WithRequestID, httpapi.Trace("/livez", "/readyz"), httpapi.Observe(logger, httpapi.NewMetrics(reg)), httpapi.Deadline(cfg.HTTP.RequestTimeout),
		httpapi.LimitBody(cfg.HTTP.MaxBodyBytes, map[string]int64{"/v1/batches": cfg.HTTP.MaxBatchBodyBytes}))
	r.NotFound(httpapi.NotFound)
	r.MethodNotAllowed(httpapi.MethodNotAllowed)
	r.Get("/livez", tracker.Livez)
	r.Get("/readyz", tracker.Readyz)
	r.Method(http.MethodGet, "/openapi.yaml", api.Handler())
	r.Group(func(r chi.Router) {
		peerTokens := map[string]string{}
		for name := range cfg.Peers {
			peerTokens[name] = cfg.ForwardToken(name)
		}
		scopes := map[string][]string{}
		for gateway := range cfg.Auth.GatewayTokens {
			scopes[gateway] = cfg.ScopesOf(gateway)
		}
		r.Use(httpapi.NewAuthenticator(cfg.Auth.GatewayTokens, scopes, peerTokens).Middleware)
		mount(r)
	})
	return r
}

func newServer(h config.HTTP, addr string, handler http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       h.ReadTimeout,
		WriteTimeout:      h.WriteTimeout,
		IdleTimeout:       h.IdleTimeout,
		MaxHeaderBytes:    h.MaxHeaderBytes,
	}
}

// verifySchemas refuses to serve on a shard whose schema is behind (or ahead of) the
// binary, naming the shard. A shard that does not answer yet is retried until ctx
// ends: the orchestrator's start-up probe bounds that wait.
func verifySchemas(ctx context.Context, logger *slog.Logger, cfg *config.Config, shards map[string]*pgdb.Shard) error {
	latest, err := pgdb.LatestVersion()
	if err != nil {
		return err
	}
	for _, spec := range cfg.ShardList {
		for {
			v, dirty, err := pgdb.SchemaVersion(ctx, shards[spec.Name].Pool)
			if err == nil {
				if dirty || v != latest {
					return fmt.Errorf("shard %s: schema version %d%s, this binary needs %d: run `wallet migrate up --region %s`",
						spec.Name, v, map[bool]string{true: " (dirty)"}[dirty], latest, cfg.Region)
				}
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("shard %s: %w", spec.Name, ctx.Err())
			}
			logger.Warn("shard not answering; waiting to verify its schema", "shard", spec.Name, "error", err.Error())
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	return nil
}

// expireIdempotencyRecords deletes records past retention, in small batches so it never
// holds locks for long.
func expireIdempotencyRecords(ctx context.Context, logger *slog.Logger, idem *idempotency.Store, shards map[string]*pgdb.Shard) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Minute):
		}
		for name, s := range shards {
			for {
				n, err := idem.DeleteExpired(ctx, s.Pool, 1000)
				if err != nil {
					if !errors.Is(err, context.Canceled) {
						logger.Warn("expiring idempotency records", "shard", name, "error", err.Error())
					}
					break
				}
				if n < 1000 {
					break
				}
			}
		}
	}
}
