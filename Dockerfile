# syntax=docker/dockerfile:1
#
# wallet: one static binary (accounts, ledger, transfers) on distroless, non-root,
# nothing writable at run time (the chart also mounts the root filesystem read-only).
#   docker build -t registry.example.com/wallet:$(git rev-parse --short HEAD) .
# Migrations are embedded in the binary (sql/schema); config arrives at run time as
# /etc/wallet/wallet.yaml (ConfigMap) plus WALLET_* environment variables (Secrets).

FROM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0 \
    GOFLAGS=-buildvcs=false
# Dependencies first, so they are cached until go.mod/go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/wallet ./cmd/wallet

FROM gcr.io/distroless/static-debian12:nonroot
# Root-owned and not writable by the runtime user.
COPY --from=build --chown=0:0 --chmod=0555 /out/wallet /usr/local/bin/wallet
# distroless "nonroot" = 65532:65532; numeric so runAsNonRoot can be verified.
USER 65532:65532
# 8080: API (/livez, /readyz, /openapi.yaml, /v1/...); 9090: admin (/metrics).
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/wallet"]
CMD ["serve", "--config", "/etc/wallet/wallet.yaml"]
