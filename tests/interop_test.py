#!/usr/bin/python3
"""Interoperability test: a client that is not ours (Python grpcio) talks to
the real tinylm-server binary.

Starts the server on a free loopback port with the given checkpoints, waits
until the health service reports SERVING, calls Generate, TopK,
AttentionMaps, ListModels and health, then stops the server with SIGTERM and
checks that it exits 0.

Usage: interop_test.py SERVER_BINARY PYTHON_STUBS_DIR CHECKPOINTS_DIR
"""

import array
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

import grpc

SERVER, STUBS, CHECKPOINTS = sys.argv[1:4]
sys.path.insert(0, STUBS)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tools"))
from grpc_health_v1 import health_pb2, health_pb2_grpc  # noqa: E402
from tinylm.v1 import tinylm_pb2, tinylm_pb2_grpc  # noqa: E402
from server_process import read_port, rss_kb  # noqa: E402

START_TIMEOUT_S = 120
PROMPT = "吾輩は猫である。"


class InteropTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.process = subprocess.Popen(
            [SERVER, "--listen=127.0.0.1:0", "--checkpoints=" + CHECKPOINTS,
             "--device=cpu", "--shutdown_grace_seconds=5"],
            stdout=subprocess.PIPE)
        port = read_port(cls.process, START_TIMEOUT_S)
        cls.channel = grpc.insecure_channel("127.0.0.1:%d" % port)
        cls.stub = tinylm_pb2_grpc.TinyLMStub(cls.channel)
        cls.health = health_pb2_grpc.HealthStub(cls.channel)
        cls.wait_serving()

    @classmethod
    def wait_serving(cls):
        # Bounded polling of the health RPC (the server may still be binding).
        for _ in range(100):
            try:
                reply = cls.health.Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=5)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            grpc.channel_ready_future(cls.channel).result(timeout=5)
        raise AssertionError("server never reported SERVING")

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        if cls.process.poll() is None:
            cls.process.kill()
            cls.process.wait()

    def test_1_list_models(self):
        reply = self.stub.ListModels(tinylm_pb2.ListModelsRequest(),
                                     timeout=30)
        names = [m.name for m in reply.models]
        self.assertEqual(names, sorted(names))
        self.assertGreaterEqual(len(names), 1)
        for info in reply.models:
            self.assertEqual(len(info.checkpoint_sha256), 64)
            self.assertGreater(info.parameters, 0)
            self.assertEqual(info.device, "cpu")
            json.loads(info.training_json or "null")
        self.__class__.models = names

    def test_2_health_per_model(self):
        for name in self.models:
            reply = self.health.Check(health_pb2.HealthCheckRequest(
                service="tinylm.v1.TinyLM/" + name), timeout=10)
            self.assertEqual(reply.status,
                             health_pb2.HealthCheckResponse.SERVING)
        with self.assertRaises(grpc.RpcError) as error:
            self.health.Check(health_pb2.HealthCheckRequest(
                service="tinylm.v1.TinyLM/nope"), timeout=10)
        self.assertEqual(error.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_3_generate_is_reproducible(self):
        request = tinylm_pb2.GenerateRequest(
            model=self.models[0], text=PROMPT, max_new_tokens=8,
            sampling=tinylm_pb2.SamplingParams(temperature=0.8, seed=9))
        runs = []
        for _ in range(2):
            tokens, summary = [], None
            for reply in self.stub.Generate(request, timeout=60):
                if reply.HasField("token"):
                    self.assertIsNone(summary)
                    tokens.append(reply.token)
                else:
                    summary = reply.summary
            self.assertIsNotNone(summary)
            self.assertEqual(summary.seed, 9)
            # The end-of-sequence token is streamed but not counted.
            eos = summary.finish_reason == tinylm_pb2.FINISH_REASON_EOS
            self.assertEqual(summary.generated_tokens, len(tokens) - eos)
            self.assertIn(summary.finish_reason,
                          (tinylm_pb2.FINISH_REASON_LENGTH,
                           tinylm_pb2.FINISH_REASON_EOS))
            runs.append([t.id for t in tokens])
        self.assertEqual(runs[0], runs[1])

    def test_4_topk(self):
        reply = self.stub.TopK(tinylm_pb2.TopKRequest(
            model=self.models[0], text=PROMPT, k=5), timeout=30)
        probs = [t.probability for t in reply.tokens]
        self.assertEqual(len(probs), 5)
        self.assertEqual(probs, sorted(probs, reverse=True))
        self.assertLessEqual(sum(probs), 1.0 + 1e-5)

    def test_5_attention_maps(self):
        reply = self.stub.AttentionMaps(tinylm_pb2.AttentionMapsRequest(
            model=self.models[0], text=PROMPT, layers=[0]), timeout=30)
        n = len(reply.token_ids)
        self.assertEqual(len(reply.tokens), n)
        self.assertGreaterEqual(len(reply.maps), 1)
        for m in reply.maps:
            self.assertEqual(list(m.shape), [n, n])
            values = array.array("f")
            values.frombytes(m.data)
            for i in range(n):
                row = values[i * n:(i + 1) * n]
                self.assertAlmostEqual(sum(row), 1.0, places=4)
                self.assertTrue(all(v == 0.0 for v in row[i + 1:]))

    def test_6_bad_request_is_invalid_argument(self):
        with self.assertRaises(grpc.RpcError) as error:
            self.stub.TopK(tinylm_pb2.TopKRequest(
                model=self.models[0], text=PROMPT, k=0), timeout=30)
        self.assertEqual(error.exception.code(),
                         grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("k: must be at least 1", error.exception.details())

    def test_6b_refused_long_prompts_leave_memory_flat(self):
        # Three refused 1 MB prompts once took a fresh server from 249 to
        # 770 MB: the text was tokenized before its length was checked.
        text = "吾輩は猫である。" * (1000000 // 24)
        before = rss_kb(self.process.pid)
        for _ in range(3):
            with self.assertRaises(grpc.RpcError) as error:
                list(self.stub.Generate(tinylm_pb2.GenerateRequest(
                    model=self.models[0], text=text, max_new_tokens=1),
                    timeout=60))
            self.assertEqual(error.exception.code(),
                             grpc.StatusCode.INVALID_ARGUMENT)
            self.assertIn("bytes make at least", error.exception.details())
        grown_mb = (rss_kb(self.process.pid) - before) / 1024
        self.assertLess(grown_mb, 40, "RSS grew by %.0f MB" % grown_mb)

    def test_7_sigterm_stops_the_server_cleanly(self):
        # A stream in flight when SIGTERM arrives still ends properly.
        stream = self.stub.Generate(tinylm_pb2.GenerateRequest(
            model=self.models[0], text=PROMPT, max_new_tokens=16,
            sampling=tinylm_pb2.SamplingParams(temperature=0)), timeout=60)
        first = next(stream)
        self.assertTrue(first.HasField("token"))
        self.process.send_signal(signal.SIGTERM)
        replies = list(stream)
        self.assertTrue(replies and replies[-1].HasField("summary"))
        self.assertEqual(self.process.wait(timeout=60), 0)


class BrokenCheckpointTest(unittest.TestCase):
    def test_start_up_fails_naming_the_file(self):
        with tempfile.TemporaryDirectory() as root:
            names = sorted(os.listdir(CHECKPOINTS))
            broken = os.path.join(root, names[0])
            shutil.copytree(os.path.join(CHECKPOINTS, names[0]), broken)
            weights = os.path.join(broken, "model.safetensors")
            with open(weights, "r+b") as f:
                f.truncate(100)
            result = subprocess.run(
                [SERVER, "--listen=127.0.0.1:0", "--checkpoints=" + root,
                 "--device=cpu"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        self.assertEqual(result.returncode, 1)
        message = result.stderr.decode()
        self.assertIn("model.safetensors", message)
        self.assertIn(names[0], message)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
