"""Markdown tables for docs/benchmarks.md from one run's files: the decode
baselines (decode_baselines.py JSON lines) and the issue's target ratios,
the server's figures (tinylm-bench JSON report) over the baselines'.

  python3 tools/bench/summarize.py bench.json baselines.jsonl [--model base]
      [--checkpoint DIR] [--batched bench.json] [--server_log server.log]

Ratios > 1 mean tinylm-server is faster. Per-token ratios compare the
server's median inter-token latency with a baseline's mean decode step;
throughput ratios compare output tokens/s, both including prefill.
"""
import argparse
import json
import math
import os
import re
import struct


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


def bf16_floor_us(checkpoint, batch, context):
    """Microseconds to read the weights once and `batch` rows' KV cache of
    `context` positions, in bfloat16, at the H200's ~4.3 TB/s copy rate:
    a decode step cannot be faster."""
    with open(os.path.join(checkpoint, "config.json")) as f:
        c = json.load(f)
    with open(os.path.join(checkpoint, "model.safetensors"), "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    elements = sum(math.prod(t["shape"]) for name, t in header.items()
                   if name != "__metadata__")
    head_size = c["n_embd"] // c["n_head"]
    kv = c["n_layer"] * 2 * c.get("n_query_groups", c["n_head"]) * head_size
    return (2 * elements + batch * context * kv * 2) / 4.3e12 * 1e6


def targets_table(report, rows, model, checkpoint=None, batched=None):
    """The decode issue's targets: batch 1 >= 3x the faster compiled loop
    per token, 64 streams >= 2x its batch-64 throughput, TTFT p50; and,
    with the checkpoint, each against the bytes-read floor."""
    c1 = server_run(report, model, 1)
    c64 = server_run(report, model, 64)
    itl1 = c1["itl_ms"]["p50"] if c1 else None
    tps64 = c64["output_tokens_per_s"] if c64 else None
    ttft1 = c1["ttft_ms"]["p50"] if c1 else None

    def base(impl, batch, key):
        r = rows.get((impl, batch))
        return r[key] if r else None

    def best_compile(batch, key, smaller):
        found = [(base(i, batch, key), i) for i in ("compile", "compile_plain")
                 if base(i, batch, key) is not None]
        if not found:
            return None, "compile"
        return (min if smaller else max)(found)

    compile1, impl1 = best_compile(1, "per_token_ms", smaller=True)
    compile64, impl64 = best_compile(64, "decode_tokens_per_s", smaller=False)
    lines = ["| target | measured | goal |", "|---|---:|---:|"]
    lines.append(f"| batch 1: {impl1} ms/token over tinylm ITL p50 "
                 f"({fmt(compile1, '.3f')} / {fmt(itl1, '.3f')}) | "
                 f"{fmt(ratio(compile1, itl1), '.2f')}× | ≥ 3× |")
    lines.append(f"| 64 streams: tinylm tokens/s over {impl64} at batch 64 "
                 f"({fmt(tps64, '.0f')} / {fmt(compile64, '.0f')}) | "
                 f"{fmt(ratio(tps64, compile64), '.2f')}× | ≥ 2× |")
    if batched is not None:
        b64 = server_run(batched, model, 64)
        tps = b64["output_tokens_per_s"] if b64 else None
        per = b64.get("tokens_per_message") if b64 else None
        lines.append(f"| 64 streams, several tokens a message "
                     f"({fmt(per, '.2f')} per message): over {impl64} "
                     f"({fmt(tps, '.0f')} / {fmt(compile64, '.0f')}) | "
                     f"{fmt(ratio(tps, compile64), '.2f')}× | ≥ 2× |")
    lines.append(f"| TTFT p50 at concurrency 1 | {fmt(ttft1, '.2f')} ms | "
                 "≤ 2 ms shipped, ≤ 5 ms article |")
    if checkpoint:
        settings = report["meta"]["settings"]
        prompt = settings["prompt_tokens"]
        context = prompt + settings["max_new_tokens"] // 2
        f1 = bf16_floor_us(checkpoint, 1, context)
        f64 = bf16_floor_us(checkpoint, 64, context)
        lines.append(f"| floor, batch 1 ({context} positions): "
                     f"{f1:.1f} µs/token; ITL p50 over it | "
                     f"{fmt(ratio(itl1 and itl1 * 1e3, f1), '.1f')}× | |")
        lines.append(f"| floor, 64 rows: {f64:.1f} µs/step = "
                     f"{64e6 / f64:,.0f} tokens/s; over 64-stream tokens/s | "
                     f"{fmt(ratio(64e6 / f64, tps64), '.1f')}× | |")
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


ACTIVITIES = ("launch", "wait", "step", "tokens")


def scheduler_time(log_text, model):
    """The model's scheduler time by activity (seconds) from the line the
    server prints when it stops, or None."""
    m = re.search(
        rf"tinylm-server: {re.escape(model)} scheduler time: "
        + ", ".join(rf"{a} ([0-9.]+) s" for a in ACTIVITIES), log_text)
    return dict(zip(ACTIVITIES, map(float, m.groups()))) if m else None


def scheduler_table(times):
    busy = sum(times.values())
    head = "| " + " | ".join(f"{a} s" for a in ACTIVITIES) + " | wait share |"
    row = ("| " + " | ".join(f"{times[a]:.2f}" for a in ACTIVITIES) +
           f" | {times['wait'] / busy:.0%} |" if busy else "| n/a |")
    return "\n".join([head, "|" + "---:|" * (len(ACTIVITIES) + 1), row])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("report")
    ap.add_argument("baselines")
    ap.add_argument("--model", default="base")
    ap.add_argument("--checkpoint", default="",
                    help="the served checkpoint: adds the bytes-read floor")
    ap.add_argument("--batched", default="",
                    help="a report of the fused step with several tokens a "
                         "message (serve_bench.sh's SIZE-batched)")
    ap.add_argument("--server_log", default="",
                    help="a server log whose scheduler time to show (the "
                         "line the server prints when it stops)")
    args = ap.parse_args()
    with open(args.report) as f:
        report = json.load(f)
    batched = None
    if args.batched:
        with open(args.batched) as f:
            batched = json.load(f)
    rows, checks = load_baselines(args.baselines, args.model)
    print(f"### Baselines ({args.model})\n")
    print(baselines_table(rows))
    print(f"\n### Targets ({args.model})\n")
    print(targets_table(report, rows, args.model, args.checkpoint, batched))
    if args.server_log:
        with open(args.server_log) as f:
            times = scheduler_time(f.read(), args.model)
        if times:
            print(f"\n### Scheduler thread ({args.server_log})\n")
            print(scheduler_table(times))
    print("\n### Checks\n")
    print(checks_text(checks))


if __name__ == "__main__":
    main()
