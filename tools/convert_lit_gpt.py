#!/usr/bin/python3
"""Converts a lit-gpt checkpoint (the article trained its four models with
Lightning-AI/lit-gpt) into a tinylm checkpoint directory that tinylm-server
serves and tinylm's tools read.

usage: convert_lit_gpt.py LIT_DIR OUT_DIR [--variant NAME] [--dtype DTYPE]
                          [--tokenizer PATH] [--rename FROM=TO ...]

  LIT_DIR      lit_model.pth (torch.save of the state dict, or of
               {"model": state_dict} as lit-gpt's pretraining saves it) and
               lit_config.json or model_config.yaml (lit-gpt's Config), and
               tokenizer.model unless --tokenizer names it
  OUT_DIR      written: config.json, model.safetensors, tokenizer.model
  --variant    base, qkv_gelu, separate_qkv or score_fcn; by default read
               from the weights (below), and checked against them if given
  --dtype      float32 or bfloat16 (default: bfloat16 if the weights are,
               else float32)
  --rename     rewrites a name part before mapping, e.g. attn.w_q=attn.q,
               for a modified lit-gpt that named its extra layers otherwise

The pickle is opened here with torch.load(weights_only=True), never by the
server. Needs Debian's torch (python3-torch); run with /usr/bin/python3.

Mapping (lit-gpt -> tinylm), per layer i:
  transformer.wte.weight                 wte.weight
  transformer.h.i.norm_1.weight          h.i.norm_1.weight      (RMSNorm)
  transformer.h.i.attn.attn.{weight,bias}  h.i.attn.qkv.*       (see below)
  transformer.h.i.attn.{q,k,v}.*         h.i.attn.{q,k,v}.*     (separate_qkv;
      also accepted: query/key/value, q_proj/k_proj/v_proj)
  transformer.h.i.attn.score.{weight,bias}  h.i.attn.score.*    (score_fcn)
  transformer.h.i.attn.proj.weight       h.i.attn.proj.weight
  transformer.h.i.norm_2.weight          h.i.norm_2.weight
  transformer.h.i.mlp.fc_1.weight        h.i.mlp.fc_1.weight    (SiLU input)
  transformer.h.i.mlp.fc_2.weight        h.i.mlp.fc_2.weight
  transformer.h.i.mlp.proj.weight        h.i.mlp.proj.weight
  transformer.ln_f.weight                ln_f.weight
  lm_head.weight                         lm_head.weight

The fused attn.attn layout differs. lit-gpt groups its rows by query group:
for each of the G groups, its q_per_kv = H/G query heads, then that group's
key head, then its value head, hs rows each:
    [q_0 .. q_{q_per_kv-1}, k, v] for group 0, then group 1, ...
tinylm's fused qkv is all queries, then all keys, then all values:
    [q heads 0..H-1 | k heads 0..G-1 | v heads 0..G-1]
so the rows are regrouped: view (G, q_per_kv + 2, hs, C), then queries
[:, :q_per_kv], keys [:, q_per_kv], values [:, q_per_kv + 1]. Query head
g * q_per_kv + j reads group g in both. With one head (the article's
models) the two layouts coincide. The bias is regrouped the same way.

The variant from the weights: a bias on q, k, v means the article's GELU
too (its model 1 adds both; the weights cannot show an activation); three
q, k, v linears mean separate_qkv; attn.score means score_fcn.
Refused, naming the key or tensor: a lit-gpt block tinylm does not compute
(parallel residual, partial rotary, condensed RoPE, LayerNorm, another MLP,
biases on attn.proj, the MLP or the head, mixture of experts). lit-gpt pads
the vocabulary (padded_vocab_size); rows past vocab_size belong to no
token and are dropped, so probabilities are over the real tokens.
"""

import argparse
import json
import os
import re
import shutil
import struct
import sys

import torch

VARIANTS = {  # qkv_bias, qkv_activation, separate_qkv, score_fcn (SPEC §2)
    "base": (False, False, False, False),
    "qkv_gelu": (True, True, False, False),
    "separate_qkv": (True, True, True, False),
    "score_fcn": (True, True, True, True),
}
SEPARATE_NAMES = [("q", "k", "v"), ("query", "key", "value"),
                  ("q_proj", "k_proj", "v_proj")]
FORMAT_VERSION = 1


class ConversionError(Exception):
    pass


def read_lit_config(lit_dir):
    for name in ("lit_config.json", "model_config.yaml"):
        path = os.path.join(lit_dir, name)
        if not os.path.exists(path):
            continue
        with open(path) as f:
            if name.endswith(".json"):
                return json.load(f), path
            import yaml  # Debian: python3-yaml
            return yaml.safe_load(f), path
    raise ConversionError(f"{lit_dir}: no lit_config.json or model_config.yaml")


def check_block(cfg, path):
    """Refuses lit-gpt options whose block tinylm does not compute."""
    def refuse(key, why):
        raise ConversionError(f"{path}: {key} = {json.dumps(cfg.get(key))}: "
                              f"{why}")
    wanted = {"parallel_residual": False, "rotary_percentage": 1.0,
              "rope_condense_ratio": 1, "shared_attention_norm": False,
              "lm_head_bias": False, "n_expert": 0}
    for key, value in wanted.items():
        if key in cfg and cfg[key] not in (value, None):
            refuse(key, f"tinylm's LLaMA-2 block needs {json.dumps(value)}")
    for key in ("norm_class_name", "_norm_class"):
        if cfg.get(key) not in (None, "RMSNorm"):
            refuse(key, "tinylm's norms are RMSNorm")
    for key in ("mlp_class_name", "_mlp_class"):
        if cfg.get(key) not in (None, "LLaMAMLP"):
            refuse(key, "tinylm's MLP is SwiGLU (LLaMAMLP)")


def load_state(lit_dir, renames):
    path = os.path.join(lit_dir, "lit_model.pth")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    out = {}
    for name, value in state.items():
        # torch.compile and FSDP wrappers prefix the names.
        name = re.sub(r"^(_orig_mod\.|_forward_module\.|module\.)+", "", name)
        for old, new in renames:
            name = name.replace(old, new)
        out[name] = value
    return out, path


def regroup(w, n_head, n_groups, hs):
    """lit-gpt's per-group [q.., k, v] rows -> tinylm's [q | k | v]."""
    q_per_kv = n_head // n_groups
    tail = w.shape[1:]
    g = w.reshape(n_groups, q_per_kv + 2, hs, *tail)
    return torch.cat([g[:, :q_per_kv].reshape(n_head * hs, *tail),
                      g[:, q_per_kv].reshape(n_groups * hs, *tail),
                      g[:, q_per_kv + 1].reshape(n_groups * hs, *tail)])


def convert(state, cfg, cfg_path, variant, vocab_size, weights_path):
    """(tinylm config, {tinylm name: tensor}) of the lit-gpt state dict."""
    C, L = cfg["n_embd"], cfg["n_layer"]
    H = cfg["n_head"]
    G = cfg.get("n_query_groups") or H
    hs = cfg.get("head_size") or C // H
    if hs * H != C:
        raise ConversionError(f"{cfg_path}: head_size = {hs}: tinylm's heads "
                              f"are n_embd / n_head = {C // H} wide")
    pending = dict(state)

    def take(name):
        if name not in pending:
            raise ConversionError(f"{weights_path}: no tensor '{name}'")
        return pending.pop(name)

    def has(name):
        return name in pending

    prefix = "transformer.h.0.attn."
    separate = next((s for s in SEPARATE_NAMES
                     if has(prefix + s[0] + ".weight")), None)
    if separate is None and not has(prefix + "attn.weight"):
        found = sorted(n[len(prefix):] for n in pending if n.startswith(prefix))
        raise ConversionError(
            f"{weights_path}: no q, k, v projection in layer 0 (attn.attn, "
            f"attn.q/k/v, attn.query/key/value or attn.q_proj/k_proj/v_proj); "
            f"it holds attn.{', attn.'.join(found)} (see --rename)")
    fused_bias = has(prefix + "attn.bias")
    bias = fused_bias or (separate is not None and
                          has(prefix + separate[0] + ".bias"))
    score = has(prefix + "score.weight")
    found = next((n for n, f in VARIANTS.items()
                  if f[0] == bias and f[2] == (separate is not None) and
                  f[3] == score), None)
    if found is None:
        raise ConversionError(
            f"{weights_path}: q/k/v bias {bias}, separate q/k/v "
            f"{separate is not None}, score {score}: not one of the article's "
            "variants; pass --variant after checking the names")
    if variant is not None and variant != found:
        raise ConversionError(f"{weights_path}: the weights are {found}, not "
                              f"--variant={variant}")
    qkv_bias, qkv_activation, separate_qkv, score_fcn = VARIANTS[found]
    out = {"wte.weight": take("transformer.wte.weight")[:vocab_size],
           "lm_head.weight": take("lm_head.weight")[:vocab_size],
           "ln_f.weight": take("transformer.ln_f.weight")}
    for i in range(L):
        lit, ours = f"transformer.h.{i}.", f"h.{i}."
        for part in ("norm_1", "norm_2"):
            out[ours + part + ".weight"] = take(lit + part + ".weight")
        for part in ("attn.proj", "mlp.fc_1", "mlp.fc_2", "mlp.proj"):
            out[ours + part + ".weight"] = take(lit + part + ".weight")
        kinds = ["weight", "bias"] if qkv_bias else ["weight"]
        for kind in kinds:
            if separate_qkv:
                for lit_name, our_name in zip(separate, "qkv"):
                    out[f"{ours}attn.{our_name}.{kind}"] = take(
                        f"{lit}attn.{lit_name}.{kind}")
            else:
                out[f"{ours}attn.qkv.{kind}"] = regroup(
                    take(f"{lit}attn.attn.{kind}"), H, G, hs)
        if score_fcn:
            for kind in ("weight", "bias"):
                out[f"{ours}attn.score.{kind}"] = take(
                    f"{lit}attn.score.{kind}")
    pending = {n: t for n, t in pending.items()
               if not n.endswith((".cos", ".sin", "mask_cache"))}
    if pending:
        raise ConversionError(
            f"{weights_path}: tensors tinylm's {found} has no place for: "
            f"{', '.join(sorted(pending)[:8])}"
            + (f" and {len(pending) - 8} more" if len(pending) > 8 else ""))
    config = {
        "format_version": FORMAT_VERSION, "variant": found,
        "vocab_size": vocab_size, "n_embd": C, "n_layer": L, "n_head": H,
        "n_query_groups": G, "intermediate_size": cfg["intermediate_size"],
        "block_size": cfg["block_size"],
        "norm_eps": float(cfg.get("norm_eps", 1e-5)),
        "rope_base": float(cfg.get("rope_base", 10000)),
        "qkv_bias": qkv_bias, "qkv_activation": qkv_activation,
        "separate_qkv": separate_qkv, "score_fcn": score_fcn,
    }
    return config, out


def write_safetensors(path, tensors):
    """The safetensors format: 8-byte header length, JSON header padded to
    8 bytes, then the tensors' little-endian bytes back to back."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        if t.dtype == torch.bfloat16:
            dtype, data = "BF16", t.view(torch.int16).numpy().tobytes()
        else:
            dtype, data = "F32", t.float().numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)


def main(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lit_dir")
    parser.add_argument("out_dir")
    parser.add_argument("--variant", choices=sorted(VARIANTS))
    parser.add_argument("--dtype", choices=["float32", "bfloat16"])
    parser.add_argument("--tokenizer")
    parser.add_argument("--rename", action="append", default=[],
                        metavar="FROM=TO")
    args = parser.parse_args(argv[1:])
    renames = [tuple(r.split("=", 1)) for r in args.rename]
    if any(len(r) != 2 for r in renames):
        parser.error("--rename takes FROM=TO")
    try:
        cfg, cfg_path = read_lit_config(args.lit_dir)
        check_block(cfg, cfg_path)
        state, weights_path = load_state(args.lit_dir, renames)
        for name in state:
            if name.endswith(".bias") and (".attn.proj." in name or
                                           ".mlp." in name or
                                           name.startswith("lm_head")):
                raise ConversionError(
                    f"{weights_path}: tensor '{name}': tinylm's projections "
                    f"other than q, k, v and the score have no bias "
                    f"(lit-gpt's bias = {json.dumps(cfg.get('bias'))})")
        vocab_size = cfg.get("vocab_size") or cfg["padded_vocab_size"]
        config, tensors = convert(state, cfg, cfg_path, args.variant,
                                  vocab_size, weights_path)
        tokenizer = args.tokenizer or os.path.join(args.lit_dir,
                                                   "tokenizer.model")
        if not os.path.isfile(tokenizer):
            raise ConversionError(f"{tokenizer}: no tokenizer.model "
                                  "(pass --tokenizer)")
    except ConversionError as e:
        print(f"convert_lit_gpt.py: {e}", file=sys.stderr)
        return 1
    stored = tensors["wte.weight"].dtype
    dtype = args.dtype or ("bfloat16" if stored == torch.bfloat16
                           else "float32")
    target = torch.bfloat16 if dtype == "bfloat16" else torch.float32
    tensors = {n: t.to(target) for n, t in tensors.items()}
    config["training"] = {"converted_from": "lit-gpt",
                          "source": os.path.abspath(args.lit_dir)}
    os.makedirs(args.out_dir, exist_ok=True)
    write_safetensors(os.path.join(args.out_dir, "model.safetensors"),
                      tensors)
    with open(os.path.join(args.out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    shutil.copyfile(tokenizer, os.path.join(args.out_dir, "tokenizer.model"))
    print(f"wrote {args.out_dir}: {config['variant']}, {config['n_layer']} "
          f"layers, {config['n_head']} heads, vocabulary {config['vocab_size']}"
          f", {dtype}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
