"""The launch floor of a CUDA graph: time per node for tiny kernels.

A decode step of a ~10M-parameter model moves a few MB and is bound by how
fast the GPU can run one small kernel after another. This measures that
rate for graphs of N trivial kernels (an in-place add on 128 floats), so a
step's floor can be estimated as kernels per step x time per node, next to
its bytes / memory bandwidth.

    python3 tools/bench/graph_floor.py [--nodes 100,400,800]
"""
import argparse
import json

import torch


def time_graph(nodes: int, replays: int = 200) -> float:
    x = torch.zeros(128, device="cuda")
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        for _ in range(3):
            x.add_(1.0)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(nodes):
            x.add_(1.0)
    for _ in range(10):
        graph.replay()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(
        enable_timing=True)
    start.record()
    for _ in range(replays):
        graph.replay()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) * 1e3 / replays  # us per replay


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", default="100,400,800")
    args = parser.parse_args()
    for nodes in (int(n) for n in args.nodes.split(",")):
        us = time_graph(nodes)
        print(json.dumps({"kind": "graph_floor", "nodes": nodes,
                          "replay_us": round(us, 2),
                          "us_per_node": round(us / nodes, 3)}))


if __name__ == "__main__":
    main()
