"""The tinylm model written as a skilled PyTorch user would: the baseline that
tinylm's C++ trainer and server are measured against.

Same math and parameter names as models/model.h (all four attention
variants), nn.Linear layers, scaled_dot_product_attention, a static KV cache.
Only for benchmarks; the numerical cross-check lives in
tools/reference_forward.py. Runs on PyTorch 2.x (the GPU machine) and, for
smoke runs on CPU, on PyTorch 1.13 without the `safetensors` package.
"""
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F


class Config:
    def __init__(self, **kw):
        self.__dict__.update(kw)
        self.head_size = self.n_embd // self.n_head

    @staticmethod
    def load(checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "config.json")) as f:
            return Config(**{k: v for k, v in json.load(f).items()
                             if k not in ("training", "format_version")})


# The size presets of models/config.cc, for runs without a checkpoint.
SIZES = {
    "small": dict(n_embd=128, n_layer=10, n_head=1, n_query_groups=1,
                  intermediate_size=304, block_size=256),
    "article": dict(n_embd=768, n_layer=10, n_head=1, n_query_groups=1,
                    intermediate_size=1536, block_size=1024),
}
VARIANTS = {
    "base": (False, False, False, False),
    "qkv_gelu": (True, True, False, False),
    "separate_qkv": (True, True, True, False),
    "score_fcn": (True, True, True, True),
}


def make_config(size, variant, vocab_size):
    bias, act, sep, score = VARIANTS[variant]
    return Config(vocab_size=vocab_size, norm_eps=1e-5, rope_base=10000.0,
                  qkv_bias=bias, qkv_activation=act, separate_qkv=sep,
                  score_fcn=score, **SIZES[size])


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        x32 = x.float()
        y = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return (y * self.weight.float()).to(x.dtype)


# "sdpa": scaled_dot_product_attention where PyTorch has it (2.x);
# "plain": two matrix products around a softmax, written as nanoGPT does
# (for head size 768 SDPA has only its slower memory-efficient kernel).
ATTENTION = "sdpa"


def attend(q, k, v, attn_mask=None, is_causal=False):
    """Attention as ATTENTION says; the plain math on PyTorch 1.x. A bool
    mask is True where attending is allowed; a float mask is added to the
    scores."""
    if ATTENTION == "plain" and (torch.is_autocast_enabled() or
                                 q.dtype != torch.float32):
        # The way a PyTorch user writes it: bf16 products (under autocast,
        # or on a bf16 model), the softmax in float32 (autocast's choice).
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.size(-1)))
        T, L = scores.shape[-2:]
        if is_causal:
            attn_mask = torch.ones(T, L, dtype=torch.bool,
                                   device=q.device).tril(L - T)
        if attn_mask is not None and attn_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        elif attn_mask is not None:
            scores = scores + attn_mask
        return F.softmax(scores, dim=-1, dtype=torch.float32).to(v.dtype) @ v
    if ATTENTION == "sdpa" and hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask,
                                              is_causal=is_causal)
    scores = (q.float() @ k.float().transpose(-2, -1)) / math.sqrt(q.size(-1))
    if is_causal:
        T, L = scores.shape[-2:]
        attn_mask = torch.ones(T, L, dtype=torch.bool,
                               device=q.device).tril(L - T)
    if attn_mask is not None and attn_mask.dtype == torch.bool:
        scores = scores.masked_fill(~attn_mask, float("-inf"))
    elif attn_mask is not None:
        scores = scores + attn_mask.float()
    return (scores.softmax(-1) @ v.float()).to(q.dtype)


def rope_tables(c, device):
    theta = c.rope_base ** (-torch.arange(0, c.head_size, 2, dtype=torch.float64)
                            / c.head_size)
    angle = torch.outer(torch.arange(c.block_size, dtype=torch.float64), theta)
    full = torch.cat([angle, angle], -1)
    return full.cos().float().to(device), full.sin().float().to(device)


def apply_rope(x, cos, sin):
    half = x.size(-1) // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], -1)
    return (x.float() * cos + rotated.float() * sin).to(x.dtype)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        H, G, hs, C = c.n_head, c.n_query_groups, c.head_size, c.n_embd
        if c.separate_qkv:
            self.q = nn.Linear(C, H * hs, bias=c.qkv_bias)
            self.k = nn.Linear(C, G * hs, bias=c.qkv_bias)
            self.v = nn.Linear(C, G * hs, bias=c.qkv_bias)
        else:
            self.qkv = nn.Linear(C, (H + 2 * G) * hs, bias=c.qkv_bias)
        if c.score_fcn:
            self.score = nn.Linear(C, H * c.block_size, bias=True)
        self.proj = nn.Linear(H * hs, C, bias=False)

    def forward(self, a, cos, sin, mask, cache=None, pos=None):
        c = self.c
        B, T, _ = a.shape
        H, G, hs = c.n_head, c.n_query_groups, c.head_size
        act = F.gelu if c.qkv_activation else (lambda t: t)
        if c.separate_qkv:
            q, k, v = act(self.q(a)), act(self.k(a)), act(self.v(a))
        else:
            q, k, v = act(self.qkv(a)).split([H * hs, G * hs, G * hs], -1)
        q = apply_rope(q.view(B, T, H, hs).transpose(1, 2), cos, sin)
        k = apply_rope(k.view(B, T, G, hs).transpose(1, 2), cos, sin)
        v = v.view(B, T, G, hs).transpose(1, 2)
        if cache is not None:  # static cache [B, G, L, hs], written at pos
            kc, vc = cache
            kc.index_copy_(2, pos, k)
            vc.index_copy_(2, pos, v)
            k, v = kc, vc
        if G != H:
            k = k.repeat_interleave(H // G, 1)
            v = v.repeat_interleave(H // G, 1)
        L = k.size(2)
        if c.score_fcn:
            g = self.score(a).view(B, T, H, c.block_size).transpose(1, 2)[..., :L]
            bias = g.to(q.dtype).masked_fill(~mask, float("-inf"))
            y = attend(q, k, v, attn_mask=bias)
        elif cache is None:
            y = attend(q, k, v, is_causal=True)
        else:
            y = attend(q, k, v, attn_mask=mask)
        return self.proj(y.transpose(1, 2).reshape(B, T, H * hs))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm_1 = RMSNorm(c.n_embd, c.norm_eps)
        self.attn = Attention(c)
        self.norm_2 = RMSNorm(c.n_embd, c.norm_eps)
        self.mlp = nn.Module()
        self.mlp.fc_1 = nn.Linear(c.n_embd, c.intermediate_size, bias=False)
        self.mlp.fc_2 = nn.Linear(c.n_embd, c.intermediate_size, bias=False)
        self.mlp.proj = nn.Linear(c.intermediate_size, c.n_embd, bias=False)

    def forward(self, x, cos, sin, mask, cache=None, pos=None):
        x = x + self.attn(self.norm_1(x), cos, sin, mask, cache, pos)
        h = self.norm_2(x)
        return x + self.mlp.proj(F.silu(self.mlp.fc_1(h)) * self.mlp.fc_2(h))


class Model(nn.Module):
    def __init__(self, c, device):
        super().__init__()
        self.c = c
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)
        self.h = nn.ModuleList(Block(c) for _ in range(c.n_layer))
        self.ln_f = RMSNorm(c.n_embd, c.norm_eps)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.cos, self.sin = rope_tables(c, device)
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, 0.0, 0.02)
            elif name.endswith(".bias"):
                nn.init.zeros_(p)
        self.to(device)

    def forward(self, tokens, caches=None, pos=None):
        """tokens [B, T]. Without caches: causal over T (training).
        With caches (one (k, v) pair per layer): tokens sit at positions
        `pos` [T] (shared by the batch) and attend to cache positions <= pos."""
        B, T = tokens.shape
        if caches is None:
            pos = torch.arange(T, device=tokens.device)
            L = T
        else:
            L = caches[0][0].size(2)
        cos = self.cos[pos].view(1, 1, T, -1)
        sin = self.sin[pos].view(1, 1, T, -1)
        mask = (torch.arange(L, device=tokens.device).view(1, L)
                <= pos.view(T, 1)).view(1, 1, T, L)
        x = self.wte(tokens)
        for i, block in enumerate(self.h):
            x = block(x, cos, sin, mask, None if caches is None else caches[i], pos)
        return self.lm_head(self.ln_f(x))


def load_safetensors(path):
    """Reads our checkpoint's weights with the ecosystem's own reader, or,
    where the `safetensors` package is missing (Debian 12), with the small
    numpy reader of tools/reference_forward.py (values as float32)."""
    try:
        from safetensors.torch import load_file
    except ImportError:
        tools = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        import sys
        sys.path.insert(0, tools)
        from reference_forward import read_safetensors
        return {name: torch.from_numpy(value.astype("float32"))
                for name, value in read_safetensors(path).items()}
    return load_file(path)


def load_model(checkpoint_dir, device, dtype):
    c = Config.load(checkpoint_dir)
    model = Model(c, device)
    state = load_safetensors(os.path.join(checkpoint_dir, "model.safetensors"))
    missing, unexpected = model.load_state_dict(
        {k: v.float() for k, v in state.items()}, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    return model.to(dtype).eval(), c
