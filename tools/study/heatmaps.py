#!/usr/bin/env python3
"""The last layer's attention of one text, the variants side by side.

Reads the attention_maps.json that `tinylm-train study` writes (the maps of
the first prompt's text, averaged here over the heads) and draws one heatmap
per variant, queries down and keys across, with the tokens as labels, on one
colour scale from 0 to the largest weight shown.

    python3 tools/study/heatmaps.py STUDY_DIR/attention_maps.json OUT.png

Needs matplotlib and a CJK font (Debian: python3-matplotlib,
fonts-noto-cjk).
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import font_manager  # noqa: E402


def cjk_font():
    for f in font_manager.findSystemFonts():
        if "NotoSansCJK" in f or "NotoSansJP" in f:
            return font_manager.FontProperties(fname=f)
    sys.exit("no Noto Sans CJK font found (Debian: fonts-noto-cjk)")


def main(maps_path, out_path):
    with open(maps_path) as f:
        report = json.load(f)
    tokens = report["tokens"]
    # The study's order of the variants (JSON objects keep none).
    order = ["base", "qkv_gelu", "separate_qkv", "score_fcn"]
    names = sorted(report["maps"], key=lambda v: (v not in order,
                                                  order.index(v)
                                                  if v in order else 0, v))
    maps = {v: np.asarray(report["maps"][v]).mean(axis=0) for v in names}
    top = max(m.max() for m in maps.values())
    font = cjk_font()
    fig, axes = plt.subplots(1, len(maps), figsize=(5.2 * len(maps), 5.6),
                             constrained_layout=True)
    for ax, (variant, m) in zip(np.atleast_1d(axes), maps.items()):
        image = ax.imshow(m, cmap="Blues", vmin=0, vmax=top)
        ax.set_title(f"{variant}, layer {report['layer']}", fontsize=12)
        ticks = range(len(tokens))
        ax.set_xticks(ticks, tokens, rotation=90, fontproperties=font,
                      fontsize=8)
        ax.set_yticks(ticks, tokens, fontproperties=font, fontsize=8)
        ax.set_xlabel("key")
        ax.set_ylabel("query")
    fig.colorbar(image, ax=axes, shrink=0.6, label="attention weight")
    fig.savefig(out_path, dpi=110)
    print(f"wrote {out_path}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(*sys.argv[1:])
