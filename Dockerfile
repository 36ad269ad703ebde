# csms: build on the Rust image, run on slim Debian. SQLite is bundled; PostgreSQL needs libpq.
FROM rust:1-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev && rm -rf /var/lib/apt/lists/*
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY ocpp-schemas ./ocpp-schemas
COPY web ./web
RUN cargo build --release --bin csms

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 ca-certificates curl && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/csms --create-home csms \
    && mkdir -p /var/lib/csms/data && chown csms:csms /var/lib/csms/data
COPY --from=build /src/target/release/csms /usr/local/bin/csms
USER csms
WORKDIR /var/lib/csms
ENV CSMS_HTTP_ADDR=0.0.0.0:3000 CSMS_OCPP_ADDR=0.0.0.0:9000 RUST_LOG=info
EXPOSE 3000 9000 9443
HEALTHCHECK --interval=10s --timeout=3s --retries=5 CMD curl -fsS http://127.0.0.1:3000/healthz || exit 1
ENTRYPOINT ["csms"]
CMD ["serve"]
