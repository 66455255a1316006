#!/usr/bin/python3
"""Smoke test of a running tinylm container, from outside it, with a client
that is not ours (Python grpcio and stubs generated from the .proto files).

Checks the health service (whole server and each model), that ListModels
reports exactly the checkpoints the image was built with (names and SHA-256
of each model.safetensors), a reproducible Generate, and a Tokenize /
Detokenize round trip.

Usage: docker_smoke.py HOST:PORT PYTHON_STUBS_DIR CHECKPOINTS_DIR [DEVICE]
  PYTHON_STUBS_DIR: <build>/python (tinylm.v1 and grpc_health_v1 stubs)
  CHECKPOINTS_DIR:  the checkpoints copied into the image (models/checkpoints)
  DEVICE:           the device the models must report (default cpu)
Exit status 0 when every check passed.
"""

import hashlib
import os
import sys
import time
import unittest

import grpc

ADDRESS, STUBS, CHECKPOINTS = sys.argv[1:4]
DEVICE = sys.argv[4] if len(sys.argv) > 4 else "cpu"
sys.path.insert(0, STUBS)
from grpc_health_v1 import health_pb2, health_pb2_grpc  # noqa: E402
from tinylm.v1 import tinylm_pb2, tinylm_pb2_grpc  # noqa: E402

PROMPT = "吾輩は猫である。"
READY_TIMEOUT_S = 120


def shipped_checkpoints():
    """{name: sha256 of model.safetensors} of the checkpoints directory."""
    digests = {}
    for name in sorted(os.listdir(CHECKPOINTS)):
        path = os.path.join(CHECKPOINTS, name, "model.safetensors")
        if os.path.isfile(path):
            with open(path, "rb") as f:
                digests[name] = hashlib.sha256(f.read()).hexdigest()
    return digests


class DockerSmokeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.channel = grpc.insecure_channel(ADDRESS)
        cls.stub = tinylm_pb2_grpc.TinyLMStub(cls.channel)
        cls.health = health_pb2_grpc.HealthStub(cls.channel)
        cls.expected = shipped_checkpoints()
        # The container may still be loading its checkpoints: wait for the
        # channel (bounded) before the first call.
        grpc.channel_ready_future(cls.channel).result(timeout=READY_TIMEOUT_S)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()

    def test_1_health_server(self):
        deadline = time.monotonic() + READY_TIMEOUT_S
        status = None
        while time.monotonic() < deadline:
            status = self.health.Check(
                health_pb2.HealthCheckRequest(service=""), timeout=10).status
            if status == health_pb2.HealthCheckResponse.SERVING:
                return
            time.sleep(1)  # polling a remote process: nothing to wait on
        self.fail("server health is %s, not SERVING" % status)

    def test_2_list_models_matches_image(self):
        reply = self.stub.ListModels(tinylm_pb2.ListModelsRequest(),
                                     timeout=30)
        served = {m.name: m.checkpoint_sha256 for m in reply.models}
        self.assertGreater(len(self.expected), 0, CHECKPOINTS)
        self.assertEqual(served, self.expected)
        for info in reply.models:
            self.assertGreater(info.parameters, 0, info.name)
            self.assertEqual(info.device.split(":")[0], DEVICE, info.name)

    def test_3_health_per_model(self):
        for name in self.expected:
            reply = self.health.Check(health_pb2.HealthCheckRequest(
                service="tinylm.v1.TinyLM/" + name), timeout=10)
            self.assertEqual(reply.status,
                             health_pb2.HealthCheckResponse.SERVING, name)

    def test_4_generate_is_reproducible(self):
        model = sorted(self.expected)[0]
        request = tinylm_pb2.GenerateRequest(
            model=model, text=PROMPT, max_new_tokens=12,
            sampling=tinylm_pb2.SamplingParams(temperature=0.8, seed=11))
        runs = []
        for _ in range(2):
            tokens, summary = [], None
            for reply in self.stub.Generate(request, timeout=120):
                if reply.HasField("token"):
                    tokens.append(reply.token)
                else:
                    summary = reply.summary
            self.assertIsNotNone(summary)
            self.assertEqual(summary.seed, 11)
            self.assertGreater(summary.prompt_tokens, 0)
            # The end-of-sequence token is streamed but not counted.
            eos = summary.finish_reason == tinylm_pb2.FINISH_REASON_EOS
            self.assertEqual(summary.generated_tokens, len(tokens) - eos)
            self.assertIn(summary.finish_reason,
                          (tinylm_pb2.FINISH_REASON_LENGTH,
                           tinylm_pb2.FINISH_REASON_EOS))
            runs.append(([t.id for t in tokens],
                         "".join(t.text for t in tokens)))
        self.assertEqual(runs[0], runs[1])
        print("\n  generate(%s): %r" % (model, PROMPT + runs[0][1]),
              file=sys.stderr)

    def test_5_tokenize_round_trip(self):
        model = sorted(self.expected)[0]
        ids = self.stub.Tokenize(tinylm_pb2.TokenizeRequest(
            model=model, text=PROMPT), timeout=30).ids
        self.assertGreater(len(ids), 0)
        text = self.stub.Detokenize(tinylm_pb2.DetokenizeRequest(
            model=model, ids=ids), timeout=30).text
        self.assertEqual(text, PROMPT)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
