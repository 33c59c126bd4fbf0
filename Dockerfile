# scimd in a container: built with Rust, run from a small Debian image as a non-root user,
# data (the embedded SQLite store) in the /data volume. For Postgres, set DATABASE_URL.
#
#   docker build -t scimd .
#   docker run -d --name scimd -p 8080:8080 -v scimd-data:/data scimd serve --bootstrap
#   docker logs scimd        # the SCIM base URL and the tokens, printed once
#
# Keep every command here one that runs outside Docker too: tests/api/container.rs starts the
# binary with this file's ENV, CMD and HEALTHCHECK, and .ci/dockerfile_check.py replays the
# build stages on the host (docs/operations.md, "Container image").

# The dependency layer comes from cargo-chef: `prepare` derives a recipe from the manifest
# and lock file (every target the manifest names, whatever they are), `cook` builds the
# dependencies from it. Nothing here lists the crate's targets by hand, so it cannot drift
# from Cargo.toml. The layer is rebuilt only when the recipe changes.
FROM rust:1.95-slim-bookworm AS chef
RUN cargo install --locked cargo-chef@0.1.78
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked

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
