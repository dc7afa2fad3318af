#!/usr/bin/env python3
"""Independent oracle for the handbook's 15 baseline features.

Usage: handbook_features.py DATA.jsonl.gz DAYS OUT.csv

Reads the transactions of the first DAYS days (stopping early) and writes, per transaction in
file order, `tx_id` and the 15 inputs, following the definitions in the data README ("The
book's baseline features"):

* customer windows hold the customer's transactions with time in (t - n days, t] up to and
  including the current row (rows later in the file at the same second are not yet there);
* terminal windows hold the terminal's transactions with time in (t - (n + 7) days, t - 7 days],
  and the risk is the share of them with fraud = 1 (0 when there are none).

It works on integer seconds and integer cents with sorted-array searches, so that it shares no
code or method with the Swift implementation.
"""
import gzip
import json
import sys

import numpy as np
import pandas as pd

DAY = 86400
DELAY = 7 * DAY
WINDOWS = (1, 7, 30)


def read(path, days):
    rows = []
    end = None
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            day = record["ts"][:10]
            if end is None:
                end = (pd.Timestamp(day) + pd.Timedelta(days=days)).strftime("%Y-%m-%d")
            if day >= end:
                break
            rows.append((record["tx_id"], record["ts"], record["customer_id"],
                         record["terminal_id"], record["amount"], record["fraud"]))
    frame = pd.DataFrame(rows, columns=["tx_id", "ts", "customer", "terminal", "amount",
                                        "fraud"])
    frame["moment"] = pd.to_datetime(frame.ts, utc=True)
    frame["seconds"] = (frame.moment - pd.Timestamp("1970-01-01", tz="UTC")) // pd.Timedelta(
        seconds=1)
    frame["cents"] = (frame.amount * 100).round().astype("int64")
    return frame


def customer_features(frame, out):
    for rows in frame.groupby("customer", sort=False).indices.values():
        group = frame.iloc[rows]
        seconds = group.seconds.to_numpy()
        cents = np.concatenate([[0], np.cumsum(group.cents.to_numpy())])
        position = np.arange(len(rows))
        for n in WINDOWS:
            # First position whose time is > t - n days; the window runs to the current row.
            first = np.searchsorted(seconds, seconds - n * DAY, side="right")
            count = position - first + 1
            total = cents[position + 1] - cents[first]
            out[f"CUSTOMER_ID_NB_TX_{n}DAY_WINDOW"][rows] = count
            out[f"CUSTOMER_ID_AVG_AMOUNT_{n}DAY_WINDOW"][rows] = total / 100.0 / count


def terminal_features(frame, out):
    for rows in frame.groupby("terminal", sort=False).indices.values():
        group = frame.iloc[rows]
        seconds = group.seconds.to_numpy()
        frauds = np.concatenate([[0], np.cumsum(group.fraud.to_numpy())])
        upper = np.searchsorted(seconds, seconds - DELAY, side="right")
        for n in WINDOWS:
            lower = np.searchsorted(seconds, seconds - DELAY - n * DAY, side="right")
            count = upper - lower
            fraud = frauds[upper] - frauds[lower]
            risk = np.where(count > 0, fraud / np.maximum(count, 1), 0.0)
            out[f"TERMINAL_ID_NB_TX_{n}DAY_WINDOW"][rows] = count
            out[f"TERMINAL_ID_RISK_{n}DAY_WINDOW"][rows] = risk


def main():
    path, days, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    frame = read(path, days)
    size = len(frame)
    # Columns as plain numpy arrays, filled group by group, in the output's order.
    out = {"tx_id": frame.tx_id.to_numpy(), "TX_AMOUNT": frame.amount.to_numpy(),
           "TX_DURING_WEEKEND": (frame.moment.dt.day_of_week >= 5).astype(int).to_numpy(),
           "TX_DURING_NIGHT": (frame.moment.dt.hour <= 6).astype(int).to_numpy()}
    for n in WINDOWS:
        out[f"CUSTOMER_ID_NB_TX_{n}DAY_WINDOW"] = np.zeros(size, dtype=np.int64)
        out[f"CUSTOMER_ID_AVG_AMOUNT_{n}DAY_WINDOW"] = np.zeros(size)
    for n in WINDOWS:
        out[f"TERMINAL_ID_NB_TX_{n}DAY_WINDOW"] = np.zeros(size, dtype=np.int64)
        out[f"TERMINAL_ID_RISK_{n}DAY_WINDOW"] = np.zeros(size)
    customer_features(frame, out)
    terminal_features(frame, out)
    pd.DataFrame(out).to_csv(target, index=False, float_format="%.17g")


if __name__ == "__main__":
    main()
