#!/usr/bin/env python3
"""Sums the kernel times of the last training step in an ncu CSV.

Input: `ncu --csv --print-units base --metrics gpu__time_duration.sum` of a
tinylm-train run (tools/gpu/train_profile.sh). A step ends with the AdamW
kernel; the last step is everything after the one before it. Prints a
Markdown table by kind of kernel and the 25 kernels that take longest.
  python3 tools/gpu/kernel_profile.py KERNELS_CSV
"""
import collections
import csv
import re
import sys

KINDS = [  # first match wins
    ("optimizer (AdamW, gradient norm)", r"AdamW|GradNorm|grad_norm"),
    ("attention softmax (kernels/)", r"Softmax|softmax"),
    ("cross-entropy (kernels/)", r"CrossEntropy|cross_entropy"),
    ("RMSNorm (kernels/)", r"RmsNorm|rms_norm|RMSNorm"),
    ("SwiGLU (kernels/)", r"SwiGlu|swiglu"),
    ("q, k, v RoPE (kernels/)", r"QkvPost|qkv_post|Rope|rope"),
    ("matrix products (cuBLAS)", r"gemm|Gemm|nvjet|sm90|cutlass|xmma|splitK"),
    ("reductions (LibTorch)", r"reduce|Reduce"),
    ("copies, casts, fills (LibTorch)", r"copy|Copy|fill|Fill|cast|elementwise|vectorized|unrolled"),
]


def kind(name):
    for label, pattern in KINDS:
        if re.search(pattern, name):
            return label
    return "other"


def main():
    lines = [l for l in open(sys.argv[1]) if l.startswith('"')]
    rows = list(csv.DictReader(lines))
    kernels = [(r["Kernel Name"], float(r["Metric Value"].replace(",", ""))) for r in rows
               if r.get("Metric Name") == "gpu__time_duration.sum"]
    ends = [i for i, (name, _) in enumerate(kernels) if "AdamW" in name]
    if len(ends) < 2:
        sys.exit("fewer than two AdamW kernels: no whole step to sum")
    step = kernels[ends[-2] + 1:ends[-1] + 1]
    total = sum(t for _, t in step)
    print("Last step: %d kernels, %.2f ms of kernel time.\n" % (len(step), total / 1e6))
    by_kind = collections.Counter()
    count_kind = collections.Counter()
    by_name = collections.Counter()
    count_name = collections.Counter()
    for name, t in step:
        by_kind[kind(name)] += t
        count_kind[kind(name)] += 1
        short = re.sub(r"\(.*", "", name)[:90]
        by_name[short] += t
        count_name[short] += 1
    print("| kind | kernels | ms | share |")
    print("| --- | ---: | ---: | ---: |")
    for label, t in by_kind.most_common():
        print("| %s | %d | %.3f | %.1f %% |" % (label, count_kind[label], t / 1e6, 100 * t / total))
    print("\n| kernel | count | ms | share |")
    print("| --- | ---: | ---: | ---: |")
    for name, t in by_name.most_common(25):
        print("| `%s` | %d | %.3f | %.1f %% |" % (name, count_name[name], t / 1e6, 100 * t / total))


if __name__ == "__main__":
    main()
