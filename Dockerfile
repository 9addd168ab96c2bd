# One image for every platform service; docker-compose.yml picks the entry per service.
# Stage 1 compiles TypeScript to dist/ (npm run build); the runtime runs plain JavaScript, no tsx.
FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY core ./core
COPY config ./config
COPY broker ./broker
COPY ingest ./ingest
COPY api ./api
COPY gateway ./gateway
COPY simulators ./simulators
COPY dashboards ./dashboards
COPY cluster ./cluster
RUN bash scripts/build.sh dist

FROM node:22-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY --from=build /src/dist ./dist
USER node
# e.g. CMD ["node", "dist/broker/main.js"]
CMD ["node", "dist/api/main.js"]
