# syntax=docker/dockerfile:1
# Multi-stage build of the `ticketing` binary and the browser app it serves. Queries are checked
# against the committed `.sqlx/` data (SQLX_OFFLINE, set in .cargo/config.toml), so the build
# needs no database.

# The browser app (web/ → dist: index.html and hashed assets), served by the binary (WEB_DIR).
FROM node:20-bookworm-slim AS web
ENV PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
WORKDIR /web
COPY web/package.json web/package-lock.json web/.npmrc ./
RUN npm ci --no-fund --no-audit
COPY web/ ./
RUN npm run build

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY .cargo .cargo
COPY .sqlx .sqlx
COPY migrations migrations
COPY src src
COPY bench bench
COPY tests tests
RUN cargo build --release --locked --bin ticketing

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home ticketing
COPY --from=build /src/target/release/ticketing /usr/local/bin/ticketing
COPY --from=web /web/dist /usr/local/share/ticketing/web
USER ticketing
ENV APP_PROFILE=prod HTTP_ADDR=0.0.0.0:8080 WEB_DIR=/usr/local/share/ticketing/web
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=5 CMD ["ticketing", "healthcheck"]
ENTRYPOINT ["ticketing"]
