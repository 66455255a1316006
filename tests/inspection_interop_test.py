#!/usr/bin/python3
"""The inspection calls, from a client that is not ours (Python grpcio)
against the real tinylm-server binary, each value checked against the
independent numpy reference (tools/reference_forward.py, float64, reading
the same checkpoints with its own safetensors reader):

  LogitLens   every layer's top-k and its KL from the final distribution
  Score       per-token logprobs, mean loss, perplexity, the comparison of
              several models
  statistics  entropy, first-token and diagonal mass, mean distance, top keys
              (on TopK, and per model on Compare)
  ablations and patches on TopK, Score and Generate: the intervened
              distributions and the effect reported (KL, top token)
  StreamAttentionMaps  rows, float16, row blocks under a small message bound
and the refusals of bad inspection fields (INVALID_ARGUMENT naming them).
Prints the largest deviation from the reference of each kind.

Usage: inspection_interop_test.py SERVER_BINARY PYTHON_STUBS_DIR CHECKPOINTS_DIR
"""

import os
import subprocess
import sys
import unittest

import grpc
import numpy as np

SERVER, STUBS, CHECKPOINTS = sys.argv[1:4]
sys.path.insert(0, STUBS)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tools"))
from grpc_health_v1 import health_pb2, health_pb2_grpc  # noqa: E402
from tinylm.v1 import tinylm_pb2 as pb, tinylm_pb2_grpc  # noqa: E402
from server_process import read_port  # noqa: E402
import reference_forward as ref  # noqa: E402

START_TIMEOUT_S = 120
PROMPT = "吾輩は猫である。名前はまだ無い。"
SOURCE = "吾輩は犬である。名前はもう有る。"  # the patch source
# float32 on the server against float64 here.
TOLERANCE = 1e-4
WORST = {}  # kind -> the largest deviation seen


def deviation(kind, value):
    WORST[kind] = max(WORST.get(kind, 0.0), float(value))
    return value


class Server:
    """A tinylm-server process on a free port, SERVING."""

    def __init__(self, *flags):
        self.process = subprocess.Popen(
            [SERVER, "--listen=127.0.0.1:0", "--checkpoints=" + CHECKPOINTS,
             "--device=cpu", "--shutdown_grace_seconds=5",
             "--log_requests=off", *flags], stdout=subprocess.PIPE)
        port = read_port(self.process, START_TIMEOUT_S)
        self.channel = grpc.insecure_channel("127.0.0.1:%d" % port)
        self.stub = tinylm_pb2_grpc.TinyLMStub(self.channel)
        health = health_pb2_grpc.HealthStub(self.channel)
        grpc.channel_ready_future(self.channel).result(timeout=30)
        reply = health.Check(health_pb2.HealthCheckRequest(), timeout=30)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING

    def stop(self):
        self.channel.close()
        self.process.terminate()
        assert self.process.wait(timeout=60) == 0
        self.process.stdout.close()


class InspectionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.stub = cls.server.stub
        cls.models = [m.name for m in cls.stub.ListModels(
            pb.ListModelsRequest(), timeout=30).models]
        cls.refs = {}

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        print("\nlargest deviation from the numpy reference:")
        for kind, value in sorted(WORST.items()):
            print("  %-34s %.2e" % (kind, value))

    def ref(self, model):
        if model not in self.refs:
            self.refs[model] = ref.load(os.path.join(CHECKPOINTS, model))
        return self.refs[model]

    def ids(self, model, text):
        return np.array(self.stub.Tokenize(
            pb.TokenizeRequest(model=model, text=text), timeout=30).ids)

    def assert_invalid(self, call, request, field):
        with self.assertRaises(grpc.RpcError) as error:
            reply = call(request, timeout=60)
            if not hasattr(reply, "ListFields"):  # a stream
                list(reply)
        self.assertEqual(error.exception.code(),
                         grpc.StatusCode.INVALID_ARGUMENT,
                         error.exception.details())
        self.assertTrue(error.exception.details().startswith(field + ":"),
                        error.exception.details())

    # ------------------------------------------------------------ lens

    def test_logit_lens_matches_the_reference(self):
        for model in self.models:
            cfg, w = self.ref(model)
            tokens = self.ids(model, PROMPT)
            last = len(tokens) - 1
            reply = self.stub.LogitLens(pb.LogitLensRequest(
                model=model, text=PROMPT, k=5, positions=[1, last]),
                timeout=60)
            self.assertEqual(list(reply.token_ids), list(tokens))
            lens = ref.logit_lens(cfg, w, tokens)  # [L + 1, T, V]
            final = lens[-1]
            self.assertEqual([p.position for p in reply.positions], [1, last])
            for p in reply.positions:
                t = p.position
                self.assertEqual([l.layer for l in p.layers],
                                 list(range(-1, cfg["n_layer"])))
                for i, layer in enumerate(p.layers):
                    want = lens[i, t]
                    got = [tok.probability for tok in layer.tokens]
                    top = np.sort(np.exp(want))[::-1][:5]
                    self.assertLess(deviation(
                        "lens top-k probability",
                        np.abs(np.array(got) - top).max()), TOLERANCE)
                    for tok in layer.tokens:  # each id has its probability
                        self.assertLess(abs(np.exp(want[tok.id]) -
                                            tok.probability), TOLERANCE)
                    divergence = (np.exp(final[t]) * (final[t] - want)).sum()
                    self.assertLess(deviation(
                        "lens KL from final",
                        abs(layer.kl_from_final - divergence)), TOLERANCE)
                    self.assertLess(deviation(
                        "lens final-top probability",
                        abs(layer.final_top_probability -
                            np.exp(want[final[t].argmax()]))), TOLERANCE)
                self.assertEqual(p.layers[-1].kl_from_final, 0.0)

    # ------------------------------------------------------------ score

    def test_score_matches_the_reference(self):
        reply = self.stub.Score(pb.ScoreRequest(text=PROMPT), timeout=120)
        self.assertEqual([r.model for r in reply.results], self.models)
        columns = []
        for result in reply.results:
            cfg, w = self.ref(result.model)
            tokens = np.array([t.id for t in result.tokens])
            want = ref.token_logprobs(ref.forward(cfg, w, tokens), tokens)
            self.assertFalse(result.tokens[0].HasField("logprob"))
            got = np.array([t.logprob for t in result.tokens[1:]])
            self.assertLess(deviation("score logprob",
                                      np.abs(got - want).max()), TOLERANCE)
            self.assertLess(deviation("score mean loss",
                                      abs(result.mean_loss + want.mean())),
                            TOLERANCE)
            self.assertAlmostEqual(result.perplexity,
                                   np.exp(result.mean_loss), places=4)
            columns.append(want)
        if len(self.models) < 2:
            return
        # The shipped checkpoints share one tokenizer: comparable.
        self.assertTrue(reply.comparable)
        table = np.stack(columns, axis=1)  # [T - 1, models]
        self.assertEqual(len(reply.comparison), table.shape[0])
        for c, row in zip(reply.comparison, table):
            self.assertLess(np.abs(np.array(c.logprobs) - row).max(),
                            TOLERANCE)
            self.assertAlmostEqual(c.spread, row.max() - row.min(), places=4)
            self.assertAlmostEqual(row[c.best], row.max(), places=4)

    # ------------------------------------------------------------ stats

    def test_attention_statistics_match_the_reference(self):
        for model in self.models:
            cfg, w = self.ref(model)
            reply = self.stub.TopK(pb.TopKRequest(
                model=model, text=PROMPT, k=1,
                attention_stats=pb.AttentionStatsOptions(top_keys=3)),
                timeout=60)
            tokens = self.ids(model, PROMPT)
            trace = {}
            ref.forward(cfg, w, tokens, trace=trace)
            want = ref.attention_stats(trace["attention"])
            self.assertEqual(len(reply.attention_stats),
                             cfg["n_layer"] * cfg["n_head"])
            for s, (entropy, first, distance, diagonal) in zip(
                    reply.attention_stats, want):
                got = np.array([s.entropy, s.first_token_mass,
                                s.mean_distance, s.diagonal_mass])
                self.assertLess(deviation(
                    "attention statistics",
                    np.abs(got - [entropy, first, distance, diagonal]).max()),
                    TOLERANCE * 10)  # entropies and distances sum T terms
                probs = trace["attention"][s.layer][s.head]
                self.assertEqual(len(s.top_keys), len(tokens))
                for q in s.top_keys:
                    row = probs[q.query]
                    self.assertEqual(len(q.keys), min(3, q.query + 1))
                    best = np.sort(row)[::-1][:len(q.keys)]
                    self.assertLess(deviation(
                        "attention top-key weight",
                        np.abs(np.array(q.weights) - best).max()), TOLERANCE)
                    for key, weight in zip(q.keys, q.weights):
                        self.assertLessEqual(key, q.query)
                        self.assertLess(abs(row[key] - weight), TOLERANCE)

    def test_compare_statistics_per_model_match_the_reference(self):
        # Compare's statistics cover prompt + greedy continuation, whose ids
        # AttentionMaps with the same continuation reports.
        reply = self.stub.Compare(pb.CompareRequest(
            prompt=PROMPT, max_new_tokens=4,
            sampling=pb.SamplingParams(temperature=0),
            attention_stats=pb.AttentionStatsOptions()), timeout=120)
        self.assertEqual([r.model for r in reply.results], self.models)
        for result in reply.results:
            cfg, w = self.ref(result.model)
            maps = self.stub.AttentionMaps(pb.AttentionMapsRequest(
                model=result.model, text=PROMPT, continuation_tokens=4,
                layers=[0], heads=[0]), timeout=60)
            trace = {}
            ref.forward(cfg, w, np.array(maps.token_ids), trace=trace)
            want = np.array(ref.attention_stats(trace["attention"]))
            got = np.array([[s.entropy, s.first_token_mass, s.mean_distance,
                             s.diagonal_mass] for s in result.attention_stats])
            self.assertEqual(got.shape, want.shape)
            self.assertLess(deviation("compare attention statistics",
                                      np.abs(got - want).max()),
                            TOLERANCE * 10, result.model)

    # ------------------------------------------------------------ interventions

    # (API message, reference spec) pairs on model `cfg`.
    def interventions(self, cfg, source):
        L = cfg["n_layer"]
        return [
            (pb.Intervention(ablate=pb.Ablation(
                site=pb.INTERVENTION_SITE_ATTENTION_OUTPUT, layer=L - 1)),
             {"site": "attention_output", "layer": L - 1, "mode": "zero"}),
            (pb.Intervention(ablate=pb.Ablation(
                site=pb.INTERVENTION_SITE_MLP_OUTPUT, layer=0,
                mode=pb.ABLATION_MODE_MEAN)),
             {"site": "mlp_output", "layer": 0, "mode": "mean"}),
            (pb.Intervention(ablate=pb.Ablation(
                site=pb.INTERVENTION_SITE_HEAD_OUTPUT, layer=L // 2,
                heads=[cfg["n_head"] - 1], mode=pb.ABLATION_MODE_MEAN)),
             {"site": "head_outputs", "layer": L // 2,
              "heads": [cfg["n_head"] - 1], "mode": "mean"}),
            (pb.Intervention(patch=pb.Patch(
                site=pb.INTERVENTION_SITE_RESIDUAL, layer=L // 2,
                source_token_ids=pb.TokenIds(ids=source), positions=[1, 3])),
             {"site": "residual", "layer": L // 2, "source": source,
              "positions": [1, 3]}),
            (pb.Intervention(patch=pb.Patch(
                site=pb.INTERVENTION_SITE_ATTENTION_PATTERN, layer=1,
                source_token_ids=pb.TokenIds(ids=source))),
             {"site": "pattern", "layer": 1, "source": source}),
        ]

    def source_like(self, model, tokens):
        """SOURCE's ids, cut or padded to the prompt's length."""
        source = list(self.ids(model, SOURCE))[:len(tokens)]
        return source + list(tokens[len(source):])

    def test_interventions_on_topk_match_the_reference(self):
        for model in self.models:
            cfg, w = self.ref(model)
            tokens = self.ids(model, PROMPT)
            clean = ref.forward(cfg, w, tokens)[-1]
            source = self.source_like(model, tokens)
            for message, spec in self.interventions(cfg, source):
                reply = self.stub.TopK(pb.TopKRequest(
                    model=model, text=PROMPT, k=5, interventions=[message]),
                    timeout=60)
                edit = ref.intervention_edit(cfg, w, [spec])
                logits = ref.forward(cfg, w, tokens, edit=edit)[-1]
                probs = np.exp(ref.log_softmax(logits))
                for tok in reply.tokens:
                    self.assertLess(deviation(
                        "intervened probability",
                        abs(tok.probability - probs[tok.id])), TOLERANCE,
                        spec)
                clean_probs = np.exp(ref.log_softmax(clean))
                for tok in reply.clean_tokens:
                    self.assertLess(abs(tok.probability -
                                        clean_probs[tok.id]), TOLERANCE)
                effect = reply.effect
                self.assertEqual(effect.positions, 1)
                self.assertLess(deviation(
                    "effect KL", abs(effect.mean_kl - ref.kl(clean, logits))),
                    TOLERANCE, spec)
                # A patch after the last block at earlier positions leaves
                # the last one alone: then exactly 0.
                self.assertLess(deviation(
                    "effect largest logit change",
                    abs(effect.max_logit_change -
                        np.abs(logits - clean).max())), TOLERANCE * 10, spec)
                self.assertEqual(effect.clean_top.id, clean.argmax())
                self.assertEqual(effect.intervened_top.id, logits.argmax())
                self.assertEqual(effect.top_changed,
                                 int(clean.argmax() != logits.argmax()))

    def test_interventions_on_score_match_the_reference(self):
        model = self.models[-1]
        cfg, w = self.ref(model)
        tokens = self.ids(model, PROMPT)
        source = self.source_like(model, tokens)
        pairs = self.interventions(cfg, source)
        reply = self.stub.Score(pb.ScoreRequest(
            models=[model], text=PROMPT,
            interventions=[m for m, _ in pairs[:2]]), timeout=60)
        edit = ref.intervention_edit(cfg, w, [s for _, s in pairs[:2]])
        logits = ref.forward(cfg, w, tokens, edit=edit)
        clean = ref.forward(cfg, w, tokens)
        want = ref.token_logprobs(logits, tokens)
        result = reply.results[0]
        got = np.array([t.logprob for t in result.tokens[1:]])
        self.assertLess(deviation("intervened score logprob",
                                  np.abs(got - want).max()), TOLERANCE)
        clean_got = np.array([t.clean_logprob for t in result.tokens[1:]])
        self.assertLess(np.abs(clean_got -
                               ref.token_logprobs(clean, tokens)).max(),
                        TOLERANCE)
        kls = ref.kl(clean[:-1], logits[:-1])
        self.assertLess(deviation("score KL per token", np.abs(
            np.array([t.kl for t in result.tokens[1:]]) - kls).max()),
            TOLERANCE)
        self.assertEqual(result.effect.positions, len(tokens) - 1)
        self.assertAlmostEqual(result.effect.mean_kl, kls.mean(), places=4)
        self.assertAlmostEqual(result.mean_loss, -want.mean(), places=4)

    def test_interventions_on_generate_match_the_reference(self):
        model = self.models[0]
        cfg, w = self.ref(model)
        tokens = list(self.ids(model, PROMPT))
        source = self.source_like(model, tokens)
        for message, spec in self.interventions(cfg, source)[1::2]:
            replies = list(self.stub.Generate(pb.GenerateRequest(
                model=model, token_ids=pb.TokenIds(ids=tokens),
                max_new_tokens=4, interventions=[message],
                sampling=pb.SamplingParams(temperature=0)), timeout=120))
            steps = [r.token for r in replies if r.HasField("token")]
            summary = replies[-1].summary
            edit = ref.intervention_edit(cfg, w, [spec])
            sequence, kls = list(tokens), []
            for step in steps:  # greedy under the intervention, no cache
                logits = ref.forward(cfg, w, np.array(sequence), edit=edit)[-1]
                clean = ref.forward(cfg, w, np.array(sequence))[-1]
                self.assertEqual(step.id, logits.argmax(), spec)
                self.assertLess(deviation(
                    "generate logprob",
                    abs(step.logprob - ref.log_softmax(logits)[step.id])),
                    TOLERANCE)
                kls.append(ref.kl(clean, logits))
                self.assertLess(deviation(
                    "generate effect KL", abs(step.effect.mean_kl - kls[-1])),
                    TOLERANCE)
                sequence.append(step.id)
            self.assertEqual(summary.effect.positions, len(steps))
            self.assertAlmostEqual(summary.effect.mean_kl, np.mean(kls),
                                   places=4)

    # ------------------------------------------------------------ maps

    def test_streamed_maps_match_the_reference(self):
        model = self.models[0]
        cfg, w = self.ref(model)
        tokens = self.ids(model, PROMPT)
        T = len(tokens)
        trace = {}
        ref.forward(cfg, w, tokens, trace=trace)
        chunks = list(self.stub.StreamAttentionMaps(pb.AttentionMapsRequest(
            model=model, text=PROMPT, dtype=pb.TENSOR_DTYPE_FLOAT16,
            row_begin=2, row_end=T,
            attention_stats=pb.AttentionStatsOptions()), timeout=60))
        header = chunks[0].header
        self.assertEqual(list(header.token_ids), list(tokens))
        self.assertEqual(header.messages, len(chunks) - 1)
        self.assertEqual(len(header.attention_stats),
                         cfg["n_layer"] * cfg["n_head"])
        for chunk in chunks[1:]:
            m = chunk.map
            self.assertEqual(list(m.shape), [T - 2, T])
            self.assertEqual(m.row_begin, 2)
            got = np.frombuffer(m.data, dtype="<f2").reshape(T - 2, T)
            want = trace["attention"][m.layer][m.head][2:]
            # float16 keeps 11 bits: 5e-4 relative.
            self.assertLess(deviation("streamed map (float16)",
                                      np.abs(got - want).max()), 1e-3)

    def test_maps_come_in_row_blocks_under_a_small_message_bound(self):
        server = Server("--max_send_message_bytes=2048",
                        "--max_attention_bytes=1024")
        try:
            model = self.models[0]
            cfg, w = self.ref(model)
            text = PROMPT * 4
            tokens = self.ids(model, text)
            T = len(tokens)
            trace = {}
            ref.forward(cfg, w, tokens, trace=trace)
            chunks = list(server.stub.StreamAttentionMaps(
                pb.AttentionMapsRequest(model=model, text=text),
                timeout=60))
            self.assertEqual(chunks[0].header.messages, len(chunks) - 1)
            per_message = (2048 - 256) // (T * 4)
            rows = {}
            for chunk in chunks[1:]:
                m = chunk.map
                self.assertLessEqual(chunk.ByteSize(), 2048)
                self.assertLessEqual(m.shape[0], per_message)
                got = np.frombuffer(m.data, dtype="<f4").reshape(m.shape)
                want = trace["attention"][m.layer][m.head][
                    m.row_begin:m.row_begin + m.shape[0]]
                self.assertLess(deviation("streamed map (float32)",
                                          np.abs(got - want).max()),
                                TOLERANCE)
                rows.setdefault((m.layer, m.head), []).append(
                    (m.row_begin, m.shape[0]))
            self.assertEqual(len(rows), cfg["n_layer"] * cfg["n_head"])
            for blocks in rows.values():  # consecutive, covering 0..T-1
                self.assertEqual(blocks[0][0], 0)
                for (b0, n0), (b1, _) in zip(blocks, blocks[1:]):
                    self.assertEqual(b0 + n0, b1)
                self.assertEqual(sum(n for _, n in blocks), T)
            # The unary call is bounded by --max_attention_bytes instead.
            with self.assertRaises(grpc.RpcError) as error:
                server.stub.AttentionMaps(pb.AttentionMapsRequest(
                    model=model, text=text), timeout=60)
            self.assertEqual(error.exception.code(),
                             grpc.StatusCode.RESOURCE_EXHAUSTED)
        finally:
            server.stop()

    # ------------------------------------------------------------ refusals

    def test_bad_inspection_fields_are_invalid_arguments(self):
        model = self.models[0]
        cfg, _ = self.ref(model)
        L, H = cfg["n_layer"], cfg["n_head"]
        tokens = list(self.ids(model, PROMPT))
        s = self.stub

        def topk(intervention):
            return pb.TopKRequest(model=model, text=PROMPT, k=3,
                                  interventions=[intervention])
        cases = [
            (s.TopK, topk(pb.Intervention(ablate=pb.Ablation(
                site=pb.INTERVENTION_SITE_MLP_OUTPUT, layer=L))),
             "interventions[0].ablate.layer"),
            (s.TopK, topk(pb.Intervention(ablate=pb.Ablation(
                site=pb.INTERVENTION_SITE_HEAD_OUTPUT, layer=0, heads=[H]))),
             "interventions[0].ablate.heads[0]"),
            (s.TopK, topk(pb.Intervention(ablate=pb.Ablation(
                site=pb.INTERVENTION_SITE_RESIDUAL, layer=0))),
             "interventions[0].ablate.site"),
            (s.TopK, topk(pb.Intervention(patch=pb.Patch(
                site=pb.INTERVENTION_SITE_RESIDUAL, layer=0,
                source_token_ids=pb.TokenIds(ids=tokens[:-1])))),
             "interventions[0].patch.source_token_ids"),
            (s.TopK, topk(pb.Intervention(patch=pb.Patch(
                site=pb.INTERVENTION_SITE_RESIDUAL, layer=0,
                source_token_ids=pb.TokenIds(ids=tokens),
                positions=[len(tokens)]))),
             "interventions[0].patch.positions[0]"),
            (s.TopK, topk(pb.Intervention()), "interventions[0]"),
            (s.Generate, pb.GenerateRequest(
                model=model, text=PROMPT, max_new_tokens=2,
                interventions=[pb.Intervention(patch=pb.Patch(
                    site=pb.INTERVENTION_SITE_ATTENTION_PATTERN, layer=0,
                    source_text=PROMPT + PROMPT))]),
             "interventions[0].patch.source_text"),
            (s.StreamAttentionMaps, pb.AttentionMapsRequest(
                model=model, text=PROMPT, row_end=len(tokens) + 1),
             "row_end"),
            (s.AttentionMaps, pb.AttentionMapsRequest(
                model=model, text=PROMPT, row_begin=3, row_end=3),
             "row_begin"),
            (s.LogitLens, pb.LogitLensRequest(model=model, text=PROMPT,
                                              k=100000), "k"),
            (s.LogitLens, pb.LogitLensRequest(
                model=model, text=PROMPT, positions=[len(tokens)]),
             "positions[0]"),
            (s.Score, pb.ScoreRequest(models=[model],
                                      token_ids=pb.TokenIds(ids=[5])),
             "token_ids"),
            (s.Score, pb.ScoreRequest(models=[model, model], text=PROMPT),
             "models[1]"),
            (s.TopK, pb.TopKRequest(
                model=model, text=PROMPT, k=1,
                attention_stats=pb.AttentionStatsOptions(top_keys=17)),
             "attention_stats.top_keys"),
        ]
        for call, request, field in cases:
            with self.subTest(field=field):
                self.assert_invalid(call, request, field)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
