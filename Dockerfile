# pm in one image: the web client is built first and embedded into the release binary, so the
# runtime image holds a single executable and SQLite is compiled in.
#   docker build -t pm .
#   docker run -p 8080:8080 -v pm-data:/var/lib/pm pm

FROM node:20-bookworm-slim AS client
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM rust:1.88-bookworm AS server
WORKDIR /src
COPY . .
COPY --from=client /src/frontend/dist frontend/dist
RUN cargo build --release --locked -p pm-server

FROM debian:bookworm-slim
RUN useradd --system --home /var/lib/pm pm && mkdir -p /var/lib/pm && chown pm /var/lib/pm
COPY --from=server /src/target/release/pm-server /usr/local/bin/pm-server
USER pm
ENV PM_LISTEN=0.0.0.0:8080 PM_DATA_DIR=/var/lib/pm PM_LOG_FORMAT=json
VOLUME /var/lib/pm
EXPOSE 8080
ENTRYPOINT ["pm-server"]
CMD ["serve"]
