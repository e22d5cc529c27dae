#!/usr/bin/env bash
# The whole loop without an API key, a server or a network: build, generate training data and eval
# cases, run, report, compare.
#
#   bash examples/offline-demo.sh [OUT_DIR]
#
# The models are Charter's in-process demo models (`demo:NAME`, charter.providers.demo): canned
# replies, and verdicts from models named *judge* that grade every clause with a hash, not a
# judgement. As a teacher (charter.providers.demo_teacher) they answer every stage of `generate
# data` and `generate evals` with scripted content built from the spec: user messages from the
# clause texts, near-miss rejected replies, ratings and verdicts. The rows, cases and scores mean
# nothing (the manifests and the dataset card say so: "teacher: demo"); the pipeline (filters,
# deduplication, length-fair pairs, dataset card, cache, retries, usage, results, summary, report)
# is the real one. To use real models, set OPENAI_API_KEY or ANTHROPIC_API_KEY and name them, e.g.
# -m anthropic:claude-sonnet-4-5 --judge openai:gpt-4.1.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-demo}"
spec=characters/tutor.yaml
cache="$out/cache.sqlite3"

charter build "$spec" -o "$out/build"
# Training data: 20 graded rows, each with a near-miss preference pair of about the same length;
# exits 1 (stopping this script) when it keeps fewer than --min-rows.
charter generate data "$spec" -m demo:teacher --judge demo:judge -n 20 --min-rows 15 \
  --cache "$cache" -o "$out/data" -q
# New eval cases beyond the authored ones, run like build's.
charter generate evals "$spec" -m demo:teacher -n 12 --cache "$cache" -o "$out/evals" -q
charter run "$spec" --model demo:tutor --model demo:tutor-2 \
  --judge demo:judge --cache "$cache" -o "$out/run-a" -q
charter run "$spec" --model demo:tutor --judge demo:judge \
  --temperature 0.5 --cache "$cache" -o "$out/run-b" -q
charter run "$out/evals/evals.jsonl" --spec "$spec" --model demo:tutor --judge demo:judge \
  --cache "$cache" -o "$out/run-generated" -q
charter report "$out/run-a"
charter report "$out/run-generated"
charter compare "$out/run-a" "$out/run-b" || true   # exit 1 only with --fail-* gates
echo "open $out/run-a/report.html; training data in $out/data (README.md is its dataset card)"
