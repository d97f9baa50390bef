# syntax=docker/dockerfile:1
# credwatch as a small non-root image: built with the Rust toolchain on Debian 12, run on
# distroless cc (glibc and libgcc, nothing else; ureq's TLS is rustls with ring, built in).
#   docker build -t registry.example/credwatch:0.1.0 .
#   docker run --rm registry.example/credwatch:0.1.0 --version

FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
# The cache mounts keep the registry and build artefacts between builds (BuildKit).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
    && install -D -m 0755 target/release/credwatch /out/credwatch

# Same Debian release as the builder, so the glibc the binary links against is there.
# scripts/image builds this stage offline from a local release binary: it replaces this FROM with
# `FROM scratch` plus what distroless/cc gives credwatch (the libraries `ldd` lists, a passwd
# entry for 65532) and keeps every other line of the stage, so keep the two lines it rewrites.
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="credwatch" \
      org.opencontainers.image.description="Tells operators weeks ahead that a credential is about to expire" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /out/credwatch /usr/local/bin/credwatch
# The distroless `nonroot` user; the manifests of `credwatch render k8s` run as it too.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/credwatch"]
CMD ["--help"]
