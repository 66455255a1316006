"""The Python client library (python/) installed with pip into a fresh
virtual environment and used against the real tinylm-server: every call's
result against the raw RPC's reply, attention arrays against the bytes of
the maps, the logit lens against TopK, the typed errors.

    python3 tests/python_client_test.py SERVER CHECKPOINTS CERTS_DIR

Run by ctest with Debian's python3 (grpcio, protobuf, numpy); the package
is installed with --no-build-isolation --no-deps, so the stubs come from
the protoc and grpc_python_plugin on PATH and nothing is downloaded.
"""
import array
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
IN_VENV = "--in-venv"


def install_and_rerun():
    """Makes a venv, pip-installs python/ into it, runs this file there."""
    with tempfile.TemporaryDirectory() as tmp:
        # A copy of what the package is built from (python/ and proto/),
        # so that the build writes nothing into the checkout.
        for part in ("python", "proto"):
            shutil.copytree(os.path.join(ROOT, part),
                            os.path.join(tmp, "src", part),
                            ignore=shutil.ignore_patterns(
                                "build", "*.egg-info", "__pycache__"))
        venv = os.path.join(tmp, "venv")
        subprocess.check_call([sys.executable, "-m", "venv",
                               "--system-site-packages", venv])
        python = os.path.join(venv, "bin", "python")
        subprocess.check_call(
            [python, "-m", "pip", "install", "--quiet", "--no-build-isolation",
             "--no-deps", "--no-index", os.path.join(tmp, "src", "python")],
            cwd=tmp)
        # From tmp, so that `import tinylm` can only find the installed copy.
        sys.exit(subprocess.call([python, os.path.abspath(__file__), IN_VENV]
                                 + sys.argv[1:], cwd=tmp))


if __name__ == "__main__" and IN_VENV not in sys.argv:
    install_and_rerun()

sys.argv.remove(IN_VENV)
SERVER, CHECKPOINTS, CERTS = sys.argv[1:4]
del sys.argv[1:4]
sys.path.append(os.path.join(ROOT, "tools"))
import grpc  # noqa: E402
import numpy as np  # noqa: E402

import tinylm  # noqa: E402
from tinylm import errors  # noqa: E402
from tinylm.v1 import tinylm_pb2 as pb, tinylm_pb2_grpc  # noqa: E402
from server_process import read_port  # noqa: E402

PROMPT = "吾輩は猫である。"
TOKEN = "python-client-token"


def start_server(*flags):
    """A tinylm-server on the test checkpoints; (process, "127.0.0.1:port")."""
    process = subprocess.Popen(
        [SERVER, "--listen=127.0.0.1:0", "--checkpoints=" + CHECKPOINTS,
         "--device=cpu", "--shutdown_grace_seconds=5", "--log_requests=off"]
        + list(flags), stdout=subprocess.PIPE)
    return process, "127.0.0.1:%d" % read_port(process, 120)


def stop_server(process):
    process.terminate()
    process.wait(timeout=30)


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.process, cls.target = start_server()
        cls.client = tinylm.Client(cls.target)
        cls.channel = grpc.insecure_channel(cls.target)
        grpc.channel_ready_future(cls.channel).result(timeout=60)
        cls.stub = tinylm_pb2_grpc.TinyLMStub(cls.channel)
        cls.names = [m.name for m in cls.client.models()]

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.channel.close()
        stop_server(cls.process)

    def test_installed_not_the_source_tree(self):
        self.assertNotIn(os.path.join(ROOT, "python"), tinylm.__file__)

    def test_models_as_listed(self):
        raw = self.stub.ListModels(pb.ListModelsRequest(), timeout=30).models
        models = self.client.models()
        self.assertEqual([m.name for m in models], [m.name for m in raw])
        for ours, theirs in zip(models, raw):
            self.assertEqual(ours.n_layer, theirs.dims.n_layer)
            self.assertEqual(ours.n_head, theirs.dims.n_head)
            self.assertEqual(ours.context_length, theirs.context_length)
            self.assertEqual(ours.checkpoint_sha256, theirs.checkpoint_sha256)

    def test_generate_streams_the_rpc_tokens(self):
        model = self.names[0]
        generation = self.client.generate(model, PROMPT, max_new_tokens=10,
                                          temperature=0.8, seed=5, top_n=3)
        tokens = list(generation)
        raw = list(self.stub.Generate(pb.GenerateRequest(
            model=model, text=PROMPT, max_new_tokens=10, top_n=3,
            sampling=pb.SamplingParams(temperature=0.8, seed=5)), timeout=60))
        raw_tokens = [r.token for r in raw if r.HasField("token")]
        self.assertEqual([t.id for t in tokens], [t.id for t in raw_tokens])
        self.assertEqual([t.index for t in tokens], list(range(len(tokens))))
        self.assertEqual(generation.text, "".join(t.text for t in raw_tokens))
        for t in tokens:
            self.assertEqual(len(t.alternatives), 3)
        summary = generation.summary
        self.assertIsNotNone(summary)
        self.assertEqual(summary.seed, 5)
        self.assertIn(summary.finish_reason, ("length", "eos"))
        eos = summary.finish_reason == "eos"
        self.assertEqual(summary.generated_tokens, len(tokens) - eos)
        self.assertEqual(summary.prompt_tokens, raw[-1].summary.prompt_tokens)

    def test_generate_from_token_ids(self):
        model = self.names[0]
        # The ids the server used for the text (Tokenize's, after BOS).
        ids = self.client.attention(model, PROMPT).token_ids
        by_text = [t.id for t in self.client.generate(
            model, PROMPT, max_new_tokens=6, temperature=0)]
        by_ids = [t.id for t in self.client.generate(
            model, ids, max_new_tokens=6, temperature=0)]
        self.assertEqual(by_text, by_ids)

    def test_topk_as_the_rpc(self):
        model = self.names[-1]
        ours = self.client.topk(model, PROMPT, k=5)
        raw = self.stub.TopK(pb.TopKRequest(model=model, text=PROMPT, k=5),
                             timeout=30)
        self.assertEqual([c.id for c in ours.tokens], [t.id for t in raw.tokens])
        self.assertEqual([c.probability for c in ours.tokens],
                         [t.probability for t in raw.tokens])
        probabilities = [c.probability for c in ours.tokens]
        self.assertEqual(probabilities, sorted(probabilities, reverse=True))
        self.assertEqual(ours.prompt_tokens, raw.prompt_tokens)

    def test_attention_array_holds_the_maps(self):
        model = self.names[0]
        maps = self.client.attention(model, PROMPT)
        raw = self.stub.AttentionMaps(
            pb.AttentionMapsRequest(model=model, text=PROMPT), timeout=60)
        info = next(m for m in self.client.models() if m.name == model)
        t = len(raw.token_ids)
        self.assertEqual(maps.weights.shape, (info.n_layer, info.n_head, t, t))
        self.assertEqual(maps.tokens, list(raw.tokens))
        for m in raw.maps:
            values = array.array("f")
            values.frombytes(m.data)
            expected = np.array(values, dtype=np.float32).reshape(t, t)
            np.testing.assert_array_equal(maps.weights[m.layer, m.head],
                                          expected)
        np.testing.assert_allclose(maps.weights.sum(-1), 1.0, atol=1e-5)
        self.assertEqual(np.triu(maps.weights, k=1).max(), 0.0)

    def test_attention_subset_and_float16(self):
        model = self.names[0]
        full = self.client.attention(model, PROMPT)
        last = full.layers[-1]
        part = self.client.attention(model, PROMPT, layers=[last], heads=[0],
                                     float16=True)
        self.assertEqual((part.layers, part.heads), ([last], [0]))
        np.testing.assert_allclose(part.weights[0, 0], full.weights[last, 0],
                                   atol=1e-3)

    def test_compare_every_model_one_seed(self):
        results = self.client.compare(PROMPT, max_new_tokens=4, seed=3,
                                      temperature=0.7)
        self.assertEqual([r.model for r in results], self.names)
        for r in results:
            info = next(m for m in self.client.models() if m.name == r.model)
            self.assertEqual(len(r.attention_entropy), info.n_layer)
            self.assertEqual(len(r.top_k), 5)
            self.assertLessEqual(len(r.continuation_ids), 4)

    def test_score_as_the_rpc(self):
        ours = self.client.score(PROMPT)
        raw = self.stub.Score(pb.ScoreRequest(text=PROMPT), timeout=60)
        self.assertEqual([r.model for r in ours], self.names)
        for mine, theirs in zip(ours, raw.results):
            self.assertEqual([t.id for t in mine.tokens],
                             [t.id for t in theirs.tokens])
            self.assertIsNone(mine.tokens[0].logprob)
            logprobs = [t.logprob for t in mine.tokens[1:]]
            self.assertEqual(logprobs, [t.logprob for t in theirs.tokens[1:]])
            self.assertAlmostEqual(mine.mean_loss, -np.mean(logprobs),
                                   places=5)
            self.assertAlmostEqual(mine.perplexity, np.exp(mine.mean_loss),
                                   places=3)
        only = self.client.score(PROMPT, models=[self.names[0]])
        self.assertEqual([r.model for r in only], [self.names[0]])

    def test_logit_lens_ends_in_the_models_own_prediction(self):
        model = self.names[0]
        info = next(m for m in self.client.models() if m.name == model)
        lens = self.client.logit_lens(model, PROMPT, k=5)
        ids, _ = self.client.tokenize(model, PROMPT)
        self.assertEqual(lens.token_ids, ids)
        [last] = lens.positions
        self.assertEqual(last.position, len(ids) - 1)
        self.assertEqual([l.layer for l in last.layers],
                         list(range(-1, info.n_layer)))
        final = last.layers[-1]
        self.assertAlmostEqual(final.kl_from_final, 0.0, places=6)
        top = self.client.topk(model, PROMPT, k=5)
        self.assertEqual([c.id for c in final.tokens],
                         [c.id for c in top.tokens])
        first = self.client.logit_lens(model, PROMPT, k=2, positions=[0, 1])
        self.assertEqual([p.position for p in first.positions], [0, 1])
        self.assertTrue(all(len(l.tokens) == 2
                            for p in first.positions for l in p.layers))

    def test_tokenize_round_trip(self):
        model = self.names[0]
        ids, pieces = self.client.tokenize(model, PROMPT)
        self.assertEqual(len(ids), len(pieces))
        self.assertEqual(self.client.detokenize(model, ids), PROMPT)

    def test_typed_errors(self):
        with self.assertRaises(errors.NotFound) as caught:
            self.client.topk("no-such-model", PROMPT)
        self.assertEqual(caught.exception.code, grpc.StatusCode.NOT_FOUND)
        self.assertIn("no-such-model", caught.exception.details)
        with self.assertRaises(errors.InvalidArgument):
            self.client.topk(self.names[0], PROMPT, k=0)
        with self.assertRaises(errors.InvalidArgument):
            list(self.client.generate(self.names[0], "", max_new_tokens=2))
        self.assertTrue(issubclass(errors.NotFound, tinylm.TinyLMError))

    def test_unreachable_server_is_unavailable(self):
        with tinylm.Client("127.0.0.1:1", timeout=5) as client:
            with self.assertRaises(errors.Unavailable):
                client.models()

    def test_token_refused_on_a_plain_channel(self):
        with self.assertRaises(ValueError):
            tinylm.Client(self.target, token="secret")


class SecuredServerTest(unittest.TestCase):
    """TLS with the test CA and a bearer token."""

    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.TemporaryDirectory()
        token_file = os.path.join(cls.scratch.name, "token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        cls.process, cls.target = start_server(
            "--models=base", "--tls_cert=" + os.path.join(CERTS, "server.pem"),
            "--tls_key=" + os.path.join(CERTS, "server.key"),
            "--auth_token_file=" + token_file)
        with open(os.path.join(CERTS, "ca.pem"), "rb") as f:
            cls.ca = f.read()

    @classmethod
    def tearDownClass(cls):
        stop_server(cls.process)
        cls.scratch.cleanup()

    def client(self, token):
        return tinylm.Client(self.target, tls=True, root_certificates=self.ca,
                             token=token)

    def test_tls_and_token(self):
        with self.client(TOKEN) as client:
            self.assertEqual([m.name for m in client.models()], ["base"])
            self.assertEqual(len(client.topk("base", PROMPT, k=3).tokens), 3)
            tokens = list(client.generate("base", PROMPT, max_new_tokens=3,
                                          temperature=0))
            self.assertGreater(len(tokens), 0)

    def test_missing_or_wrong_token_is_unauthenticated(self):
        for token in (None, "wrong"):
            with self.client(token) as client:
                with self.assertRaises(errors.Unauthenticated):
                    client.models()
                with self.assertRaises(errors.Unauthenticated):
                    list(client.generate("base", PROMPT, max_new_tokens=2))


if __name__ == "__main__":
    unittest.main(verbosity=2)
