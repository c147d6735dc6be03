# syntax=docker/dockerfile:1
# pm in one image: the web client is built first and embedded into the release binary, so the
# runtime image holds a single executable (SQLite is compiled in) and runs it as a non-root user.
#   docker build -t pm .
#   docker run -p 8080:8080 -v pm-data:/var/lib/pm pm
# `scripts/check-deployment` lints this file with hadolint; the machines the tests run on have no
# Docker daemon, so the image itself is not built by the test command.

FROM node:20-bookworm-slim AS client
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM rust:1.88-bookworm AS server
WORKDIR /src
COPY . .
COPY --from=client /src/frontend/dist frontend/dist
# The registry and target/ are cache mounts, so a rebuild compiles only what changed; the binary
# is copied out of the cache mount, which does not survive the step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p pm-server \
    && cp target/release/pm-server /usr/local/bin/pm-server

FROM debian:bookworm-slim
COPY --from=server /usr/local/bin/pm-server /usr/local/bin/pm-server
# A numeric user that exists in the image (so `USER` needs no name lookup), owning the data
# directory before a volume is mounted over it (a new volume takes the directory's owner).
RUN groupadd --system --gid 10001 pm \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/pm --no-create-home pm \
    && mkdir -p /var/lib/pm && chown 10001:10001 /var/lib/pm
USER 10001:10001
WORKDIR /var/lib/pm
ENV PM_LISTEN=0.0.0.0:8080 PM_DATA_DIR=/var/lib/pm PM_LOG_FORMAT=json
VOLUME /var/lib/pm
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/pm-server"]
CMD ["serve"]
