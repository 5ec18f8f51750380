# Multi-stage build: a static kudos binary on a distroless base, running as a non-root user.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN mkdir /out && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/...

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
USER nonroot:nonroot
ENV KUDOS_ADDR=:8080 KUDOS_SPOOL_DIR=/home/nonroot/spool
EXPOSE 8080
# Orchestrators probe /healthz (alive) and /readyz (Redis and the event spool usable); distroless has no
# shell or curl, so `kudos healthcheck` does the probe for Docker's HEALTHCHECK.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["/usr/local/bin/kudos", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/kudos"]
