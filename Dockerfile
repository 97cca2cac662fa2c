# The MeLT network API, built from this repository.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p melt-api --bin melt

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/melt --create-home melt \
    && install -d -o melt -g melt -m 0700 /var/lib/melt/keys
COPY --from=build /src/target/release/melt /usr/local/bin/melt
USER melt
WORKDIR /var/lib/melt
ENV MELT_HOST=0.0.0.0 \
    MELT_PORT=8080 \
    MELT_LOG_FORMAT=json
EXPOSE 8080
# /ready answers within 2 s, also when the database is down.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
    CMD curl -fsS --max-time 3 http://127.0.0.1:8080/ready || exit 1
ENTRYPOINT ["melt"]
CMD ["serve"]
