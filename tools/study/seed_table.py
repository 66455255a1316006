#!/usr/bin/env python3
"""Mean and spread over seeds of a study's loss and validation loss.

Reads the study.json of several `tinylm-train study` runs that differ only in
--seed and prints a markdown table per variant (mean ± sample standard
deviation, and the range), then each variant's difference from the first
variant paired by seed: a difference smaller than its own spread is not
shown by these runs.

    python3 tools/study/seed_table.py STUDY_DIR [STUDY_DIR ...]
"""
import json
import statistics
import sys
from collections import defaultdict


def mean_sd(values):
    sd = statistics.stdev(values) if len(values) > 1 else float("nan")
    return statistics.fmean(values), sd


def main(dirs):
    runs = defaultdict(dict)  # variant -> seed -> row
    order = []
    for d in dirs:
        with open(f"{d}/study.json") as f:
            for row in json.load(f):
                if row["variant"] not in order:
                    order.append(row["variant"])
                runs[row["variant"]][row["seed"]] = row
    seeds = sorted({s for by_seed in runs.values() for s in by_seed})
    print(f"Seeds {', '.join(map(str, seeds))}; mean ± standard deviation "
          "over seeds, range in brackets.\n")
    print("| variant | seeds | loss | val loss | training time (s) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for v in order:
        rows = list(runs[v].values())
        cells = []
        for key in ("loss", "val_loss"):
            values = [r[key] for r in rows]
            m, sd = mean_sd(values)
            cells.append(f"{m:.4f} ± {sd:.4f} [{min(values):.4f}, "
                         f"{max(values):.4f}]")
        t, t_sd = mean_sd([r["training_time_s"] for r in rows])
        print(f"| {v} | {len(rows)} | {cells[0]} | {cells[1]} | "
              f"{t:.1f} ± {t_sd:.1f} |")
    first = order[0]
    print(f"\nDifference from {first}, paired by seed (negative: lower "
          "than " + first + "):\n")
    print("| variant | Δ loss | Δ val loss |")
    print("| --- | ---: | ---: |")
    for v in order[1:]:
        common = sorted(set(runs[v]) & set(runs[first]))
        cells = []
        for key in ("loss", "val_loss"):
            diffs = [runs[v][s][key] - runs[first][s][key] for s in common]
            m, sd = mean_sd(diffs)
            cells.append(f"{m:+.4f} ± {sd:.4f}")
        print(f"| {v} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
