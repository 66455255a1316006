#!/usr/bin/python3
"""tools/convert_lit_gpt.py on lit-gpt checkpoints of every variant.

Each case writes a random lit-gpt checkpoint (lit_model.pth in lit-gpt's
names and fused layout, rows grouped per query group; lit_config.json with
a padded vocabulary), computes its logits with a float64 forward written
after lit-gpt's own model.py (the per-group q/k/v split, expand for
grouped queries, rotate-half RoPE, RMSNorm, LLaMAMLP) plus the article's
variants as SPEC §2 describes them, converts it, and compares tinylm's
logits of the converted checkpoint (logits_dump, the C++ loader) within
TOLERANCE. Then what the converter must refuse.

usage: lit_gpt_convert_test.py CONVERTER LOGITS_DUMP
Needs Debian's torch (python3-torch); run with /usr/bin/python3.
"""

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

try:
    import numpy as np
    import torch
except ImportError as e:
    print(f"{sys.executable}: {e} (python3-torch, python3-numpy)")
    sys.exit(77)

CONVERTER, LOGITS_DUMP = sys.argv[1:3]
TOLERANCE = 1e-4  # float32 (tinylm) against float64 (here)
VOCAB, PADDED = 60, 64
TOKENS = [5, 17, 3, 44, 59, 0, 21, 8, 33, 12, 50, 7]


def lit_config(n_head, n_groups):
    return {"name": "test", "block_size": 32, "vocab_size": VOCAB,
            "padded_vocab_size": PADDED, "n_layer": 2, "n_head": n_head,
            "n_embd": 32, "n_query_groups": n_groups, "head_size": 32 // n_head,
            "rotary_percentage": 1.0, "parallel_residual": False,
            "bias": False, "norm_class_name": "RMSNorm", "norm_eps": 1e-5,
            "mlp_class_name": "LLaMAMLP", "intermediate_size": 48,
            "rope_base": 10000}


def lit_state(cfg, variant, separate_names=("q", "k", "v"), seed=0):
    """Random weights under lit-gpt's names (the article's variants added
    where its modified lit-gpt would hold them)."""
    g = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64) * 0.3

    C, H, G = cfg["n_embd"], cfg["n_head"], cfg["n_query_groups"]
    hs, I, T = cfg["head_size"], cfg["intermediate_size"], cfg["block_size"]
    bias = variant != "base"
    s = {"transformer.wte.weight": rand(PADDED, C),
         "lm_head.weight": rand(PADDED, C),
         "transformer.ln_f.weight": 1 + rand(C)}
    for i in range(cfg["n_layer"]):
        p = f"transformer.h.{i}."
        s[p + "norm_1.weight"] = 1 + rand(C)
        s[p + "norm_2.weight"] = 1 + rand(C)
        if variant in ("base", "qkv_gelu"):
            s[p + "attn.attn.weight"] = rand((H + 2 * G) * hs, C)
            if bias:
                s[p + "attn.attn.bias"] = rand((H + 2 * G) * hs)
        else:
            for name, rows in zip(separate_names, (H * hs, G * hs, G * hs)):
                s[p + f"attn.{name}.weight"] = rand(rows, C)
                s[p + f"attn.{name}.bias"] = rand(rows)
        if variant == "score_fcn":
            s[p + "attn.score.weight"] = rand(H * T, C)
            s[p + "attn.score.bias"] = rand(H * T)
        s[p + "attn.proj.weight"] = rand(C, C)
        s[p + "mlp.fc_1.weight"] = rand(I, C)
        s[p + "mlp.fc_2.weight"] = rand(I, C)
        s[p + "mlp.proj.weight"] = rand(C, I)
    return s


def rms_norm(x, w, eps):  # lit_gpt.rmsnorm.RMSNorm
    return w * (x * torch.rsqrt(torch.mean(x * x, -1, keepdim=True) + eps))


def rope_cache(T, n_elem, base):  # lit_gpt.model.build_rope_cache
    theta = 1.0 / (base ** (torch.arange(0, n_elem, 2, dtype=torch.float64)
                            / n_elem))
    idx_theta = torch.outer(torch.arange(T, dtype=torch.float64),
                            theta).repeat(1, 2)
    return torch.cos(idx_theta), torch.sin(idx_theta)


def apply_rope(x, cos, sin):  # lit_gpt.model.apply_rope
    hs = x.size(-1)
    x1, x2 = x[..., :hs // 2], x[..., hs // 2:]
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


def lit_forward(s, cfg, variant, separate_names=("q", "k", "v")):
    """lit-gpt's GPT.forward with the article's attention variants."""
    C, H, G = cfg["n_embd"], cfg["n_head"], cfg["n_query_groups"]
    hs, eps = cfg["head_size"], cfg["norm_eps"]
    idx = torch.tensor([TOKENS])
    B, T = idx.shape
    act = torch.nn.functional.gelu if variant != "base" else (lambda y: y)
    cos, sin = rope_cache(T, hs, cfg["rope_base"])
    x = s["transformer.wte.weight"][idx]
    for i in range(cfg["n_layer"]):
        p = f"transformer.h.{i}."
        a = rms_norm(x, s[p + "norm_1.weight"], eps)
        q_per_kv = H // G
        if variant in ("base", "qkv_gelu"):
            qkv = a @ s[p + "attn.attn.weight"].T
            if variant != "base":
                qkv = qkv + s[p + "attn.attn.bias"]
            qkv = act(qkv)
            # CausalSelfAttention.forward: one group holds q_per_kv queries,
            # one key and one value.
            qkv = qkv.view(B, T, G, q_per_kv + 2, hs).permute(0, 2, 3, 1, 4)
            q, k, v = qkv.split((q_per_kv, 1, 1), dim=2)
            k = k.expand(B, G, q_per_kv, T, hs)
            v = v.expand(B, G, q_per_kv, T, hs)
            q, k, v = (t.reshape(B, -1, T, hs) for t in (q, k, v))
        else:
            def lin(name, heads):
                y = act(a @ s[p + f"attn.{name}.weight"].T +
                        s[p + f"attn.{name}.bias"])
                return y.view(B, T, heads, hs).transpose(1, 2)
            q = lin(separate_names[0], H)
            k = lin(separate_names[1], G).repeat_interleave(q_per_kv, 1)
            v = lin(separate_names[2], G).repeat_interleave(q_per_kv, 1)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        scores = q @ k.transpose(-2, -1) / math.sqrt(hs)
        if variant == "score_fcn":
            score = a @ s[p + "attn.score.weight"].T + s[p + "attn.score.bias"]
            scores = scores + score.view(B, T, H, -1)[..., :T].transpose(1, 2)
        mask = torch.ones(T, T, dtype=torch.bool).tril()
        weights = torch.softmax(scores.masked_fill(~mask, -math.inf), -1)
        y = (weights @ v).transpose(1, 2).reshape(B, T, C)
        x = x + y @ s[p + "attn.proj.weight"].T
        m = rms_norm(x, s[p + "norm_2.weight"], eps)
        hidden = torch.nn.functional.silu(m @ s[p + "mlp.fc_1.weight"].T) * (
            m @ s[p + "mlp.fc_2.weight"].T)
        x = x + hidden @ s[p + "mlp.proj.weight"].T
    x = rms_norm(x, s["transformer.ln_f.weight"], eps)
    return (x @ s["lm_head.weight"].T)[0]


class LitGptConvertTest(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="lit_gpt_convert_")

    def tearDown(self):
        shutil.rmtree(self.work)

    def write_lit(self, cfg, state, wrap=False, dtype=torch.float32):
        lit = os.path.join(self.work, "lit")
        os.makedirs(lit, exist_ok=True)
        state = {n: t.to(dtype) for n, t in state.items()}
        torch.save({"model": state} if wrap else state,
                   os.path.join(lit, "lit_model.pth"))
        with open(os.path.join(lit, "lit_config.json"), "w") as f:
            json.dump(cfg, f)
        with open(os.path.join(lit, "tokenizer.model"), "w") as f:
            f.write("a placeholder: logits_dump reads no tokenizer\n")
        return lit

    def convert(self, lit, *flags):
        out = os.path.join(self.work, "out")
        shutil.rmtree(out, ignore_errors=True)
        run = subprocess.run([sys.executable, CONVERTER, lit, out, *flags],
                             capture_output=True, text=True)
        return run, out

    def tinylm_logits(self, ckpt):
        tokens = os.path.join(self.work, "tokens.txt")
        out = os.path.join(self.work, "logits.f32")
        with open(tokens, "w") as f:
            f.write(" ".join(map(str, TOKENS)))
        subprocess.run([LOGITS_DUMP, ckpt, tokens, out], check=True)
        return np.fromfile(out, "<f4").reshape(len(TOKENS), -1)

    def test_every_variant_converts_to_the_same_logits(self):
        cases = [("base", 1, 1, {}), ("base", 4, 2, {"wrap": True}),
                 ("base", 4, 1, {"dtype": torch.bfloat16}),
                 ("qkv_gelu", 1, 1, {}), ("qkv_gelu", 4, 2, {}),
                 ("separate_qkv", 4, 2, {}),
                 ("separate_qkv", 2, 2,
                  {"names": ("query", "key", "value")}),
                 ("score_fcn", 1, 1, {}), ("score_fcn", 4, 2, {})]
        for variant, heads, groups, extra in cases:
            with self.subTest(variant=variant, heads=heads, groups=groups,
                              **{k: str(v) for k, v in extra.items()}):
                cfg = lit_config(heads, groups)
                names = extra.get("names", ("q", "k", "v"))
                dtype = extra.get("dtype", torch.float32)
                state = lit_state(cfg, variant, names)
                lit = self.write_lit(cfg, state, extra.get("wrap", False),
                                     dtype)
                run, out = self.convert(lit)
                self.assertEqual(run.returncode, 0, run.stderr)
                with open(os.path.join(out, "config.json")) as f:
                    config = json.load(f)
                self.assertEqual(config["variant"], variant)
                self.assertEqual(config["vocab_size"], VOCAB)
                # The reference on the weights as stored.
                stored = {n: t.to(dtype).double() for n, t in state.items()}
                want = lit_forward(stored, cfg, variant, names)[:, :VOCAB]
                diff = float(np.max(np.abs(self.tinylm_logits(out) -
                                           want.numpy())))
                print(f"{variant:12s} n_head {heads} groups {groups} "
                      f"{str(dtype)[6:]:8s}: max |diff| {diff:.1e} (logits "
                      f"up to {float(want.abs().max()):.1f})")
                self.assertLessEqual(diff, TOLERANCE)

    def test_the_variant_flag_is_checked_against_the_weights(self):
        cfg = lit_config(1, 1)
        lit = self.write_lit(cfg, lit_state(cfg, "qkv_gelu"))
        run, _ = self.convert(lit, "--variant=base")
        self.assertEqual(run.returncode, 1)
        self.assertIn("the weights are qkv_gelu, not --variant=base",
                      run.stderr)

    def test_unsupported_blocks_are_refused(self):
        cfg = dict(lit_config(1, 1), parallel_residual=True)
        run, _ = self.convert(self.write_lit(cfg, lit_state(cfg, "base")))
        self.assertEqual(run.returncode, 1)
        self.assertIn("lit_config.json: parallel_residual = true", run.stderr)

        cfg = lit_config(1, 1)
        state = lit_state(cfg, "base")
        state["transformer.h.0.attn.proj.bias"] = torch.zeros(32)
        run, _ = self.convert(self.write_lit(cfg, state))
        self.assertEqual(run.returncode, 1)
        self.assertIn("tensor 'transformer.h.0.attn.proj.bias'", run.stderr)

        state = lit_state(cfg, "separate_qkv", ("w_q", "w_k", "w_v"))
        run, _ = self.convert(self.write_lit(cfg, state))
        self.assertEqual(run.returncode, 1)
        self.assertIn("no q, k, v projection in layer 0", run.stderr)
        self.assertIn("attn.w_q.weight", run.stderr)
        run, out = self.convert(self.write_lit(cfg, state),
                                "--rename=attn.w_=attn.")
        self.assertEqual(run.returncode, 0, run.stderr)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
