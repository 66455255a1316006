"""Greedy decoding baselines that tinylm-server is measured against, on the
same weights, prompts and lengths:

  hf              HuggingFace transformers generate() on the checkpoint
                  converted to a LlamaForCausalLM (base variant only)
  eager           a static-KV-cache decode loop (tools/bench/pytorch_model.py),
                  one eager forward per token
  graph           the same loop with its one-token step captured once in a
                  CUDA graph (torch.cuda.graph) and replayed; the graph also
                  advances the position and stores the token, so the host
                  only calls replay() and synchronizes once at the end
  graph_streamed  as graph, but every token is copied to the host as it is
                  made (what a server that streams tokens must at least do)
  compile         the same step under torch.compile(mode="reduce-overhead")
  compile_plain   as compile, with attention as two matrix products around
                  a softmax instead of SDPA (faster where SDPA's kernel for
                  the head size is slow)

For each implementation and batch size: time to first token (prefill and
the first greedy token, synchronized), per-token decode latency, and output
tokens/s (batch * new tokens / (prefill + decode)), as one JSON line per
measurement on stdout (and --out). Every implementation decodes exactly
--new_tokens tokens (end-of-sequence does not stop it). Then checks:
  - our PyTorch model's logits against tools/reference_forward.py (numpy,
    float64) and, when transformers is present, the converted Llama's logits
    against ours (float32, same device);
  - greedy agreement of the implementations on the first --agree_tokens
    tokens (and with the server's outputs when --prompts_from names a
    tinylm-bench JSON report that holds them).

Prompts: --prompts_from takes the token ids tinylm-bench used (its JSON
report), so both measure the very same prompts; otherwise the synthetic
ids of tools/bench/prompts.cc (SyntheticPromptId) are rebuilt here.

  python3 tools/bench/decode_baselines.py \\
      --checkpoint models/checkpoints/base --prompts_from results/bench.json \\
      --batch_sizes 1,8,32,64,128 --prompt_tokens 32 --new_tokens 128 \\
      --out results/baselines.jsonl

On CPU (no CUDA) only hf and eager run; graph, graph_streamed, compile and
compile_plain report themselves as skipped. Without transformers, hf is
skipped with a message.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import pytorch_model  # noqa: E402
from pytorch_model import load_model, load_safetensors  # noqa: E402

IMPLS = ("hf", "eager", "graph", "graph_streamed", "compile", "compile_plain")


def emit(record, out_file):
    line = json.dumps(record, sort_keys=True)
    print(line, flush=True)
    if out_file is not None:
        out_file.write(line + "\n")
        out_file.flush()


# ------------------------------------------------------------------ prompts

def synthetic_prompt_id(i, j, vocab_size):
    """tools/bench/prompts.cc SyntheticPromptId, the same formula."""
    return 3 + (i * 7919 + j * 104729) % (vocab_size - 3)


def load_prompts(args, vocab_size, model_name):
    """(prompts, server outputs by prompt index or None)."""
    if args.prompts_from:
        with open(args.prompts_from) as f:
            report = json.load(f)
        entry = report["models"].get(model_name)
        if entry is None:
            sys.exit(f"{args.prompts_from}: no model \"{model_name}\" "
                     f"(has {sorted(report['models'])}); see --model_name")
        prompts = entry["prompts"]
        outputs = {int(k): v for k, v in entry.get("outputs", {}).items()}
        lengths = {len(p) for p in prompts}
        if len(lengths) != 1:
            sys.exit(f"{args.prompts_from}: prompts of unequal lengths")
        return prompts, outputs
    prompts = [[synthetic_prompt_id(i, j, vocab_size)
                for j in range(args.prompt_tokens)]
               for i in range(args.num_prompts)]
    return prompts, None


def batch_of(prompts, batch, device):
    """[B, P] int64: prompt i % len(prompts) in row i (the bench's round
    robin)."""
    rows = [prompts[i % len(prompts)] for i in range(batch)]
    return torch.tensor(rows, dtype=torch.long, device=device)


# ------------------------------------------------------------------ timing

def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device):
    """(result, seconds) of fn(), synchronized before and after."""
    sync(device)
    start = time.perf_counter()
    result = fn()
    sync(device)
    return result, time.perf_counter() - start


# ------------------------------------------------------------------ HF

def llama_from_checkpoint(checkpoint, c, device):
    """Our base-variant checkpoint as a transformers LlamaForCausalLM
    (float32). Names: wte -> embed_tokens, h.i.norm_1 -> input_layernorm,
    attn.qkv rows [q | k | v] -> q_proj, k_proj, v_proj, attn.proj ->
    o_proj, norm_2 -> post_attention_layernorm, mlp.fc_1 (the SiLU input)
    -> gate_proj, mlp.fc_2 -> up_proj, mlp.proj -> down_proj, ln_f -> norm.
    RoPE needs no permutation: ours is rotate-half over the whole head with
    cos/sin tables [theta, theta], which is HF Llama's layout."""
    from transformers import LlamaConfig, LlamaForCausalLM
    for flag in ("qkv_bias", "qkv_activation", "separate_qkv", "score_fcn"):
        if getattr(c, flag):
            raise ValueError(f"{checkpoint}: {flag} is set; only the base "
                             "variant is a Llama")
    config = LlamaConfig(
        vocab_size=c.vocab_size, hidden_size=c.n_embd,
        intermediate_size=c.intermediate_size, num_hidden_layers=c.n_layer,
        num_attention_heads=c.n_head, num_key_value_heads=c.n_query_groups,
        head_dim=c.head_size, max_position_embeddings=c.block_size,
        rms_norm_eps=c.norm_eps, rope_theta=c.rope_base, hidden_act="silu",
        attention_bias=False, mlp_bias=False, tie_word_embeddings=False)
    # transformers 5 keeps the RoPE base in rope_parameters.
    if isinstance(getattr(config, "rope_parameters", None), dict):
        config.rope_parameters = {"rope_type": "default",
                                  "rope_theta": c.rope_base}
    state = {k: v.float() for k, v in load_safetensors(
        os.path.join(checkpoint, "model.safetensors")).items()}
    q_rows = c.n_head * c.head_size
    kv_rows = c.n_query_groups * c.head_size
    hf = {"model.embed_tokens.weight": state["wte.weight"],
          "model.norm.weight": state["ln_f.weight"],
          "lm_head.weight": state["lm_head.weight"]}
    for i in range(c.n_layer):
        ours, theirs = f"h.{i}.", f"model.layers.{i}."
        q, k, v = state[ours + "attn.qkv.weight"].split(
            [q_rows, kv_rows, kv_rows], 0)
        hf.update({
            theirs + "input_layernorm.weight": state[ours + "norm_1.weight"],
            theirs + "self_attn.q_proj.weight": q,
            theirs + "self_attn.k_proj.weight": k,
            theirs + "self_attn.v_proj.weight": v,
            theirs + "self_attn.o_proj.weight": state[ours + "attn.proj.weight"],
            theirs + "post_attention_layernorm.weight":
                state[ours + "norm_2.weight"],
            theirs + "mlp.gate_proj.weight": state[ours + "mlp.fc_1.weight"],
            theirs + "mlp.up_proj.weight": state[ours + "mlp.fc_2.weight"],
            theirs + "mlp.down_proj.weight": state[ours + "mlp.proj.weight"],
        })
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = None
    model.generation_config.bos_token_id = None
    model.generation_config.pad_token_id = 0
    missing, unexpected = model.load_state_dict(hf, strict=False)
    # Non-persistent buffers (rotary inv_freq) may be listed; weights not.
    missing = [m for m in missing if "rotary_emb" not in m]
    if missing or unexpected:
        raise ValueError(f"converter: missing {missing}, unexpected "
                         f"{unexpected}")
    return model.to(device).eval()


def hf_generate(hf, tokens, new_tokens):
    """[B, new_tokens] greedy ids. The converted model's generation config
    has no end-of-sequence id, so every row runs to new_tokens (as the
    static loops do) and no logits processor alters the argmax."""
    out = hf.generate(
        input_ids=tokens, attention_mask=torch.ones_like(tokens),
        max_new_tokens=new_tokens, do_sample=False)
    return out[:, tokens.size(1):]


# ------------------------------------------------------------------ static loop

class StaticDecoder:
    """A static KV cache for one batch size and the loop around our model:
    prefill fills positions [0, P), then each step writes one position."""

    def __init__(self, model, batch, device, dtype):
        c = model.c
        self.model = model
        self.batch = batch
        shape = (batch, c.n_query_groups, c.block_size, c.head_size)
        self.caches = [(torch.zeros(shape, device=device, dtype=dtype),
                        torch.zeros(shape, device=device, dtype=dtype))
                       for _ in range(c.n_layer)]
        self.positions = torch.arange(c.block_size, device=device)

    def prefill(self, tokens):
        """tokens [B, P] -> the first greedy token [B]."""
        P = tokens.size(1)
        logits = self.model(tokens, self.caches, self.positions[:P])
        return logits[:, -1].argmax(-1)

    def step(self, token, pos):
        """token [B, 1] at position pos [1] -> next greedy token [B]."""
        return self.model(token, self.caches, pos)[:, -1].argmax(-1)


def decode_eager(dec, tokens, new_tokens):
    P = tokens.size(1)
    out = torch.empty(dec.batch, new_tokens, dtype=torch.long,
                      device=tokens.device)
    out[:, 0] = dec.prefill(tokens)
    for i in range(1, new_tokens):
        out[:, i] = dec.step(out[:, i - 1:i], dec.positions[P + i - 1:P + i])
    return out


class GraphDecoder:
    """The decode step, the position increment and the store of the token
    captured once in a CUDA graph; a run is prefill + replays."""

    def __init__(self, dec, prompt_tokens, new_tokens):
        self.dec = dec
        device = dec.positions.device
        B = dec.batch
        self.token = torch.zeros(B, 1, dtype=torch.long, device=device)
        self.pos = torch.zeros(1, dtype=torch.long, device=device)
        self.index = torch.zeros(1, dtype=torch.long, device=device)
        self.out = torch.zeros(B, new_tokens, dtype=torch.long, device=device)
        self.prompt_tokens = prompt_tokens
        # Warm up on a side stream, as capture requires; it writes cache
        # position 0, which every prefill overwrites.
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                dec.step(self.token, self.pos)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            nxt = dec.step(self.token, self.pos).view(B, 1)
            self.out.index_copy_(1, self.index, nxt)
            self.token.copy_(nxt)
            self.pos.add_(1)
            self.index.add_(1)

    def run(self, tokens, new_tokens, streamed=False):
        first = self.dec.prefill(tokens)
        self.out[:, 0] = first
        self.token.copy_(first.view(-1, 1))
        self.pos.fill_(self.prompt_tokens)
        self.index.fill_(1)
        host = [first.cpu()] if streamed else None
        for _ in range(1, new_tokens):
            self.graph.replay()
            if streamed:
                host.append(self.token.view(-1).cpu())  # synchronizes
        return self.out


class _DecodeStep(torch.nn.Module):
    """One greedy decode step with the KV caches as buffers: torch.compile
    treats buffers as static inputs, so the CUDA graphs it records may
    update them in place."""

    def __init__(self, model, caches):
        super().__init__()
        self.model = model
        self.layers = len(caches)
        for i, (k, v) in enumerate(caches):
            self.register_buffer(f"k{i}", k, persistent=False)
            self.register_buffer(f"v{i}", v, persistent=False)

    def forward(self, token, pos):
        caches = [(getattr(self, f"k{i}"), getattr(self, f"v{i}"))
                  for i in range(self.layers)]
        return self.model(token, caches, pos)[:, -1].argmax(-1)


class CompiledDecoder:
    """The decode step under torch.compile(mode="reduce-overhead"): Inductor
    kernels replayed through CUDA graphs (cudagraph trees). The buffers are
    the StaticDecoder's own cache tensors, which its eager prefill fills."""

    def __init__(self, dec):
        self.dec = dec
        self.step = torch.compile(_DecodeStep(dec.model, dec.caches),
                                  mode="reduce-overhead", fullgraph=True)

    def run(self, tokens, new_tokens):
        P = tokens.size(1)
        dec = self.dec
        out = torch.empty(dec.batch, new_tokens, dtype=torch.long,
                          device=tokens.device)
        out[:, 0] = dec.prefill(tokens)
        for i in range(1, new_tokens):
            torch.compiler.cudagraph_mark_step_begin()
            out[:, i] = self.step(out[:, i - 1:i],
                                  dec.positions[P + i - 1:P + i])
        return out


# ------------------------------------------------------------------ measuring

def measure(prefill_fn, full_fn, device, repeats):
    """Runs prefill_fn (first token only) and full_fn (all tokens) once to
    warm up, then `repeats` times each; medians in seconds and the ids."""
    prefill_fn()
    ids = full_fn()
    ttft = [timed(prefill_fn, device)[1] for _ in range(repeats)]
    total = []
    for _ in range(repeats):
        ids, seconds = timed(full_fn, device)
        total.append(seconds)
    return statistics.median(ttft), statistics.median(total), ids


def skip_reason(impl, device):
    if impl in ("graph", "graph_streamed", "compile",
                "compile_plain") and device.type != "cuda":
        return "needs CUDA"
    if impl.startswith("compile") and not hasattr(torch, "compile"):
        return f"torch {torch.__version__} has no torch.compile"
    if impl == "hf":
        try:
            import transformers  # noqa: F401
        except ImportError:
            return ("transformers is not installed (Debian 12 has no "
                    "python3-transformers); the HF baseline runs where it is")
    return None


def run_impl(impl, model, hf, tokens, args, device, dtype):
    """(ttft_s, total_s, ids [B, N]) of one implementation at one batch."""
    B, N = tokens.size(0), args.new_tokens
    if impl == "hf":
        return measure(lambda: hf_generate(hf, tokens, 1),
                       lambda: hf_generate(hf, tokens, N), device,
                       args.repeats)
    dec = StaticDecoder(model, B, device, dtype)
    first = lambda: dec.prefill(tokens)  # noqa: E731
    if impl == "eager":
        full = lambda: decode_eager(dec, tokens, N)  # noqa: E731
    elif impl in ("graph", "graph_streamed"):
        graph = GraphDecoder(dec, tokens.size(1), N)
        streamed = impl == "graph_streamed"
        full = lambda: graph.run(tokens, N, streamed)  # noqa: E731
    else:
        # compile_plain: matmul-softmax-matmul attention instead of SDPA,
        # in the compiled step and the eager prefill.
        pytorch_model.ATTENTION = "plain" if impl == "compile_plain" else "sdpa"
        compiled = CompiledDecoder(dec)
        full = lambda: compiled.run(tokens, N)  # noqa: E731
    try:
        ttft, total, ids = measure(first, full, device, args.repeats)
    finally:
        pytorch_model.ATTENTION = "sdpa"
    return ttft, total, ids.clone()


# ------------------------------------------------------------------ checks

def check_reference(model, checkpoint, prompt, device, out_file):
    """Our PyTorch model (float32) against the numpy float64 reference."""
    import reference_forward
    with open(os.path.join(checkpoint, "config.json")) as f:
        cfg = json.load(f)
    weights = reference_forward.read_safetensors(
        os.path.join(checkpoint, "model.safetensors"))
    ref = reference_forward.forward(cfg, weights, np.array(prompt))
    with torch.no_grad():
        ours = model(torch.tensor([prompt], device=device))[0].cpu().numpy()
    diff = float(np.abs(ours - ref).max())
    emit({"kind": "check", "check": "pytorch_vs_reference_logits",
          "max_abs_diff": diff, "max_abs_logit": float(np.abs(ref).max()),
          "ok": diff < 1e-3}, out_file)


def check_hf_logits(model, hf, tokens, out_file):
    with torch.no_grad():
        ours = model(tokens).float()
        theirs = hf(input_ids=tokens).logits.float()
    diff = float((ours - theirs).abs().max())
    emit({"kind": "check", "check": "hf_vs_ours_logits_float32",
          "max_abs_diff": diff, "max_abs_logit": float(ours.abs().max()),
          "ok": diff < 1e-3}, out_file)
    return diff < 1e-3


def common_prefix(a, b):
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def agreement(name_a, rows_a, name_b, rows_b, n, batch, out_file):
    prefixes = [min(common_prefix(a[:n], b[:n]), n)
                for a, b in zip(rows_a, rows_b)]
    full = sum(1 for p, a, b in zip(prefixes, rows_a, rows_b)
               if p >= min(n, len(a), len(b)))
    emit({"kind": "check", "check": "greedy_agreement", "a": name_a,
          "b": name_b, "batch": batch, "tokens": n, "rows": len(prefixes),
          "rows_agreeing": full,
          "mean_common_prefix": statistics.mean(prefixes) if prefixes else 0,
          "min_common_prefix": min(prefixes) if prefixes else 0}, out_file)


# ------------------------------------------------------------------ main

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint",
                    default=os.path.join(os.path.dirname(os.path.dirname(HERE)),
                                         "models", "checkpoints", "base"))
    ap.add_argument("--model_name", default="",
                    help="the model's name in --prompts_from (default: the "
                         "checkpoint directory's name)")
    ap.add_argument("--device", default="",
                    help="cuda, cuda:N or cpu (default: cuda if available)")
    ap.add_argument("--dtype", default="",
                    help="bfloat16 or float32 (default: bfloat16 on CUDA, "
                         "float32 on CPU, as the server)")
    ap.add_argument("--impls", default=",".join(IMPLS))
    ap.add_argument("--batch_sizes", default="1,8,32,64,128")
    ap.add_argument("--prompt_tokens", type=int, default=32)
    ap.add_argument("--num_prompts", type=int, default=16)
    ap.add_argument("--new_tokens", type=int, default=128)
    ap.add_argument("--prompts_from", default="",
                    help="a tinylm-bench JSON report: use its prompt ids")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--agree_tokens", type=int, default=32)
    ap.add_argument("--out", default="", help="also append JSON lines here")
    return ap.parse_args()


def main():
    args = parse_args()
    device = torch.device(args.device or
                          ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = getattr(torch, args.dtype or
                    ("bfloat16" if device.type == "cuda" else "float32"))
    out_file = open(args.out, "a") if args.out else None
    torch.manual_seed(0)
    torch.set_grad_enabled(False)

    model32, c = load_model(args.checkpoint, device, torch.float32)
    name = args.model_name or os.path.basename(os.path.normpath(
        args.checkpoint))
    prompts, server_outputs = load_prompts(args, c.vocab_size, name)
    P = len(prompts[0])
    if P + args.new_tokens > c.block_size:
        sys.exit(f"prompt {P} + new tokens {args.new_tokens} exceed the "
                 f"context {c.block_size}")
    check_reference(model32, args.checkpoint, prompts[0], device, out_file)

    impls = [i for i in args.impls.split(",") if i]
    hf = None
    for impl in impls:
        reason = skip_reason(impl, device)
        if reason:
            emit({"kind": "skipped", "impl": impl, "reason": reason},
                 out_file)
    impls = [i for i in impls if not skip_reason(i, device)]
    if "hf" in impls:
        import transformers
        hf = llama_from_checkpoint(args.checkpoint, c, device)
        check_hf_logits(model32, hf, batch_of(prompts, 2, device), out_file)
        hf = hf.to(dtype)
    model = model32.to(dtype)

    meta = {"model": name, "device": str(device), "dtype": str(dtype)[6:],
            "torch": torch.__version__, "prompt_tokens": P,
            "new_tokens": args.new_tokens, "repeats": args.repeats}
    if hf is not None:
        meta["transformers"] = transformers.__version__
    if device.type == "cuda":
        meta["gpu"] = torch.cuda.get_device_name(device)
    for batch in [int(b) for b in args.batch_sizes.split(",") if b]:
        tokens = batch_of(prompts, batch, device)
        ids = {}
        for impl in impls:
            ttft, total, out = run_impl(impl, model, hf, tokens, args, device,
                                        dtype)
            ids[impl] = out.cpu().tolist()
            N = args.new_tokens
            emit(dict(meta, kind="measurement", impl=impl, batch=batch,
                      ttft_ms=ttft * 1e3,
                      per_token_ms=(total - ttft) / max(N - 1, 1) * 1e3,
                      total_ms=total * 1e3,
                      tokens_per_s=batch * N / total,
                      decode_tokens_per_s=batch * (N - 1) / max(
                          total - ttft, 1e-9)), out_file)
        names = list(ids)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                agreement(a, ids[a], b, ids[b], args.agree_tokens, batch,
                          out_file)
        # The server stops at end-of-sequence, so its rows may be shorter:
        # agreement is over the tokens both have.
        rows = [(server_outputs or {}).get(i % len(prompts))
                for i in range(batch)]
        for impl in names:
            pairs = [(r, s) for r, s in zip(ids[impl], rows) if s is not None]
            if pairs:
                agreement(impl, [p[0] for p in pairs], "server",
                          [p[1] for p in pairs], args.agree_tokens, batch,
                          out_file)
    if out_file is not None:
        out_file.close()


if __name__ == "__main__":
    main()
