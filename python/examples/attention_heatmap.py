"""Draws one layer's attention of two variants side by side, with the
tokens on the axes, from a running tinylm-server:

    python3 attention_heatmap.py [HOST:PORT] [OUT.png]
"""
import sys

import matplotlib
matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt

import tinylm

target = sys.argv[1] if len(sys.argv) > 1 else "localhost:50051"
out = sys.argv[2] if len(sys.argv) > 2 else "attention.png"
prompt = "吾輩は猫である。名前はまだ無い。"
plt.rcParams["font.family"] = "Noto Sans CJK JP"  # Japanese tokens

with tinylm.Client(target) as client:
    best = client.topk("base", prompt, k=5).tokens[0]
    print("base's next token: %r (p = %.3f)" % (best.piece, best.probability))
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    for ax, model in zip(axes, ["base", "score_fcn"]):
        maps = client.attention(model, prompt)  # weights: [layers, heads, T, T]
        layer = maps.layers[-1]
        weights = maps.weights[-1, 0]  # last layer, head 0: [T, T]
        labels = [t.replace("▁", "␣") for t in maps.tokens]
        ax.imshow(weights, cmap="viridis", vmin=0, vmax=1)
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=8)
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        ax.set_title("%s, layer %d, head 0" % (model, layer))
        ax.set_xlabel("key")
        ax.set_ylabel("query")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
print("wrote", out)
