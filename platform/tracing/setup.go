package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace/noop"

	"example.com/wallet/platform/config"
)

// RegionKey is the resource attribute naming the region whose process exported a span.
const RegionKey = attribute.Key("wallet.region")

// Setup installs the process's tracer as cfg says and returns what flushes and stops
// it (call it at shutdown, after the work that makes spans has stopped).
//
// With no otlp_endpoint, tracing is off: the no-op provider, no exporter, no goroutine,
// and a span costs at most a context value; an incoming traceparent is still carried
// to the outgoing hops (see StartFrom). Otherwise spans are batched and exported over
// OTLP/HTTP (protobuf) to the endpoint, every batch_timeout at the latest, and sampled
// parent-based: a trace a gateway sampled (or did not) is honoured, and a trace that
// starts here is kept with probability sample_ratio.
func Setup(ctx context.Context, cfg config.Tracing, region string, logger *slog.Logger) (shutdown func(context.Context) error, err error) {
	if cfg.OTLPEndpoint == "" {
		restore := Install(noop.NewTracerProvider())
		return func(context.Context) error { restore(); return nil }, nil
	}
	exporter, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(TracesURL(cfg.OTLPEndpoint)))
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	// The SDK reports failed exports through otel's error handler; without one they
	// would go to the standard logger, outside the wallet's structured log.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("tracing", "error", err.Error())
	}))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exporter, sdktrace.WithBatchTimeout(cfg.BatchTimeout)),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(cfg.ServiceName), RegionKey.String(region))),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
	)
	restore := Install(tp)
	return func(ctx context.Context) error {
		defer restore()
		return tp.Shutdown(ctx)
	}, nil
}

// TracesURL is where spans are sent for endpoint: the collector's base URL gets the
// OTLP/HTTP traces path (/v1/traces), as OTEL_EXPORTER_OTLP_ENDPOINT does; a URL that
// names a path is used as it is.
func TracesURL(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || strings.Trim(u.Path, "/") != "" {
		return endpoint
	}
	u.Path = "/v1/traces"
	return u.String()
}
