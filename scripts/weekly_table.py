#!/usr/bin/env python3
"""Weekly August table of the fraud head from the daemon's score records.

Usage: weekly_table.py DATA_FILE MODE=DIR [MODE=DIR ...]

DATA_FILE is the handbook's transactions-dev.jsonl.gz. Each DIR holds scores.jsonl (the
records of the daemon's scores topic, one JSON object a line, as kcat wrote them) and
optionally metrics.txt (the daemon's last /metrics). Written by scripts/replay-weekly.sh.

The metrics follow the handbook README, not Osprey's code: AUC-ROC with tied scores sharing
their mean rank, average precision as the sum over distinct thresholds of the recall gained
times the precision there, and card precision@100 per day (each card with its highest score
and whether it had a fraud that day; the 100 highest cards, minus cards found on the period's
earlier days; frauds among them over 100), averaged over the period's days. Only the first
score record of an event counts (after a crash the daemon may score an event twice).
"""

import gzip
import json
import sys

import numpy as np
import pandas as pd

PERIODS = [
    ("2018-08-01", "2018-08-07"),
    ("2018-08-08", "2018-08-14"),
    ("2018-08-15", "2018-08-21"),
    ("2018-08-22", "2018-08-28"),
    ("2018-08-29", "2018-08-31"),
    ("2018-08-02", "2018-08-31"),
]

# The book's offline results on its test week 2018-08-08..14 (trained on 2018-07-25..31,
# cards known as compromised before the week removed); see the data README and issue 4.
BOOK = [
    ("best neural network", 0.876, 0.675, 0.303),
    ("logistic regression", 0.871, 0.606, 0.291),
    ("random forest", 0.867, 0.658, 0.287),
]


def auc_roc(scores, labels):
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    positives = labels.sum()
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    return (ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)


def average_precision(scores, labels):
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    true_positives = np.cumsum(y)
    counted = np.arange(1, len(y) + 1)
    # The last row of each run of equal scores is where a threshold falls.
    last = np.r_[s[1:] != s[:-1], True]
    tp, n = true_positives[last], counted[last]
    if tp[-1] == 0:
        return float("nan")
    recall = tp / tp[-1]
    precision = tp / n
    gained = np.diff(np.r_[0.0, recall])
    return float((gained * precision).sum())


def card_precision(frame, k=100):
    found = set()
    daily = []
    for _, day in frame.groupby("day", sort=True):
        cards = day[~day["customer_id"].isin(found)].groupby("customer_id").agg(
            score=("score", "max"), fraud=("fraud", "max"))
        cards = cards.reset_index().sort_values(
            ["score", "customer_id"], ascending=[False, True]).head(k)
        caught = cards[cards["fraud"] == 1]["customer_id"]
        daily.append(len(caught) / k)
        found.update(caught)
    return float(np.mean(daily)) if daily else float("nan")


def book_test_set(truth):
    """The book's test week: 2018-08-08..14 without the cards known as compromised, that is
    with a fraud from 2018-07-25 (its training start) up to 8 days before the test day (the
    training week, then each day whose labels the 7-day delay has let through)."""
    days = pd.to_datetime(truth["day"])
    frauds = truth[truth["fraud"] == 1].assign(when=days[truth["fraud"] == 1])
    kept = []
    for offset in range(7):
        day = pd.Timestamp("2018-08-08") + pd.Timedelta(days=offset)
        known = frauds[(frauds["when"] >= "2018-07-25")
                       & (frauds["when"] <= day - pd.Timedelta(days=8))]["customer_id"]
        rows = truth[days == day]
        kept.append(rows[~rows["customer_id"].isin(set(known))])
    return pd.concat(kept)


def read_truth(path):
    rows = []
    with gzip.open(path, "rt") as handle:
        for line in handle:
            row = json.loads(line)
            rows.append((str(row["tx_id"]), row["ts"][:10], row["customer_id"], row["fraud"]))
    return pd.DataFrame(rows, columns=["event_id", "day", "customer_id", "fraud"])


def read_scores(path):
    first = {}
    with open(path) as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            record = json.loads(line)
            event = str(record["event_id"])
            if event not in first:
                first[event] = float(record["scores"]["fraud"])
    return pd.DataFrame({"event_id": list(first), "score": list(first.values())})


def read_metrics(path):
    values = {}
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith("#") or not line.strip():
                    continue
                series, _, value = line.rpartition(" ")
                # Counters with labels (rejections by reason) are summed over their series.
                name = series.partition("{")[0]
                values[name] = values.get(name, 0.0) + float(value)
    except FileNotFoundError:
        pass
    return values


def main(arguments):
    if len(arguments) < 2:
        sys.exit(__doc__)
    truth = read_truth(arguments[0])
    august = truth[truth["day"] >= "2018-08-01"]
    modes = []
    for argument in arguments[1:]:
        name, _, directory = argument.partition("=")
        scores = read_scores(f"{directory}/scores.jsonl")
        joined = august.merge(scores, on="event_id", how="left")
        missing = int(joined["score"].isna().sum())
        modes.append((name, joined.dropna(subset=["score"]), missing,
                      read_metrics(f"{directory}/metrics.txt"), len(scores)))

    header = "| period | transactions | frauds |"
    rule = "| --- | --- | --- |"
    for name, *_ in modes:
        header += f" {name}: AUC-ROC | AP | CP@100 |"
        rule += " --- | --- | --- |"
    print(header)
    print(rule)
    for first, last in PERIODS:
        period = august[(august["day"] >= first) & (august["day"] <= last)]
        label = f"{first[5:]}..{last[5:]}" + (" (last 30 days)" if first == "2018-08-02" else "")
        line = f"| {label} | {len(period):,} | {int(period['fraud'].sum())} |"
        for _, joined, *_ in modes:
            rows = joined[(joined["day"] >= first) & (joined["day"] <= last)]
            scores = rows["score"].to_numpy()
            labels = rows["fraud"].to_numpy()
            line += (f" {auc_roc(scores, labels):.3f} | {average_precision(scores, labels):.3f}"
                     f" | {card_precision(rows):.3f} |")
        print(line)
    line = f"| 08-08..08-14, the book's test set |"
    book_rows = book_test_set(truth)
    line += f" {len(book_rows):,} | {int(book_rows['fraud'].sum())} |"
    for _, joined, *_ in modes:
        rows = joined[joined["event_id"].isin(book_rows["event_id"])]
        scores = rows["score"].to_numpy()
        labels = rows["fraud"].to_numpy()
        line += (f" {auc_roc(scores, labels):.3f} | {average_precision(scores, labels):.3f}"
                 f" | {card_precision(rows):.3f} |")
    print(line)
    print()
    print("| the book, offline, test week 08-08..14 | AUC-ROC | AP | CP@100 |")
    print("| --- | --- | --- | --- |")
    for name, auc, ap, cp in BOOK:
        print(f"| {name} | {auc:.3f} | {ap:.3f} | {cp:.3f} |")
    print()
    for name, _, missing, metrics, records in modes:
        def metric(key):
            return int(metrics.get(key, 0))
        print(f"fine-tuning {name}: {records:,} score records, {missing} August transactions "
              f"without one; model version {metric('osprey_model_version')}, "
              f"{metric('osprey_training_runs_total')} training runs, "
              f"{metric('osprey_model_promotions_total')} promotions, "
              f"{metric('osprey_model_rejections_total')} rejections")


if __name__ == "__main__":
    main(sys.argv[1:])
