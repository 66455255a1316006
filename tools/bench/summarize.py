"""Markdown tables for docs/benchmarks.md from one run's files: the decode
baselines (decode_baselines.py JSON lines) and the issue's target ratios,
the server's figures (tinylm-bench JSON report) over the baselines'.

  python3 tools/bench/summarize.py bench.json baselines.jsonl [--model base]

Ratios > 1 mean tinylm-server is faster. Per-token ratios compare the
server's median inter-token latency with a baseline's mean decode step;
throughput ratios compare output tokens/s, both including prefill.
"""
import argparse
import json


def load_baselines(path, model):
    rows = {}
    checks = []
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r.get("kind") == "measurement" and r["model"] == model:
                rows[(r["impl"], r["batch"])] = r
            elif r.get("kind") in ("check", "skipped"):
                checks.append(r)
    return rows, checks


def server_run(report, model, concurrency):
    for r in report["results"]:
        if r["model"] == model and r["concurrency"] == concurrency:
            return r
    return None


def fmt(value, spec):
    return "–" if value is None else format(value, spec)


def baselines_table(rows):
    out = ["| implementation | batch | TTFT (prefill) ms | per-token ms | "
           "output tokens/s |", "|---|---:|---:|---:|---:|"]
    for (impl, batch), r in sorted(rows.items(), key=lambda kv: (kv[0][1],
                                                                 kv[0][0])):
        out.append(f"| {impl} | {batch} | {r['ttft_ms']:.2f} | "
                   f"{r['per_token_ms']:.3f} | {r['tokens_per_s']:.0f} |")
    return "\n".join(out)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def targets_table(report, rows, model):
    c1 = server_run(report, model, 1)
    c64 = server_run(report, model, 64)
    itl1 = c1["itl_ms"]["p50"] if c1 else None
    tps1 = c1["output_tokens_per_s"] if c1 else None
    tps64 = c64["output_tokens_per_s"] if c64 else None
    ttft1 = c1["ttft_ms"]["p50"] if c1 else None

    def base(impl, batch, key):
        r = rows.get((impl, batch))
        return r[key] if r else None

    lines = ["| target | measured | goal |", "|---|---:|---:|"]
    for impl, goal in (("hf", 15.0), ("graph", 1.0), ("compile", None)):
        per_tok = ratio(base(impl, 1, "per_token_ms"), itl1)
        through = ratio(tps1, base(impl, 1, "tokens_per_s"))
        goal_text = f"≥ {goal:g}×" if goal else "(reported)"
        lines.append(f"| batch-1 decode vs {impl}: per-token latency | "
                     f"{fmt(per_tok, '.2f')}× | {goal_text} |")
        lines.append(f"| batch-1 vs {impl}: output tokens/s | "
                     f"{fmt(through, '.2f')}× | {goal_text} |")
    lines.append(f"| 64 streams vs graph at batch 64: output tokens/s | "
                 f"{fmt(ratio(tps64, base('graph', 64, 'tokens_per_s')), '.2f')}"
                 "× | ≥ 1× |")
    lines.append(f"| 64 streams vs compile at batch 64: output tokens/s | "
                 f"{fmt(ratio(tps64, base('compile', 64, 'tokens_per_s')), '.2f')}"
                 "× | (reported) |")
    lines.append(f"| TTFT p50 at concurrency 1 | {fmt(ttft1, '.2f')} ms | "
                 "≤ 5 ms |")
    return "\n".join(lines)


def checks_text(checks):
    """Logit checks and skips as a list, greedy agreement as a table."""
    out = []
    for c in checks:
        if c["kind"] == "skipped":
            out.append(f"- skipped {c['impl']}: {c['reason']}")
        elif c["check"] != "greedy_agreement":
            out.append(f"- {c['check']}: max |diff| {c['max_abs_diff']:.2e} "
                       f"(largest logit {c['max_abs_logit']:.1f}), "
                       f"{'ok' if c['ok'] else 'NOT OK'}")
    out += ["", "Greedy agreement on the first tokens (rows whose ids are "
            "identical; mean and least common prefix):", "",
            "| a | b | batch | rows identical | mean prefix | least prefix |",
            "|---|---|---:|---:|---:|---:|"]
    for c in checks:
        if c.get("check") == "greedy_agreement":
            out.append(f"| {c['a']} | {c['b']} | {c['batch']} | "
                       f"{c['rows_agreeing']}/{c['rows']} | "
                       f"{c['mean_common_prefix']:.1f} of {c['tokens']} | "
                       f"{c['min_common_prefix']} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("report")
    ap.add_argument("baselines")
    ap.add_argument("--model", default="base")
    args = ap.parse_args()
    with open(args.report) as f:
        report = json.load(f)
    rows, checks = load_baselines(args.baselines, args.model)
    print(f"### Baselines ({args.model})\n")
    print(baselines_table(rows))
    print(f"\n### Targets ({args.model})\n")
    print(targets_table(report, rows, args.model))
    print("\n### Checks\n")
    print(checks_text(checks))


if __name__ == "__main__":
    main()
