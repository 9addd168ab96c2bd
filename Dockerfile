# One image for every platform service; docker-compose.yml picks the entry per service.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY core ./core
COPY config ./config
COPY broker ./broker
COPY ingest ./ingest
COPY api ./api
COPY gateway ./gateway
COPY simulators ./simulators
USER node
# e.g. CMD ["node", "--import", "tsx", "broker/main.ts"]
CMD ["node", "--import", "tsx", "api/main.ts"]
