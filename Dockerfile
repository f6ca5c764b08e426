# UnifiedPush gateway: build in one stage, run plain JavaScript in a slim one.
#   docker build -t up-gateway .
#   docker run -v /etc/up-gateway/config.toml:/etc/up-gateway/config.toml:ro \
#              -v up-gateway-data:/var/lib/up-gateway --env-file /etc/up-gateway/env up-gateway
# docs/install.md has the whole story (config, networking, the secret).
ARG NODE_VERSION=20

FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /app
# better-sqlite3 is native: npm ci fetches a prebuilt binary, or compiles it
# with the python3, make and g++ this image has, against the local headers.
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# Same Debian release as the build stage: the compiled better-sqlite3 links against its glibc.
FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY config.example.toml /etc/up-gateway/config.example.toml
# The database lives on a volume owned by the unprivileged user the gateway runs as.
RUN mkdir -p /var/lib/up-gateway && chown node:node /var/lib/up-gateway
VOLUME ["/var/lib/up-gateway"]
USER node
EXPOSE 8080
# /healthz is 200 while the component link is up (assumes [http] listen on port 8080).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node is PID 1 and handles SIGTERM itself: in-flight pushes finish, then exit 0.
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js", "--config", "/etc/up-gateway/config.toml"]
