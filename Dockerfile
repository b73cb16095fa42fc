# wharf in a container:
#
#   docker build -t wharf .
#   docker run --rm -v "$PWD:/work" wharf check
#   docker run --rm -v "$PWD:/work" -v /var/run/docker.sock:/var/run/docker.sock wharf run pipelines/hello.wharf
#
# Two stages. `build` compiles wharf from this folder (release); the final
# stage is a slim Debian with the binary and the CA certificates (the AWS
# SDK checks TLS against them) and nothing else. No docker CLI: the docker
# backend talks to the engine's socket itself (mount it, as above). Steps
# on the process backend run in this container, so they need what their
# commands need: build FROM this image and add it.
#
# Base images are build args. The defaults come from a registry:
#   BUILD_IMAGE=rust:1.95-bookworm      (the toolchain; crates.io is reached at build time)
#   RUNTIME_IMAGE=debian:bookworm-slim
#
# Offline, with no registry (this project's machines and CI): there is no
# Rust image to start from, and compiling every crate inside a container
# would be a cold build (tens of minutes on two cores) in each CI run. So
# the binary is built on the host (Debian bookworm too: the same glibc) and
# handed to the build stage as PREBUILT, in a context that holds only that
# binary; both stages start from the local wharf-test/bookworm:1 that
# .ci/images/build.sh makes with debootstrap. tests/dockerfile.rs does this:
#
#   cargo build --locked --release
#   ctx=$(mktemp -d) && strip -o "$ctx/wharf" target/release/wharf
#   docker build -f Dockerfile --build-arg PREBUILT=wharf \
#       --build-arg BUILD_IMAGE=wharf-test/bookworm:1 \
#       --build-arg RUNTIME_IMAGE=wharf-test/bookworm:1 -t wharf "$ctx"
#
# The legacy builder (no BuildKit here) builds every stage, so the offline
# route goes through the same two stages rather than skipping one.

ARG BUILD_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${BUILD_IMAGE} AS build
# A wharf binary in the build context, built elsewhere; empty: build here.
ARG PREBUILT=
WORKDIR /src
COPY . .
RUN set -eu; \
    if [ -n "$PREBUILT" ]; then \
        install -D -m 0755 "$PREBUILT" /out/wharf; \
    else \
        CARGO_PROFILE_RELEASE_STRIP=symbols cargo build --locked --release --bin wharf; \
        install -D -m 0755 target/release/wharf /out/wharf; \
    fi; \
    /out/wharf --version; \
    install -D -m 0644 /etc/ssl/certs/ca-certificates.crt /out/ca-certificates.crt

FROM ${RUNTIME_IMAGE}
COPY --from=build /out/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/wharf /usr/local/bin/wharf
# wharf works in the folder it runs in (.wharf/ holds its state): mount the project here.
WORKDIR /work
ENTRYPOINT ["wharf"]
CMD ["--help"]
