#!/usr/bin/env python3
"""Compares the loss curves of tools/gpu/train_curves.sh as a Markdown table.

For each variant and learning rate: the largest difference in training loss
between the fused and the reference path (same seed, same batches), beside
the largest difference between two seeds of the reference path, and the
final training and validation losses of every run.
  python3 tools/gpu/compare_curves.py METRICS_DIR
"""
import csv
import os
import sys


def load(directory, name):
    path = os.path.join(directory, name + ".csv")
    if not os.path.exists(path):
        return None
    return list(csv.DictReader(open(path)))


def max_gap(a, b, column="loss"):
    gaps = [abs(float(x[column]) - float(y[column])) for x, y in zip(a, b)
            if x[column] and y[column]]
    return max(gaps) if gaps else float("nan")


def last(rows, column):
    values = [float(r[column]) for r in rows if r[column]]
    return values[-1] if values else float("nan")


def main():
    directory = sys.argv[1]
    print("| variant | lr | max \\|fused − ref\\| | max \\|seed 1337 − 1338\\| (ref) "
          "| final loss ref / fused | final val loss ref / fused |")
    print("| --- | --- | ---: | ---: | --- | --- |")
    for variant in ("base", "score_fcn"):
        for lr in ("3e-3", "3e-4"):
            ref = load(directory, "ref_%s_1337_%s" % (variant, lr))
            fused = load(directory, "fused_%s_1337_%s" % (variant, lr))
            if not ref or not fused:
                print("| %s | %s | missing | | | |" % (variant, lr))
                continue
            other = load(directory, "ref_%s_1338_%s" % (variant, lr))
            other_fused = load(directory, "fused_%s_1338_%s" % (variant, lr))
            seeds = "%.4f" % max_gap(ref, other) if other else "-"
            gaps = "%.4f" % max_gap(ref, fused)
            if other and other_fused:
                gaps += " (seed 1338: %.4f)" % max_gap(other, other_fused)
            print("| %s | %s | %s | %s | %.4f / %.4f | %.4f / %.4f |" % (
                variant, lr, gaps, seeds, last(ref, "loss"),
                last(fused, "loss"), last(ref, "val_loss"),
                last(fused, "val_loss")))


if __name__ == "__main__":
    main()
