#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/.

The seeds are committed; this script documents how they were made and
remakes them. Each seed is small (a few hundred bytes to a few KB) and
valid, or close to valid, for its target, so that fuzzing starts from the
interesting paths rather than from the first format check.

Usage: make_seeds.py PYTHON_STUBS_DIR   (build/python, for validate_fuzz)
"""

import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
SEPARATOR = b"\n#model.safetensors#\n"  # as in checkpoint_fuzz.cc

ELEMENT = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4,
           "I16": 2, "I8": 1, "U8": 1}


def safetensors(tensors, metadata=None):
    """A file image from [(name, dtype, shape)], data laid out in order."""
    header, data, offset = {}, b"", 0
    for index, (name, dtype, shape) in enumerate(tensors):
        numel = 1
        for d in shape:
            numel *= d
        size = numel * ELEMENT[dtype]
        # Small varied values; for floats, the bytes of 0.25 * k.
        if dtype == "F32":
            blob = b"".join(struct.pack("<f", 0.25 * ((i + index) % 7 - 3))
                            for i in range(numel))
        else:
            blob = bytes((i * 37 + index) % 251 for i in range(size))
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + size]}
        data += blob
        offset += size
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def model_tensors(c):
    """[(name, shape)] of a model with config c (see models/model.h)."""
    C, V, I, H, G = (c["n_embd"], c["vocab_size"], c["intermediate_size"],
                     c["n_head"], c["n_query_groups"])
    hs = C // H
    out = [("wte.weight", [V, C]), ("ln_f.weight", [C]),
           ("lm_head.weight", [V, C])]
    for i in range(c["n_layer"]):
        p = "h.%d." % i
        out += [(p + "norm_1.weight", [C]), (p + "norm_2.weight", [C])]
        if c["separate_qkv"]:
            for name, rows in (("q", H * hs), ("k", G * hs), ("v", G * hs)):
                out.append((p + "attn.%s.weight" % name, [rows, C]))
                if c["qkv_bias"]:
                    out.append((p + "attn.%s.bias" % name, [rows]))
        else:
            rows = (H + 2 * G) * hs
            out.append((p + "attn.qkv.weight", [rows, C]))
            if c["qkv_bias"]:
                out.append((p + "attn.qkv.bias", [rows]))
        if c["score_fcn"]:
            out += [(p + "attn.score.weight", [H * c["block_size"], C]),
                    (p + "attn.score.bias", [H * c["block_size"]])]
        out += [(p + "attn.proj.weight", [C, H * hs]),
                (p + "mlp.fc_1.weight", [I, C]),
                (p + "mlp.fc_2.weight", [I, C]),
                (p + "mlp.proj.weight", [C, I])]
    return out


def config(variant_flags, **dims):
    c = {"format_version": 1, "variant": "custom", "vocab_size": 6,
         "n_embd": 4, "n_layer": 1, "n_head": 1, "n_query_groups": 1,
         "intermediate_size": 4, "block_size": 4, "norm_eps": 1e-5,
         "rope_base": 10000.0, "qkv_bias": False, "qkv_activation": False,
         "separate_qkv": False, "score_fcn": False, "training": None}
    c.update(variant_flags)
    c.update(dims)
    return c


def checkpoint(c, dtype="F32"):
    weights = safetensors([(n, dtype, s) for n, s in model_tensors(c)],
                          {"format": "pt"})
    return json.dumps(c, indent=1).encode() + SEPARATOR + weights


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def safetensors_seeds():
    write("safetensors_fuzz", "two_floats",
          safetensors([("a", "F32", [2, 2]), ("b", "BF16", [3])],
                      {"format": "pt"}))
    write("safetensors_fuzz", "all_dtypes",
          safetensors([(d.lower(), d, [2]) for d in ELEMENT]))
    write("safetensors_fuzz", "scalar_and_empty",
          safetensors([("s", "F64", []), ("z", "F32", [0, 3]),
                       ("u", "U8", [1, 1, 1])]))
    write("safetensors_fuzz", "no_tensors", safetensors([], {"k": "v"}))


def checkpoint_seeds():
    base = {}
    score = {"qkv_bias": True, "qkv_activation": True, "separate_qkv": True,
             "score_fcn": True}
    write("checkpoint_fuzz", "base_f32", checkpoint(config(base)))
    write("checkpoint_fuzz", "score_fcn_bf16",
          checkpoint(config(score, n_head=2, n_query_groups=1), "BF16"))
    write("checkpoint_fuzz", "gqa_two_layers",
          checkpoint(config({"qkv_bias": True}, n_embd=8, n_head=2,
                            n_query_groups=2, n_layer=2)))
    write("checkpoint_fuzz", "config_only",
          json.dumps(config(base)).encode())
    # Regression: n_head + 2 * n_query_groups overflowed int64 (undefined
    # behaviour) in the check of the config against the weights.
    huge = config(base, n_embd=3 * 2**61, n_head=3 * 2**60,
                  n_query_groups=3 * 2**60)
    write("checkpoint_fuzz", "regression_qkv_rows_overflow",
          json.dumps(huge).encode() + SEPARATOR
          + safetensors([("a", "F32", [2, 2])]))


def tokenizer_seeds():
    text = "彼女が子供の頃に住んでいた、海の見える小さな町は、"
    write("tokenizer_fuzz", "encode_japanese", b"\x00" + text.encode())
    write("tokenizer_fuzz", "encode_spaces",
          b"\x00" + "  The cat sat.\n\t2024 ▁x  ".encode())
    write("tokenizer_fuzz", "encode_invalid", b"\x00abc\xe3\x81")
    ids = [1, 2, 3, 100, 1000, 7999, 8000, 0x1FF]
    write("tokenizer_fuzz", "decode_ids",
          b"\x01" + b"".join(struct.pack("<H", i) for i in ids))
    write("tokenizer_fuzz", "decode_bytes",
          b"\x01" + b"".join(struct.pack("<H", i) for i in range(3, 12)))
    write("tokenizer_fuzz", "piece_byte", b"\x02<0xE3>")
    write("tokenizer_fuzz", "piece_word", b"\x02\xe2\x96\x81the")


def validate_seeds(stubs):
    sys.path.insert(0, stubs)
    from tinylm.v1 import tinylm_pb2 as pb  # noqa: E402

    sampling = pb.SamplingParams(temperature=0.8, top_k=40, top_p=0.9,
                                 min_p=0.05, repetition_penalty=1.1, seed=3)
    seeds = {
        "generate_text": (0, pb.GenerateRequest(
            model="small", text="吾輩は猫である。", max_new_tokens=8,
            sampling=sampling, stop=["。", "\n"], top_n=3)),
        "generate_ids": (0, pb.GenerateRequest(
            model="wide", token_ids=pb.TokenIds(ids=[5, 6, 7]),
            max_new_tokens=40)),
        "topk": (1, pb.TopKRequest(model="small", text="海の", k=5)),
        "attention": (2, pb.AttentionMapsRequest(
            model="wide", token_ids=pb.TokenIds(ids=[1, 2, 3, 4]),
            continuation_tokens=2, layers=[0, 1], heads=[1],
            dtype=pb.TENSOR_DTYPE_FLOAT16)),
        "compare": (3, pb.CompareRequest(
            models=["wide", "small"], prompt="町は、", max_new_tokens=4,
            sampling=sampling, top_k=3)),
        "tokenize": (4, pb.TokenizeRequest(model="small", text="猫 cat")),
        "detokenize": (5, pb.DetokenizeRequest(model="wide",
                                               ids=[10, 20, 7999])),
        "unknown_model": (0, pb.GenerateRequest(model="nope", text="x")),
        # Inspection: interventions, statistics, the lens, scores, rows.
        "topk_interventions": (1, pb.TopKRequest(
            model="wide", text="吾輩は猫", k=3,
            interventions=[
                pb.Intervention(ablate=pb.Ablation(
                    site=pb.INTERVENTION_SITE_HEAD_OUTPUT, layer=1, heads=[1],
                    mode=pb.ABLATION_MODE_MEAN)),
                pb.Intervention(patch=pb.Patch(
                    site=pb.INTERVENTION_SITE_ATTENTION_PATTERN, layer=0,
                    source_text="吾輩は犬", positions=[0, 1]))],
            attention_stats=pb.AttentionStatsOptions(top_keys=2))),
        "generate_interventions": (0, pb.GenerateRequest(
            model="small", token_ids=pb.TokenIds(ids=[5, 6, 7]),
            max_new_tokens=3,
            interventions=[pb.Intervention(patch=pb.Patch(
                site=pb.INTERVENTION_SITE_RESIDUAL, layer=1,
                source_token_ids=pb.TokenIds(ids=[8, 9, 10])))],
            attention_stats=pb.AttentionStatsOptions())),
        "lens": (6, pb.LogitLensRequest(model="small", text="海の見える",
                                        k=3, positions=[0, 1])),
        "score": (7, pb.ScoreRequest(
            models=["small", "wide"], text="海の見える町",
            interventions=[pb.Intervention(ablate=pb.Ablation(
                site=pb.INTERVENTION_SITE_MLP_OUTPUT, layer=0))])),
        "stream_attention": (8, pb.AttentionMapsRequest(
            model="wide", token_ids=pb.TokenIds(ids=[1, 2, 3, 4]),
            continuation_tokens=2, row_begin=1, row_end=5,
            dtype=pb.TENSOR_DTYPE_FLOAT16)),
        # Regressions: a float temperature or repetition penalty of 1e-40
        # overflowed the sampler's logits to NaN (INTERNAL for the batch).
        "regression_tiny_temperature": (0, pb.GenerateRequest(
            model="small", text="x",
            sampling=pb.SamplingParams(temperature=1e-40))),
        "regression_tiny_penalty": (0, pb.GenerateRequest(
            model="small", text="x",
            sampling=pb.SamplingParams(repetition_penalty=1e-40))),
    }
    for name, (selector, message) in seeds.items():
        write("validate_fuzz", name,
              bytes([selector]) + message.SerializeToString())


def main():
    safetensors_seeds()
    checkpoint_seeds()
    tokenizer_seeds()
    if len(sys.argv) > 1:
        validate_seeds(sys.argv[1])


if __name__ == "__main__":
    main()
