"""Training-speed baseline: a plain PyTorch (eager) training loop of the same
model, batch and optimizer settings as tinylm-train, on the same GPU.

  python3 tools/bench/train_pytorch.py --size small --variant base \
      --vocab 8000 --batch 128 --steps 40 --data DIR/train.bin

Prints one JSON line: tokens/s over the timed steps (after warm-up).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_model import Model, make_config  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="small")
    ap.add_argument("--variant", default="base")
    ap.add_argument("--vocab", type=int, default=8000)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--data", required=True, help="uint16 token file")
    args = ap.parse_args()

    torch.manual_seed(1337)
    device = torch.device("cuda")
    c = make_config(args.size, args.variant, args.vocab)
    model = Model(c, device).train()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=3e-3, betas=(0.9, 0.95), eps=1e-8)
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
            logits = model(x)
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
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    loss.item()
    elapsed = time.perf_counter() - t0
    print(json.dumps({
        "impl": "pytorch-eager", "size": args.size, "variant": args.variant,
        "params": sum(p.numel() for p in model.parameters()),
        "batch": args.batch, "block": T, "steps": args.steps,
        "tokens_per_s": args.steps * args.batch * T / elapsed,
        "torch": torch.__version__}))


if __name__ == "__main__":
    main()
