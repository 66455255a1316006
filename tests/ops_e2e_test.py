#!/usr/bin/python3
"""Operations end to end, against the real tinylm-server binary.

- An invalid command line exits 2 naming the flag; --help exits 0.
- A server with TLS, a bearer token, /metrics and JSON request logs: a
  Python grpcio client (not ours) over TLS with and without the token, the
  health service without it, the tinylm CLI and tinylm-bench with their
  --tls_ca/--auth_token_file flags; /metrics fetched over HTTP shows the
  calls (an error included) and passes `promtool check metrics`; the
  request log has a line with the client's x-request-id.

Usage: ops_e2e_test.py SERVER CLIENT BENCH STUBS CHECKPOINTS CERTS PROMTOOL
(CLIENT, BENCH or PROMTOOL "-" when not built or installed: those parts
are skipped.)
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

import grpc

SERVER, CLIENT, BENCH, STUBS, CHECKPOINTS, CERTS, PROMTOOL = sys.argv[1:8]
sys.path.insert(0, STUBS)
from grpc_health_v1 import health_pb2, health_pb2_grpc  # noqa: E402
from tinylm.v1 import tinylm_pb2, tinylm_pb2_grpc  # noqa: E402

START_TIMEOUT_S = 120
PROMPT = "吾輩は猫である。"
TOKEN = "ops-e2e-token.0123456789"


def cert(name):
    return os.path.join(CERTS, name)


def read(path):
    with open(path, "rb") as f:
        return f.read()


class BadFlagsTest(unittest.TestCase):
    def run_server(self, *flags):
        return subprocess.run([SERVER, "--checkpoints=" + CHECKPOINTS] +
                              list(flags), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=60)

    def test_invalid_values_exit_2_naming_the_flag(self):
        with tempfile.TemporaryDirectory() as scratch:
            empty = os.path.join(scratch, "empty")
            open(empty, "w").close()
            cases = [
                (["--max_batch=abc"], "max_batch"),
                (["--nosuchflag"], "nosuchflag"),
                (["--max_batch=0"], "--max_batch=0"),
                (["--max_queued=-1"], "--max_queued=-1"),
                (["--admit_every_steps=-1"], "--admit_every_steps=-1"),
                (["--max_streams_per_model=0"], "--max_streams_per_model"),
                (["--max_prompt_tokens=0"], "--max_prompt_tokens"),
                (["--retry_after_ms=0"], "--retry_after_ms"),
                (["--default_deadline_seconds=-1"], "--default_deadline"),
                (["--max_attention_bytes=8388608"], "--max_send_message_bytes"),
                (["--max_receive_message_bytes=10"], "--max_receive_message"),
                (["--listen=nonsense"], "--listen=nonsense"),
                (["--tls_cert=" + cert("server.pem")], "go together"),
                (["--tls_cert=" + cert("server.pem"),
                  "--tls_key=" + cert("client.key")], "does not belong"),
                (["--tls_client_ca=" + cert("ca.pem")], "--tls_client_ca"),
                (["--auth_token_file=/nonexistent/token"],
                 "--auth_token_file=/nonexistent/token"),
                (["--auth_token_file=" + empty], "empty"),
                (["--metrics_listen=9090"], "--metrics_listen=9090"),
                (["--log_requests=xml"], "--log_requests=xml"),
                (["--shutdown_grace_seconds=-3"], "--shutdown_grace_seconds"),
            ]
            for flags, message in cases:
                result = self.run_server(*flags)
                self.assertEqual(result.returncode, 2, (flags, result.stderr))
                self.assertIn(message, result.stderr.decode(), flags)

    def test_help_lists_the_flags_and_exits_0(self):
        result = subprocess.run([SERVER, "--help"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(result.returncode, 0)
        text = result.stdout.decode()
        for flag in ("--max_streams_per_model", "--max_queued",
                     "--max_prompt_tokens", "--default_deadline_seconds",
                     "--max_receive_message_bytes", "--tls_cert",
                     "--tls_client_ca", "--auth_token_file",
                     "--metrics_listen", "--log_requests", "--listen"):
            self.assertIn(flag, text)


class SecuredServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.TemporaryDirectory()
        cls.token_file = os.path.join(cls.scratch.name, "token")
        with open(cls.token_file, "w") as f:
            f.write(TOKEN + "\n")
        cls.process = subprocess.Popen(
            [SERVER, "--listen=127.0.0.1:0", "--checkpoints=" + CHECKPOINTS,
             "--models=base", "--device=cpu", "--shutdown_grace_seconds=5",
             "--tls_cert=" + cert("server.pem"),
             "--tls_key=" + cert("server.key"),
             "--auth_token_file=" + cls.token_file,
             "--metrics_listen=127.0.0.1:0", "--log_requests=json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        cls.lines = {"out": [], "err": []}
        cls.changed = threading.Condition()
        for name, stream in (("out", cls.process.stdout),
                             ("err", cls.process.stderr)):
            threading.Thread(target=cls.collect, args=(name, stream),
                             daemon=True).start()
        cls.port, cls.metrics_port = cls.read_ports()
        credentials = grpc.ssl_channel_credentials(
            root_certificates=read(cert("ca.pem")))
        cls.address = "127.0.0.1:%d" % cls.port
        cls.channel = grpc.secure_channel(cls.address, credentials)
        cls.stub = tinylm_pb2_grpc.TinyLMStub(cls.channel)
        cls.auth = (("authorization", "Bearer " + TOKEN),)

    @classmethod
    def collect(cls, name, stream):
        """Keeps the lines of stdout or stderr ("out", "err") as they come."""
        for line in stream:
            with cls.changed:
                cls.lines[name].append(line.decode(errors="replace"))
                cls.changed.notify_all()
        with cls.changed:
            cls.lines[name].append(None)  # the end
            cls.changed.notify_all()

    @classmethod
    def wait_for_line(cls, name, pattern, timeout_s):
        """The first line of stream `name` matching `pattern`, waiting at
        most timeout_s; None if the stream ends or time runs out first."""
        def find():
            for line in cls.lines[name]:
                if line is None:
                    return ""
                if re.search(pattern, line):
                    return line
            return None
        with cls.changed:
            cls.changed.wait_for(lambda: find() is not None, timeout=timeout_s)
            return find() or None

    @classmethod
    def read_ports(cls):
        # The metrics line comes first, then the serving line.
        serving = cls.wait_for_line("out", r"with TLS on port \d+",
                                    START_TIMEOUT_S)
        if serving is None:
            raise AssertionError("server did not start: %r" % cls.lines)
        metrics = cls.wait_for_line("out", r"metrics at http://", 0)
        return (int(re.search(r"on port (\d+)", serving).group(1)),
                int(re.search(r":(\d+)/metrics", metrics).group(1)))

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.process.send_signal(signal.SIGTERM)
        try:
            cls.process.wait(timeout=60)
        finally:
            if cls.process.poll() is None:
                cls.process.kill()
                cls.process.wait()
            cls.scratch.cleanup()

    def log_line_of(self, request_id, timeout_s=30):
        """The parsed log line of request_id (written before the status)."""
        line = self.wait_for_line("err", re.escape(request_id), timeout_s)
        self.assertIsNotNone(line, "no log line for %s" % request_id)
        return json.loads(line)

    def metrics(self):
        url = "http://127.0.0.1:%d/metrics" % self.metrics_port
        with urllib.request.urlopen(url, timeout=30) as reply:
            self.assertEqual(reply.status, 200)
            self.assertIn("text/plain", reply.headers["Content-Type"])
            return reply.read().decode()

    def test_1_token_and_request_id(self):
        names = [m.name for m in self.stub.ListModels(
            tinylm_pb2.ListModelsRequest(), metadata=self.auth,
            timeout=30).models]
        self.assertEqual(names, ["base"])

        request = tinylm_pb2.GenerateRequest(
            model="base", text=PROMPT, max_new_tokens=4,
            sampling=tinylm_pb2.SamplingParams(seed=3))
        call = self.stub.Generate(
            request, timeout=60,
            metadata=self.auth + (("x-request-id", "ops-e2e-gen-1"),))
        replies = list(call)
        self.assertTrue(replies[-1].HasField("summary"))
        self.assertIn(("x-request-id", "ops-e2e-gen-1"),
                      call.initial_metadata())
        self.assertIn(("x-request-id", "ops-e2e-gen-1"),
                      call.trailing_metadata())
        line = self.log_line_of("ops-e2e-gen-1")
        self.assertEqual(line["rpc"], "Generate")
        self.assertEqual(line["model"], "base")
        self.assertEqual(line["code"], "OK")
        self.assertEqual(line["generated_tokens"], 4)
        self.assertGreater(line["prompt_tokens"], 0)
        self.assertIsNotNone(line["ttft_ms"])

        with self.assertRaises(grpc.RpcError) as error:
            self.stub.TopK(tinylm_pb2.TopKRequest(model="base", text=PROMPT,
                                                  k=3), timeout=30)
        self.assertEqual(error.exception.code(),
                         grpc.StatusCode.UNAUTHENTICATED)
        with self.assertRaises(grpc.RpcError) as error:
            self.stub.TopK(
                tinylm_pb2.TopKRequest(model="base", text=PROMPT, k=3),
                metadata=(("authorization", "Bearer wrong"),), timeout=30)
        self.assertEqual(error.exception.code(),
                         grpc.StatusCode.UNAUTHENTICATED)
        with self.assertRaises(grpc.RpcError) as error:
            self.stub.TopK(tinylm_pb2.TopKRequest(model="nope", text=PROMPT,
                                                  k=3),
                           metadata=self.auth, timeout=30)
        self.assertEqual(error.exception.code(), grpc.StatusCode.NOT_FOUND)
        reply = self.stub.TopK(tinylm_pb2.TopKRequest(model="base",
                                                      text=PROMPT, k=3),
                               metadata=self.auth, timeout=30)
        self.assertEqual(len(reply.tokens), 3)

        health = health_pb2_grpc.HealthStub(self.channel)
        self.assertEqual(health.Check(health_pb2.HealthCheckRequest(),
                                      timeout=30).status,
                         health_pb2.HealthCheckResponse.SERVING)

    def test_2_plaintext_client_fails(self):
        with grpc.insecure_channel(self.address) as channel:
            with self.assertRaises(grpc.RpcError) as error:
                tinylm_pb2_grpc.TinyLMStub(channel).ListModels(
                    tinylm_pb2.ListModelsRequest(), metadata=self.auth,
                    timeout=30)
        self.assertEqual(error.exception.code(), grpc.StatusCode.UNAVAILABLE)

    def test_3_cli_client_flags(self):
        if CLIENT == "-":
            self.skipTest("the tinylm client is not built")
        base = [CLIENT, "--server=" + self.address, "--model=base",
                "--tls_ca=" + cert("ca.pem")]
        ok = subprocess.run(
            base + ["--auth_token_file=" + self.token_file, "--seed=1",
                    "--max_new_tokens=3", "generate", PROMPT],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertTrue(ok.stdout.decode().startswith(PROMPT))
        refused = subprocess.run(base + ["tokenize", PROMPT],
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, timeout=120)
        self.assertEqual(refused.returncode, 8, refused.stderr)
        self.assertIn("--auth_token_file", refused.stderr.decode())
        health = subprocess.run(base + ["health"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, timeout=120)
        self.assertEqual(health.returncode, 0, health.stderr)

    def test_4_bench_flags(self):
        if BENCH == "-":
            self.skipTest("tinylm-bench is not built")
        result = subprocess.run(
            [BENCH, "--server=" + self.address, "--tls_ca=" + cert("ca.pem"),
             "--auth_token_file=" + self.token_file, "--models=base",
             "--concurrency=1", "--requests=2", "--warmup_requests=0",
             "--max_new_tokens=2", "--prompt_tokens=4", "--num_prompts=2"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_5_metrics(self):
        text = self.metrics()
        def value(pattern):
            match = re.search(r"^%s (\S+)$" % pattern, text, re.MULTILINE)
            self.assertIsNotNone(match, pattern)
            return float(match.group(1))
        self.assertGreaterEqual(
            value(r'tinylm_requests_total\{code="OK",rpc="Generate"\}'), 1)
        self.assertGreaterEqual(
            value(r'tinylm_requests_total\{code="NOT_FOUND",rpc="TopK"\}'), 1)
        self.assertGreaterEqual(value(
            r'tinylm_requests_total\{code="UNAUTHENTICATED",rpc="TopK"\}'), 2)
        self.assertGreaterEqual(
            value(r'tinylm_generated_tokens_total\{model="base"\}'), 4)
        self.assertGreaterEqual(value(
            r'tinylm_time_to_first_token_seconds_count\{model="base"\}'), 1)
        self.assertGreaterEqual(value(
            r'tinylm_inter_token_latency_seconds_count\{model="base"\}'), 3)
        self.assertGreaterEqual(value(
            r'tinylm_batch_size_count\{model="base",phase="decode"\}'), 1)
        self.assertEqual(value(r'tinylm_queue_depth\{model="base"\}'), 0)
        self.assertEqual(value(r'tinylm_kv_cache_slots\{model="base"\}'), 16)
        self.assertGreaterEqual(
            value(r'tinylm_kv_cache_slots_used\{model="base"\}'), 0)
        self.assertGreater(value("process_resident_memory_bytes"), 1e6)
        if PROMTOOL == "-":
            self.skipTest("promtool is not installed")
        check = subprocess.run([PROMTOOL, "check", "metrics"],
                               input=text.encode(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=60)
        self.assertEqual(check.returncode, 0, check.stdout.decode())
        self.assertEqual(check.stdout.decode().strip(), "")


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0]], verbosity=2)
