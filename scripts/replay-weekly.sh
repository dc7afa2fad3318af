#!/usr/bin/env bash
# The handbook data through the real daemon, with fine-tuning on and off: the weekly August
# table of issue 7's benchmark.
#
# For each mode it starts the development broker (`osprey broker`), `osprey serve` with the
# scores topic on and kcat reading that topic, then `osprey replay --format handbook` sends
# the whole dev file in time order, each label 7 days of event time after its transaction.
# Both modes start from the same model, trained with `osprey train` on the file's first 28
# days (the warm-up of `osprey backtest`). When every transaction has a score record, the
# daemon is stopped with SIGTERM and its last /metrics kept. scripts/weekly_table.py then
# joins the score records (the fraud head's score given before the label was known) with the
# file's truth and prints AUC-ROC, average precision and card precision@100 per August week
# for both modes, beside the book's offline numbers.
#
# Usage: scripts/replay-weekly.sh [DATA_FILE]
#   DATA_FILE defaults to ../shared/data/handbook/transactions-dev.jsonl.gz. Environment:
#   OSPREY (default .build/release/osprey; build it with
#   'swift build -c release --product osprey'), SPEED (event time per wall time, default
#   40000: the whole file in about 6 minutes a mode), MODES (default "on off"), WORK (a
#   directory to keep everything in; default a temporary one, removed at the end), SEED (the
#   first model's training seed, default 1).
#
# One events partition on purpose: the daemon keeps one feature store per partition and the
# replay keys by customer, so with several partitions a terminal's features would see only
# its share of the traffic. The development broker keeps at most 5 MiB a partition, so SPEED
# must stay where the daemon keeps up (it prints a warning if records were lost). With
# fine-tuning on, how many runs fit between labels depends on the wall clock, so two runs at
# different speeds or on a busier machine give somewhat different figures.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-$root/../shared/data/handbook/transactions-dev.jsonl.gz}
osprey=${OSPREY:-$root/.build/release/osprey}
speed=${SPEED:-40000}
modes=${MODES:-on off}
seed=${SEED:-1}
if [ -n "${WORK:-}" ]; then
    work=$WORK
    mkdir -p "$work"
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/osprey-weekly.XXXXXX")
    trap 'rm -rf "$work"' EXIT
fi

[ -x "$osprey" ] || { echo "build first: swift build -c release --product osprey" >&2; exit 1; }
[ -r "$data" ] || { echo "cannot read $data" >&2; exit 1; }
command -v kcat > /dev/null || { echo "kcat is missing: run scripts/setup.sh --test" >&2; exit 1; }

pids=()
cleanup_processes() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2> /dev/null || true; done
    pids=()
}
trap 'cleanup_processes' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for SECONDS COMMAND...: runs COMMAND every half second until it succeeds.
wait_for() {
    local limit=$1
    shift
    local deadline=$((SECONDS + limit))
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.5
    done
}

first_model=$work/first-model.safetensors
if [ ! -f "$first_model" ]; then
    echo "training the first model on 2018-04-01..2018-04-28 (seed $seed)" >&2
    "$osprey" train --input "$data" --format handbook --from 2018-04-01 --to 2018-04-28 \
        --seed "$seed" --out "$first_model" --quiet > /dev/null
fi

run_mode() {
    local mode=$1
    local enabled=false
    [ "$mode" = on ] && enabled=true
    local out=$work/$mode
    rm -rf "$out"
    mkdir -p "$out/state"

    "$osprey" broker --topic events:1 --topic labels:1 --topic alerts:1 --topic scores:1 \
        --topic events.dlq:1 > "$out/broker.out" 2> "$out/broker.log" &
    local broker=$!
    pids+=("$broker")
    wait_for 30 test -s "$out/broker.out" || { echo "the broker did not start" >&2; return 1; }
    local bootstrap
    bootstrap=$(head -1 "$out/broker.out")

    kcat -C -b "$bootstrap" -t scores -o beginning -u -q -f '%s\n' \
        > "$out/scores.jsonl" 2> "$out/kcat.log" &
    local reader=$!
    pids+=("$reader")

    local port
    port=$(free_port)
    cat > "$out/osprey.conf" <<EOF
kafka.bootstrap.servers = $bootstrap
topics.scores = scores
state.dir = $out/state
model.path = $first_model
training.enabled = $enabled
# Labels come 7 days after their transaction, about 67,000 of them later: the join keeps more.
training.join.max_entries = 100000
# As osprey backtest's defaults (online.holdout, online.fine_tune.every): a hold-out of 5,000
# per head judges a candidate on about 40 frauds rather than 16, and a run every 20,000 labels.
training.holdout = 5000
training.min_labels = 20000
metrics.listen = 127.0.0.1:$port
log.summary.interval = 10s
EOF
    "$osprey" serve --config "$out/osprey.conf" 2> "$out/serve.log" &
    local daemon=$!
    pids+=("$daemon")
    wait_for 60 curl -sf "http://127.0.0.1:$port/readyz" -o /dev/null \
        || { echo "the daemon did not become ready; see $out/serve.log" >&2; return 1; }

    echo "fine-tuning $mode: replaying at ${speed}x event time" >&2
    local started=$SECONDS
    "$osprey" replay --input "$data" --format handbook --bootstrap "$bootstrap" \
        --speed "$speed" --quiet 2> "$out/replay.log"
    local events
    events=$(sed -n 's/.*replay: \([0-9]*\) events.*/\1/p' "$out/replay.log" | tail -1)
    echo "fine-tuning $mode: $events events sent in $((SECONDS - started)) s; waiting for their scores" >&2
    scored() { [ "$(wc -l < "$out/scores.jsonl")" -ge "$events" ]; }
    if ! wait_for 600 scored; then
        echo "warning: only $(wc -l < "$out/scores.jsonl") of $events events scored" >&2
    fi
    curl -sf "http://127.0.0.1:$port/metrics" -o "$out/metrics.txt" || true
    kill -TERM "$daemon"
    wait "$daemon" || echo "warning: osprey serve exited with status $?" >&2
    kill -TERM "$reader" "$broker" 2> /dev/null || true
    wait "$reader" "$broker" 2> /dev/null || true
    pids=()
    if grep -q 'level=warning.*\(lost\|out of range\|reset\)' "$out/serve.log"; then
        echo "warning: the daemon reported lost records; lower SPEED" >&2
    fi
    local records
    records=$(grep -c . "$out/scores.jsonl")
    echo "fine-tuning $mode: done in $((SECONDS - started)) s, $records score records" >&2
}

for mode in $modes; do run_mode "$mode"; done

table_args=()
for mode in $modes; do table_args+=("$mode=$work/$mode"); done
python3 "$root/scripts/weekly_table.py" "$data" "${table_args[@]}"
