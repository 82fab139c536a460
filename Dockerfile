# syntax=docker/dockerfile:1
# The one `aerie` binary in a small non-root image. The chart runs it as
# `aerie server <service>`; `docker run <image> server standalone` runs all
# of it on SQLite under /var/lib/aerie.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# Cache the registry and the target directory between builds.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p aerie --bin aerie \
 && cp target/release/aerie /aerie \
 && mkdir -p /data

# glibc, CA certificates (S3 over TLS, OTLP) and nothing else; uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /aerie /usr/local/bin/aerie
# data-dir (SQLite and local storage when run standalone), owned by the user.
COPY --from=build --chown=65532:65532 /data /var/lib/aerie
USER 65532:65532
WORKDIR /var/lib/aerie
ENV AERIE_DATA_DIR=/var/lib/aerie \
    AERIE_SERVER_HOST=0.0.0.0
EXPOSE 8080 50051 9464
ENTRYPOINT ["/usr/local/bin/aerie"]
CMD ["server", "standalone"]
