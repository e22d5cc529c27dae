#!/usr/bin/env bash
# The whole loop without an API key: build, run against scripted models, report, compare.
#
#   bash examples/offline-demo.sh [OUT_DIR]
#
# The models are Charter's fake server in demo mode (charter.testing.demo): canned replies and
# hash-based verdicts. The scores mean nothing; the pipeline is the real one. To evaluate a real
# model, drop the server and the two *_BASE_URL lines, set OPENAI_API_KEY or ANTHROPIC_API_KEY,
# and name real models, e.g. --model anthropic:claude-sonnet-4-5 --judge openai:gpt-4.1.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-demo}"
port="${CHARTER_DEMO_PORT:-8765}"

python -m charter.testing.fakeserver --demo --port "$port" > "$out.server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening "$out.server.log" 2>/dev/null && break; sleep 0.1; done

key="${CHARTER_DEMO_KEY:-demo}"  # the fake server accepts any key
export OPENAI_BASE_URL="http://127.0.0.1:$port/v1" OPENAI_API_KEY="$key"
export ANTHROPIC_BASE_URL="http://127.0.0.1:$port" ANTHROPIC_API_KEY="$key"

charter build characters/tutor.yaml -o "$out/build"
charter run characters/tutor.yaml --model openai:demo-tutor --model anthropic:demo-tutor-2 \
  --judge openai:demo-judge --cache "$out/cache.sqlite3" -o "$out/run-a" -q
charter run characters/tutor.yaml --model openai:demo-tutor --judge openai:demo-judge \
  --temperature 0.5 --cache "$out/cache.sqlite3" -o "$out/run-b" -q
charter report "$out/run-a"
charter compare "$out/run-a" "$out/run-b" || true   # exit 1 only with --fail-* gates
echo "open $out/run-a/report.html"
