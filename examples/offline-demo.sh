#!/usr/bin/env bash
# The whole loop without an API key, a server or a network: build, run, report, compare.
#
#   bash examples/offline-demo.sh [OUT_DIR]
#
# The models are Charter's in-process demo models (`demo:NAME`, charter.providers.demo): canned
# replies, and verdicts from models named *judge* that grade every clause with a hash, not a
# judgement. The scores mean nothing; the pipeline (cache, retries, usage, results, summary,
# report) is the real one. To evaluate a real model, set OPENAI_API_KEY or ANTHROPIC_API_KEY and
# name real models, e.g. --model anthropic:claude-sonnet-4-5 --judge openai:gpt-4.1.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-demo}"

charter build characters/tutor.yaml -o "$out/build"
charter run characters/tutor.yaml --model demo:tutor --model demo:tutor-2 \
  --judge demo:judge --cache "$out/cache.sqlite3" -o "$out/run-a" -q
charter run characters/tutor.yaml --model demo:tutor --judge demo:judge \
  --temperature 0.5 --cache "$out/cache.sqlite3" -o "$out/run-b" -q
charter report "$out/run-a"
charter compare "$out/run-a" "$out/run-b" || true   # exit 1 only with --fail-* gates
echo "open $out/run-a/report.html"
