# scimd in a container: built with Rust, run from a small Debian image as a non-root user,
# data (the embedded SQLite store) in the /data volume. For Postgres, set DATABASE_URL.
#
#   docker build -t scimd .
#   docker run -d --name scimd -p 8080:8080 -v scimd-data:/data scimd serve --bootstrap
#   docker logs scimd        # the SCIM base URL and the tokens, printed once
#
# Keep every command here one that runs outside Docker too: tests/api/container.rs starts the
# binary with this file's ENV, CMD and HEALTHCHECK.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies in a layer of their own, rebuilt only when Cargo.toml or Cargo.lock change:
# build them once against placeholder sources (the manifest names a bench and a test suite,
# so those must exist too).
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches tests/api \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs tests/api/main.rs \
    && echo 'fn main() {}' > benches/scale.rs \
    && cargo build --release --locked \
    && rm -rf src benches tests
COPY . .
# COPY keeps the files' own modification times, which can be older than the placeholders'
# build: touch the crate roots so cargo rebuilds scimd itself.
RUN touch src/main.rs src/lib.rs && cargo build --release --locked

FROM debian:bookworm-slim
RUN useradd --uid 10001 --user-group --home-dir /data --no-create-home --shell /usr/sbin/nologin scimd \
    && mkdir /data \
    && chown scimd:scimd /data
COPY --from=build /src/target/release/scimd /usr/local/bin/scimd
USER scimd
WORKDIR /data
ENV SCIMD_LISTEN=0.0.0.0:8080 \
    SCIMD_DATABASE_URL=sqlite:///data/scimd.db
VOLUME ["/data"]
EXPOSE 8080
# `scimd healthcheck` asks /readyz of the server in this container (no curl in the image).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["scimd", "healthcheck"]
ENTRYPOINT ["scimd"]
CMD ["serve"]
