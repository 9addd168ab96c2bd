#!/usr/bin/env bash
# npm run build: compiles every service to plain JavaScript in dist/ (run with `node dist/<service>/main.js`,
# no tsx), with the files the code reads beside it (config/, the Sparkplug .proto, the console bundle).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-dist}"
rm -rf "$out"
npx tsc -p tsconfig.build.json --outDir "$out"
cp -r config "$out/config"
cp core/sparkplug/sparkplug_b.proto "$out/core/sparkplug/"
# The operator console's bundle (esbuild, a devDependency): built here, served by dist/api as it is.
node --import tsx scripts/build-console.ts "$out/console/dist" >/dev/null
echo "built $out/ (node $out/broker/main.js, $out/ingest/main.js, $out/api/main.js, $out/gateway/main.js)"
