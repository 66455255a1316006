#!/usr/bin/python3
"""Smoke test of the serving benchmark on CPU: tools/bench/run_matrix.sh
starts the real tinylm-server on the test checkpoints, runs tinylm-bench
briefly at concurrency 1 and 4 (prompts cut from the test corpus through
the Tokenize RPC), and stops the server; the report must hold sane numbers
for every served model and no errors.

usage: bench_smoke_test.py RUN_MATRIX SERVER_BIN BENCH_BIN CHECKPOINTS WORK_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import unittest

PROMPT_TOKENS = 8
MAX_NEW_TOKENS = 8
LEVELS = [1, 4]
ARGS = None  # set from argv in main


class BenchSmokeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        run_matrix, server_bin, bench_bin, checkpoints, work = ARGS
        cls.out = os.path.join(work, "bench_smoke")
        shutil.rmtree(cls.out, ignore_errors=True)
        corpus = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                              "data", "corpus-sample.txt")
        cls.completed = subprocess.run(
            ["bash", run_matrix, "--server_bin", server_bin,
             "--bench_bin", bench_bin, "--checkpoints", checkpoints,
             "--device", "cpu", "--out", cls.out,
             "--concurrency", ",".join(map(str, LEVELS)),
             "--duration_s", "1", "--max_new_tokens", str(MAX_NEW_TOKENS),
             "--prompt_tokens", str(PROMPT_TOKENS), "--prompts_file", corpus,
             "--label", "smoke test", "--", "--num_prompts", "6"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            timeout=240)
        cls.report = None
        path = os.path.join(cls.out, "bench.json")
        if os.path.exists(path):
            with open(path) as f:
                cls.report = json.load(f)

    def setUp(self):
        self.assertEqual(self.completed.returncode, 0, self.completed.stdout)
        self.assertIsNotNone(self.report, self.completed.stdout)

    def test_every_model_and_level_has_a_result(self):
        models = sorted(self.report["models"])
        self.assertEqual(len(models), 4, models)
        got = sorted((r["model"], r["concurrency"])
                     for r in self.report["results"])
        self.assertEqual(got, sorted((m, c) for m in models for c in LEVELS))

    def test_results_are_sane_and_error_free(self):
        for r in self.report["results"]:
            where = f"{r['model']} c={r['concurrency']}"
            self.assertEqual(r["errors"], {}, where)
            self.assertEqual(r["warmup_errors"], {}, where)
            self.assertGreater(r["requests"], 0, where)
            self.assertGreater(r["output_tokens"], 0, where)
            self.assertGreater(r["output_tokens_per_s"], 0, where)
            self.assertGreater(r["requests_per_s"], 0, where)
            self.assertLessEqual(r["mean_output_tokens"], MAX_NEW_TOKENS)
            self.assertGreater(r["mean_output_tokens"], 0, where)
            self.assertTrue(set(r["finish_reasons"]) <= {"length", "eos"},
                            r["finish_reasons"])
            for key in ("ttft_ms", "total_ms"):
                s = r[key]
                self.assertGreater(s["count"], 0, where)
                self.assertGreater(s["p50"], 0, where)
                self.assertLessEqual(s["min"], s["p50"])
                self.assertLessEqual(s["p50"], s["p99"])
                self.assertLessEqual(s["p99"], s["max"])
            # A request ends after its first token arrives.
            self.assertLessEqual(r["ttft_ms"]["max"], r["total_ms"]["max"])

    def test_prompts_and_outputs_are_recorded(self):
        for name, model in self.report["models"].items():
            self.assertEqual(len(model["prompts"]), 6, name)
            for prompt in model["prompts"]:
                self.assertEqual(len(prompt), PROMPT_TOKENS)
                self.assertTrue(all(0 <= i < model["vocab_size"]
                                    for i in prompt))
            self.assertGreater(len(model["outputs"]), 0, name)
            self.assertEqual(model["device"], "cpu")

    def test_greedy_outputs_do_not_depend_on_the_batch(self):
        # Every greedy request of a prompt, alone (c=1) or batched with
        # others (c=4), must give the ids first recorded for that prompt.
        self.assertEqual(self.report["meta"]["settings"]["temperature"], 0)
        for r in self.report["results"]:
            self.assertEqual(r["greedy_mismatches"], 0,
                             f"{r['model']} c={r['concurrency']}")

    def test_markdown_and_plot_are_written(self):
        with open(os.path.join(self.out, "bench.md")) as f:
            markdown = f.read()
        for name in self.report["models"]:
            self.assertIn(f"### {name} (cpu", markdown)
        with open(os.path.join(self.out, "throughput.svg")) as f:
            svg = f.read()
        self.assertTrue(svg.startswith("<svg"))
        for name in self.report["models"]:
            self.assertIn(name, svg)

    def test_server_was_stopped(self):
        with open(os.path.join(self.out, "server.log")) as f:
            log = f.read()
        self.assertIn("shutting down", log)

    def test_server_reports_its_scheduler_time(self):
        # The line the server prints per model when it stops, as
        # tools/bench/summarize.py reads it.
        sys.path.insert(0, os.path.dirname(os.path.abspath(ARGS[0])))
        import summarize
        with open(os.path.join(self.out, "server.log")) as f:
            log = f.read()
        for name in self.report["models"]:
            times = summarize.scheduler_time(log, name)
            self.assertIsNotNone(times, name)
            # Every model was measured: it ran steps and handled tokens.
            self.assertGreater(times["step"] + times["launch"], 0, name)
            self.assertGreater(times["tokens"], 0, name)
        table = summarize.scheduler_table(times)
        self.assertIn("wait share", table)


def main():
    global ARGS
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    ARGS = sys.argv[1:]
    unittest.main(argv=sys.argv[:1], verbosity=2)


if __name__ == "__main__":
    main()
