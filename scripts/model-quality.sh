#!/usr/bin/env bash
# Reproduces the model quality table of the handbook data with the book's protocol:
# train on 2018-07-25..31, 7-day label delay, test on 2018-08-08..14 without the cards
# already known to be compromised (58,264 rows, 385 frauds). For every architecture
# (shared_bottom, mmoe, single_task) and head set (fraud; fraud,fraud_type) it trains with
# seeds 1..5 and prints the fraud head's AUC-ROC, average precision and card precision@100
# as mean ± standard deviation over the seeds.
#
# Usage: scripts/model-quality.sh [DATA_FILE] [CONFIG_FILE]
#   DATA_FILE defaults to ../shared/data/handbook/transactions-dev.jsonl.gz, CONFIG_FILE to
#   none (the built-in defaults). Set SEEDS="1 2" for a quicker run, OSPREY for the binary
#   (default .build/release/osprey; build it with 'swift build -c release --product osprey'),
#   TRAIN_FROM=2018-06-01 to train on more history than the book's week (the test set and
#   its exclusion of known cards stay the book's). TRAIN_TO, TEST_FROM, TEST_TO and KNOWN_SINCE
#   move the whole split, to check a choice on an earlier one that the book's test week does
#   not see, e.g. TRAIN_FROM=2018-07-11 TRAIN_TO=2018-07-17 TEST_FROM=2018-07-25
#   TEST_TO=2018-07-31 KNOWN_SINCE=2018-07-11.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-$root/../shared/data/handbook/transactions-dev.jsonl.gz}
config=${2:-}
osprey=${OSPREY:-$root/.build/release/osprey}
seeds=${SEEDS:-1 2 3 4 5}
train_from=${TRAIN_FROM:-2018-07-25}
train_to=${TRAIN_TO:-2018-07-31}
test_from=${TEST_FROM:-2018-08-08}
test_to=${TEST_TO:-2018-08-14}
known_since=${KNOWN_SINCE:-2018-07-25}
work=$(mktemp -d "${TMPDIR:-/tmp}/osprey-quality.XXXXXX")
trap 'rm -rf "$work"' EXIT

[ -x "$osprey" ] || { echo "build first: swift build -c release --product osprey" >&2; exit 1; }
[ -r "$data" ] || { echo "cannot read $data" >&2; exit 1; }
config_args=()
[ -n "$config" ] && config_args=(--config "$config")

metric() {  # metric REPORT NAME: the fraud head's value of NAME in a report.json
    sed -e 's/.*"fraud":{[^}]*"metrics":{//' -e 's/}.*//' "$1" | tr ',' '\n' \
        | sed -n "s/^\"$2\":\\(.*\\)/\\1/p"
}

printf '| architecture | heads | AUC-ROC | average precision | card precision@100 |\n'
printf '| --- | --- | --- | --- | --- |\n'
for architecture in shared_bottom mmoe single_task; do
    for heads in fraud fraud,fraud_type; do
        : > "$work/values"
        for seed in $seeds; do
            model="$work/$architecture-$heads-$seed.safetensors"
            "$osprey" train --input "$data" --format handbook --from "$train_from" --to "$train_to" \
                --architecture "$architecture" --heads "$heads" --seed "$seed" \
                "${config_args[@]}" --out "$model" --quiet > /dev/null
            "$osprey" eval --model "$model" --input "$data" --format handbook \
                --from "$test_from" --to "$test_to" --known-since "$known_since" \
                --report "$work/report" --quiet > /dev/null
            r="$work/report/report.json"
            echo "$(metric "$r" auc_roc) $(metric "$r" average_precision) $(metric "$r" card_precision_at_100)" \
                >> "$work/values"
            echo "  $architecture $heads seed $seed: $(tail -1 "$work/values")" >&2
        done
        awk -v a="$architecture" -v h="$heads" '
            { for (i = 1; i <= 3; i++) { s[i] += $i; q[i] += $i * $i } n++ }
            END {
                printf "| %s | %s |", a, h
                for (i = 1; i <= 3; i++) {
                    m = s[i] / n; v = q[i] / n - m * m; if (v < 0) v = 0
                    printf " %.3f ± %.3f |", m, sqrt(v * n / (n > 1 ? n - 1 : 1))
                }
                printf "\n"
            }' "$work/values"
    done
done
