# Multi-stage build: compile in the Rust image, run in a small Debian image as a
# non-root user with the data in a volume.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
COPY assets assets
RUN cargo build --release --locked --bin showroom \
 && strip target/release/showroom

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin showroom \
 && mkdir -p /data \
 && chown showroom /data
WORKDIR /app
COPY --from=build /src/target/release/showroom /usr/local/bin/showroom
COPY showroom.toml ./
COPY flows flows
COPY knowledge knowledge
COPY prompts prompts
USER showroom
ENV SHOWROOM_LISTEN=0.0.0.0:8080 \
    SHOWROOM_DATA_DIR=/data \
    SHOWROOM_LOG__FORMAT=json
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["showroom"]
CMD ["serve"]
