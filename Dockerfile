# syntax=docker/dockerfile:1

# ---------------------------------------------------------------------------
# Build stage: rustc 1.95 on Debian bookworm (same glibc as the runtime stage).
# ---------------------------------------------------------------------------
FROM rust:1.95-slim-bookworm AS builder

WORKDIR /build

# No query is checked at compile time: they are plain SQL strings (`sqlx::query`), exercised by the test
# suites on SQLite and PostgreSQL. SQLX_OFFLINE keeps sqlx's macros (only `migrate!` is used) from ever
# looking for a database during the build.
ENV SQLX_OFFLINE=true \
    CARGO_TERM_COLOR=never

# 1) Dependency layer: only the manifests (and build.rs when the project has one; the
#    `build.r[s]` glob matches nothing otherwise), with dummy targets. This layer is
#    rebuilt only when Cargo.toml / Cargo.lock / build.rs change.
COPY Cargo.toml Cargo.lock build.r[s] ./
RUN mkdir -p src migrations \
    && echo 'fn main() {}' > src/main.rs \
    && : > src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src

# 2) The real sources. COPY keeps the files' own mtimes, which may be older than the
#    dummy build's artifacts: touch them so cargo rebuilds the crate itself.
COPY src ./src
COPY migrations ./migrations
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked \
    && cp target/release/user-profile-service /usr/local/bin/user-profile-service

# ---------------------------------------------------------------------------
# Runtime stage: Debian slim, CA roots only, non-root user.
# ---------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime

# ca-certificates tracks bookworm's security updates; a version pin would go stale and break builds.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home --shell /usr/sbin/nologin app \
    && mkdir -p /app/data \
    && chown -R 10001:10001 /app/data \
    && chmod 0750 /app/data

COPY --from=builder /usr/local/bin/user-profile-service /usr/local/bin/user-profile-service

WORKDIR /app

ENV APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    LOG_FORMAT=json \
    RUST_LOG=info \
    DATA_DIR=/app/data \
    DATABASE_URL="sqlite:/app/data/profiles.db?mode=rwc"

EXPOSE 8080
VOLUME ["/app/data"]

# The binary probes its own GET /health on 127.0.0.1:$PORT: no curl/wget in the image.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/user-profile-service", "healthcheck"]

USER 10001

ENTRYPOINT ["/usr/local/bin/user-profile-service"]
CMD ["serve"]
