#!/usr/bin/env bash
# npm run build: compiles every service to plain JavaScript in dist/ (run with `node dist/<service>/main.js`,
# no tsx), with the files the code reads beside it (config/, the Sparkplug .proto).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-dist}"
rm -rf "$out"
npx tsc -p tsconfig.build.json --outDir "$out"
cp -r config "$out/config"
cp core/sparkplug/sparkplug_b.proto "$out/core/sparkplug/"
echo "built $out/ (node $out/broker/main.js, $out/ingest/main.js, $out/api/main.js, $out/gateway/main.js)"
