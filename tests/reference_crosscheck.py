#!/usr/bin/python3
"""Cross-checks the C++ model against tools/reference_forward.py.

For each case, reference_dump (C++) saves a random model with SaveCheckpoint,
loads it back and writes its logits on fixed tokens; the independent numpy
reference reads the same checkpoint with its own safetensors reader and
computes the logits again. They must agree to 1e-4 (float32 against
float64). Exits 77 (ctest: skipped) when numpy is missing.

usage: reference_crosscheck.py REFERENCE_DUMP REFERENCE_FORWARD_PY
"""

import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    print("numpy is not installed for", sys.executable, "(python3-numpy)")
    sys.exit(77)

TOLERANCE = 1e-4

# (variant, n_head, n_query_groups, stored dtype)
CASES = [
    ("base", 1, 1, "f32"),
    ("qkv_gelu", 1, 1, "f32"),
    ("separate_qkv", 1, 1, "f32"),
    ("score_fcn", 1, 1, "f32"),
    ("base", 4, 2, "f32"),  # multi-head, grouped-query layout
    ("score_fcn", 4, 2, "f32"),
    ("qkv_gelu", 2, 1, "bf16"),  # bfloat16 storage
    ("score_fcn", 1, 1, "bf16"),
]


def run_case(dump, reference, work, case):
    variant, heads, groups, dtype = case
    os.makedirs(work)
    subprocess.run([dump, work, variant, str(heads), str(groups), dtype],
                   check=True)
    ours = np.fromfile(os.path.join(work, "logits.f32"), dtype="<f4")
    subprocess.run([sys.executable, reference, os.path.join(work, "ckpt"),
                    os.path.join(work, "tokens.txt"),
                    os.path.join(work, "reference.f32")], check=True)
    theirs = np.fromfile(os.path.join(work, "reference.f32"), dtype="<f4")
    if ours.size != theirs.size or ours.size == 0:
        print(f"{case}: {ours.size} logits from C++, {theirs.size} from the "
              "reference")
        return False
    diff = float(np.max(np.abs(ours.astype(np.float64) - theirs)))
    scale = float(np.max(np.abs(theirs)))
    print(f"{variant:13s} n_head {heads} groups {groups} {dtype:4s}: "
          f"max |diff| {diff:.2e} (logits up to {scale:.2f})")
    # Logits this large make the comparison meaningful.
    return diff <= TOLERANCE and scale > 0.5


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    dump, reference = argv[1:]
    ok = True
    with tempfile.TemporaryDirectory(prefix="tinylm-crosscheck-") as tmp:
        for i, case in enumerate(CASES):
            ok &= run_case(dump, reference, os.path.join(tmp, str(i)), case)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
