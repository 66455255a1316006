"""Training-speed peers: the tinylm model trained as a PyTorch user would,
with the same shape, batch, optimizer settings and data as tinylm-train.

  python3 tools/bench/train_pytorch.py --size article --variant base \\
      --batch 16 --steps 30 --data DIR/train.bin \\
      [--compile] [--attention plain|sdpa] [--fused_adamw]

`--compile` wraps the model in torch.compile (Inductor, default mode);
`--attention plain` writes attention as two matrix products around a softmax
(nanoGPT's way), `sdpa` uses scaled_dot_product_attention; bf16 autocast,
float32 master weights, AdamW (betas 0.9/0.95, weight decay 0.1 on
matrices), gradient clipping at 1.0. Prints one JSON line: tokens/s over the
timed steps (after warm-up, compilation included in the warm-up), model
FLOP utilisation against --peak_tflops, peak memory.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pytorch_model  # noqa: E402
from pytorch_model import Model, make_config  # noqa: E402


def flops_per_token(c, params):
    """6 per parameter (the embedding's lookups excluded) and the attention
    products, 12·n_layer·n_head·head_size·T (PaLM's count, causality not
    subtracted)."""
    dense = params - c.vocab_size * c.n_embd  # wte is a lookup
    return 6 * dense + 12 * c.n_layer * c.n_head * c.head_size * c.block_size


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="small")
    ap.add_argument("--variant", default="base")
    ap.add_argument("--vocab", type=int, default=8000)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--attention", default="sdpa", choices=["sdpa", "plain"])
    ap.add_argument("--fused_adamw", action="store_true")
    ap.add_argument("--peak_tflops", type=float, default=790.0,
                    help="the GPU's bf16 matrix rate, for MFU")
    ap.add_argument("--data", required=True, help="uint16 token file")
    args = ap.parse_args()

    torch.manual_seed(1337)
    device = torch.device("cuda")
    pytorch_model.ATTENTION = args.attention
    c = make_config(args.size, args.variant, args.vocab)
    model = Model(c, device).train()
    params = sum(p.numel() for p in model.parameters())
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=3e-3, betas=(0.9, 0.95), eps=1e-8,
                            fused=args.fused_adamw or None)
    forward = torch.compile(model) if args.compile else model
    tokens = np.memmap(args.data, dtype=np.uint16, mode="r")
    rng = np.random.default_rng(0)
    T = c.block_size

    def batch():
        starts = rng.integers(0, len(tokens) - T - 1, args.batch)
        w = torch.from_numpy(np.stack([tokens[s:s + T + 1] for s in starts])
                             .astype(np.int64)).pin_memory()
        w = w.to(device, non_blocking=True)
        return w[:, :-1], w[:, 1:]

    def step():
        x, y = batch()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = forward(x)
        loss = torch.nn.functional.cross_entropy(
            logits.float().view(-1, c.vocab_size), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    for _ in range(args.warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    loss.item()
    elapsed = time.perf_counter() - t0
    tokens_per_s = args.steps * args.batch * T / elapsed
    mfu = tokens_per_s * flops_per_token(c, params) / (args.peak_tflops * 1e12)
    impl = "pytorch-%s-%s%s" % ("compile" if args.compile else "eager",
                                args.attention,
                                "-fused_adamw" if args.fused_adamw else "")
    print(json.dumps({
        "impl": impl, "size": args.size, "variant": args.variant,
        "params": params, "batch": args.batch, "block": T,
        "steps": args.steps, "tokens_per_s": tokens_per_s, "mfu": mfu,
        "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30,
        "loss": loss.item(), "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
