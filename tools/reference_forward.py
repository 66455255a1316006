#!/usr/bin/python3
"""An independent reference forward pass for tinylm checkpoints.

Reads a checkpoint directory (config.json and model.safetensors) with its
own small safetensors reader and computes the logits of one token sequence
in float64 with numpy, written from the model's description (SPEC section 2:
LLaMA-2 blocks, RMSNorm, rotate-half RoPE, SwiGLU, and the four attention
variants as flags), not translated from the C++ code. The C++ model is
checked against it by the reference_crosscheck test; the functions below
main's (logit lens, token scores, attention statistics, interventions) are
imported by tests/interop_test.py to check the server's answers.

usage: reference_forward.py CHECKPOINT_DIR TOKENS_FILE OUT_FILE
  TOKENS_FILE  token ids separated by white space (one sequence)
  OUT_FILE     logits [T, vocab_size] written as raw little-endian float32

Needs only numpy (Debian: python3-numpy); run with /usr/bin/python3.
"""

import json
import math
import os
import struct
import sys

import numpy as np

# safetensors dtype names -> how to turn their bytes into float32/64.
_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2"}


def read_safetensors(path):
    """Returns {name: float64 array} from a .safetensors file.

    Layout: 8-byte little-endian header length N, N bytes of JSON mapping each
    tensor name to dtype, shape and [begin, end) byte offsets into the data
    that follows the header.
    """
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: shorter than the 8-byte header length")
    (header_len,) = struct.unpack("<Q", blob[:8])
    if 8 + header_len > len(blob):
        raise ValueError(f"{path}: header length {header_len} past the end")
    header = json.loads(blob[8:8 + header_len].decode("utf-8"))
    data = blob[8 + header_len:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        if not 0 <= begin <= end <= len(data):
            raise ValueError(f"{path}: {name}: offsets outside the data")
        raw = data[begin:end]
        shape = [int(d) for d in info["shape"]]
        dtype = info["dtype"]
        if dtype == "BF16":
            # bfloat16 is the upper half of a float32.
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            values = bits.view(np.float32)
        elif dtype in _DTYPES:
            values = np.frombuffer(raw, dtype=_DTYPES[dtype])
        else:
            raise ValueError(f"{path}: {name}: unsupported dtype {dtype}")
        if values.size != math.prod(shape):
            raise ValueError(f"{path}: {name}: {values.size} values for "
                             f"shape {shape}")
        tensors[name] = values.astype(np.float64).reshape(shape)
    return tensors


def expected_shapes(cfg):
    """Every tensor the config implies, with its shape."""
    C, V, I = cfg["n_embd"], cfg["vocab_size"], cfg["intermediate_size"]
    H, G = cfg["n_head"], cfg["n_query_groups"]
    hs = C // H
    shapes = {"wte.weight": [V, C], "ln_f.weight": [C],
              "lm_head.weight": [V, C]}
    for i in range(cfg["n_layer"]):
        p = f"h.{i}."
        shapes[p + "norm_1.weight"] = [C]
        shapes[p + "norm_2.weight"] = [C]
        if cfg["separate_qkv"]:
            widths = {"q": H * hs, "k": G * hs, "v": G * hs}
        else:
            widths = {"qkv": (H + 2 * G) * hs}
        for lin, width in widths.items():
            shapes[p + f"attn.{lin}.weight"] = [width, C]
            if cfg["qkv_bias"]:
                shapes[p + f"attn.{lin}.bias"] = [width]
        if cfg["score_fcn"]:
            shapes[p + "attn.score.weight"] = [H * cfg["block_size"], C]
            shapes[p + "attn.score.bias"] = [H * cfg["block_size"]]
        shapes[p + "attn.proj.weight"] = [C, H * hs]
        shapes[p + "mlp.fc_1.weight"] = [I, C]
        shapes[p + "mlp.fc_2.weight"] = [I, C]
        shapes[p + "mlp.proj.weight"] = [C, I]
    return shapes


def rms_norm(x, weight, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


_erf = np.vectorize(math.erf)


def gelu(x):  # the exact (erf) form
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def silu(x):
    return x / (1.0 + np.exp(-x))


def rotary(x, base):
    """x [T, heads, hs] at positions 0..T-1; pairs (i, i + hs/2) rotate by
    position * base^(-2i/hs)."""
    T, _, hs = x.shape
    half = hs // 2
    freq = base ** (-2.0 * np.arange(half) / hs)
    angle = np.arange(T)[:, None] * freq[None, :]  # [T, half]
    cos, sin = np.cos(angle)[:, None, :], np.sin(angle)[:, None, :]
    first, second = x[..., :half], x[..., half:]
    return np.concatenate([first * cos - second * sin,
                           second * cos + first * sin], axis=-1)


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _keep(site, layer, value):
    return value


def attention(cfg, w, p, a, layer, edit=_keep):
    """Causal self-attention of one layer; a [T, C] is the normed input.

    Returns the output [T, C] and the weights [H, T, T] that multiplied v.
    `edit(site, layer, value)` may replace the weights ("pattern") and the
    heads' outputs [T, H, hs] before the projection ("head_outputs").
    """
    T = a.shape[0]
    H, G = cfg["n_head"], cfg["n_query_groups"]
    hs = cfg["n_embd"] // H

    def project(name):
        y = a @ w[p + name + ".weight"].T
        if cfg["qkv_bias"]:
            y = y + w[p + name + ".bias"]
        return gelu(y) if cfg["qkv_activation"] else y

    if cfg["separate_qkv"]:
        q, k, v = project("q"), project("k"), project("v")
    else:
        q, k, v = np.split(project("qkv"), [H * hs, (H + G) * hs], axis=-1)
    q = rotary(q.reshape(T, H, hs), cfg["rope_base"])
    k = rotary(k.reshape(T, G, hs), cfg["rope_base"])
    v = v.reshape(T, G, hs)
    if cfg["score_fcn"]:
        # g[i, h, j]: learned additive score of query i for key position j.
        g = (a @ w[p + "score.weight"].T + w[p + "score.bias"]).reshape(
            T, H, cfg["block_size"])
    causal = np.tril(np.ones((T, T), dtype=bool))
    probs = np.zeros((H, T, T))
    for h in range(H):
        kv = h // (H // G)  # the group this query head reads
        score = q[:, h, :] @ k[:, kv, :].T / math.sqrt(hs)
        if cfg["score_fcn"]:
            score = score + g[:, h, :T]
        probs[h] = softmax(np.where(causal, score, -np.inf))
    probs = edit("pattern", layer, probs)
    out = np.zeros((T, H, hs))
    for h in range(H):
        out[:, h, :] = probs[h] @ v[:, h // (H // G), :]
    out = edit("head_outputs", layer, out)
    return out.reshape(T, H * hs) @ w[p + "proj.weight"].T, probs


def unembed(cfg, w, x):
    """The final norm and the LM head: x [..., C] -> logits [..., V]."""
    return rms_norm(x, w["ln_f.weight"], cfg["norm_eps"]) @ w["lm_head.weight"].T


def forward(cfg, w, tokens, edit=_keep, trace=None):
    """Logits [T, V] of `tokens`.

    `edit(site, layer, value)` sees, and may replace, the activations at
    "residual" (after the embeddings, layer -1, and after each block),
    "attention_output" and "mlp_output" (before their residual adds), and
    in attention "pattern" and "head_outputs". With a dict `trace`, its
    "residual" gets the n_layer + 1 residual streams [T, C] and "attention"
    the n_layer weight tensors [H, T, T].
    """
    eps = cfg["norm_eps"]
    x = edit("residual", -1, w["wte.weight"][tokens])  # [T, C]
    residuals, maps = [x], []
    for i in range(cfg["n_layer"]):
        p = f"h.{i}."
        y, probs = attention(cfg, w, p + "attn.",
                             rms_norm(x, w[p + "norm_1.weight"], eps), i, edit)
        x = x + edit("attention_output", i, y)
        m = rms_norm(x, w[p + "norm_2.weight"], eps)
        hidden = silu(m @ w[p + "mlp.fc_1.weight"].T) * (
            m @ w[p + "mlp.fc_2.weight"].T)
        x = x + edit("mlp_output", i, hidden @ w[p + "mlp.proj.weight"].T)
        x = edit("residual", i, x)
        residuals.append(x)
        maps.append(probs)
    if trace is not None:
        trace["residual"], trace["attention"] = residuals, maps
    return unembed(cfg, w, x)


# ---- Inspection: what tinylm-server's LogitLens, Score, attention
# statistics and interventions compute, recomputed from the description.

def logit_lens(cfg, w, tokens):
    """Log-probabilities [n_layer + 1, T, V]: every residual stream (the
    embeddings first) through the final norm and the head."""
    trace = {}
    forward(cfg, w, tokens, trace=trace)
    return log_softmax(unembed(cfg, w, np.stack(trace["residual"])))


def token_logprobs(logits, tokens):
    """log p(tokens[t] | tokens[:t]) for t = 1..T-1."""
    lp = log_softmax(logits)
    return np.array([lp[t - 1, tokens[t]] for t in range(1, len(tokens))])


def attention_stats(maps):
    """Per layer and head, means over the query rows i of p = maps[l][h]:
    (entropy, mass on key 0, sum_j p[i, j] (i - j), mass on key i)."""
    out = []
    for probs in maps:
        T = probs.shape[-1]
        distance = np.maximum(np.arange(T)[:, None] - np.arange(T)[None, :], 0)
        for p in probs:
            logs = np.log(np.where(p > 0, p, 1.0))
            out.append(((-(p * logs).sum(-1)).mean(), p[:, 0].mean(),
                        (p * distance).sum(-1).mean(), np.diag(p).mean()))
    return out


def kl(p_logits, q_logits):
    """KL(softmax(p) || softmax(q)) along the last axis."""
    lp, lq = log_softmax(p_logits), log_softmax(q_logits)
    return (np.exp(lp) * (lp - lq)).sum(-1)


def intervention_edit(cfg, w, specs):
    """An `edit` for forward() applying interventions, each a dict:
    {"site": "head_outputs" | "attention_output" | "mlp_output" (ablations,
    "mode": "zero" | "mean") or "residual" | "pattern" (patches, "source":
    token ids), "layer", optional "heads" and "positions"}. Patches record
    their source's activation first."""
    recorded = []
    for spec in specs:
        if "source" not in spec:
            recorded.append(None)
            continue
        seen = {}

        def record(site, layer, value, spec=spec, seen=seen):
            if site == spec["site"] and layer == spec["layer"]:
                seen["value"] = value.copy()
            return value
        forward(cfg, w, np.array(spec["source"]), edit=record)
        recorded.append(seen["value"])

    def edit(site, layer, value):
        for spec, source in zip(specs, recorded):
            if spec["site"] != site or spec["layer"] != layer:
                continue
            value = value.copy()
            heads = spec.get("heads") or range(cfg["n_head"])
            if source is None:  # ablation
                if site == "head_outputs":  # [T, H, hs]
                    for h in heads:
                        value[:, h] = (value[:, h].mean(0) if spec["mode"] ==
                                       "mean" else 0.0)
                else:
                    value[:] = (value.mean(0) if spec["mode"] == "mean"
                                else 0.0)
                continue
            S = source.shape[-1] if site == "pattern" else source.shape[0]
            positions = [t for t in (spec.get("positions") or range(S))
                         if t < min(S, value.shape[-2 if site == "pattern"
                                                    else 0])]
            for t in positions:
                if site == "residual":
                    value[t] = source[t]
                else:  # pattern [H, T, T]: query row t over keys 0..S-1
                    for h in heads:
                        value[h, t, :S] = source[h, t, :S]
        return value
    return edit


def load(ckpt):
    """(config, {name: float64 array}) of a checkpoint directory, checked
    against the tensors the config implies."""
    with open(os.path.join(ckpt, "config.json")) as f:
        cfg = json.load(f)
    weights = read_safetensors(os.path.join(ckpt, "model.safetensors"))
    want = expected_shapes(cfg)
    if set(weights) != set(want):
        raise ValueError("tensor names differ from the config's: missing "
                         f"{sorted(set(want) - set(weights))}, extra "
                         f"{sorted(set(weights) - set(want))}")
    for name, shape in want.items():
        if list(weights[name].shape) != shape:
            raise ValueError(f"{name}: shape {list(weights[name].shape)}, "
                             f"expected {shape}")
    return cfg, weights


def main(argv):
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    ckpt, tokens_path, out_path = argv[1:]
    cfg, weights = load(ckpt)
    with open(tokens_path) as f:
        tokens = np.array([int(t) for t in f.read().split()], dtype=np.int64)
    if tokens.size == 0 or tokens.size > cfg["block_size"]:
        raise ValueError(f"{tokens_path}: {tokens.size} tokens")
    if tokens.min() < 0 or tokens.max() >= cfg["vocab_size"]:
        raise ValueError(f"{tokens_path}: token id out of range")
    logits = forward(cfg, weights, tokens)
    logits.astype("<f4").tofile(out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
