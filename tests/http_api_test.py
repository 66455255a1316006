"""The HTTP face of the real tinylm-server (--http_listen) against clients
that are not ours: curl for the Connect protocol's JSON calls, the official
`openai` package for /v1/completions and /v1/models, and Python's own
http.client and sockets for framing, bad input and a client that goes away
mid-stream. Every answer is checked against the same call over gRPC
(grpcio). Runs in .venv (scripts/install-test-venv.sh: openai from PyPI);
exits 77 (skipped) where that is missing.

Usage: http_api_test.py SERVER_BINARY PYTHON_STUBS_DIR CHECKPOINTS_DIR CERTS_DIR
"""
import base64
import http.client
import json
import os
import re
import select
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import unittest

try:
    import openai
except ImportError:
    print("openai is not installed (scripts/install-test-venv.sh): skipped")
    sys.exit(77)

SERVER, STUBS, CHECKPOINTS, CERTS = sys.argv[1:5]
del sys.argv[1:5]
sys.path.insert(0, STUBS)
import grpc  # noqa: E402
from tinylm.v1 import tinylm_pb2 as pb, tinylm_pb2_grpc  # noqa: E402

PROMPT = "吾輩は猫である。"
TOKEN = "http-api-token"
MAX_BODY = 64 << 10  # --max_receive_message_bytes of the test server


class Server:
    """A tinylm-server with the HTTP face, its gRPC and HTTP ports."""

    def __init__(self, *flags):
        self.process = subprocess.Popen(
            [SERVER, "--listen=127.0.0.1:0", "--http_listen=127.0.0.1:0",
             "--checkpoints=" + CHECKPOINTS, "--device=cpu",
             "--shutdown_grace_seconds=5", "--log_requests=off",
             "--max_receive_message_bytes=%d" % MAX_BODY, *flags],
            stdout=subprocess.PIPE)
        ports = self._read_ports(120)
        self.grpc_port, self.http_port = ports["port"], ports["http_port"]
        self.channel = grpc.insecure_channel("127.0.0.1:%d" % self.grpc_port)
        self.stub = tinylm_pb2_grpc.TinyLMStub(self.channel)

    def _read_ports(self, timeout_s):
        """Both ports from the start-up lines ("on port N", "on http_port
        N"), read from the pipe's descriptor so that no line waits in a
        buffer that select cannot see."""
        fd, output = self.process.stdout.fileno(), b""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            grpc_port = re.search(rb"on port (\d+)", output)
            http_port = re.search(rb"on http_port (\d+)", output)
            if grpc_port and http_port:
                return {"port": int(grpc_port.group(1)),
                        "http_port": int(http_port.group(1))}
            ready, _, _ = select.select([fd], [], [], 1.0)
            if ready:
                data = os.read(fd, 4096)
                if not data:
                    break
                output += data
            elif self.process.poll() is not None:
                break
        raise RuntimeError("server did not start: %r" % output)

    def stop(self):
        self.channel.close()
        self.process.terminate()
        self.process.wait(timeout=30)
        self.process.stdout.close()

    def url(self, path, scheme="http"):
        return "%s://127.0.0.1:%d%s" % (scheme, self.http_port, path)


def curl(*args):
    """(HTTP status, body) of one curl call."""
    out = subprocess.run(
        ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", *args],
        check=True, capture_output=True).stdout
    body, _, status = out.rpartition(b"\n")
    return int(status), body


def connect_call(server, method, message, headers=None):
    """A unary Connect call with curl: (status, decoded JSON body)."""
    extra = []
    for key, value in (headers or {}).items():
        extra += ["-H", "%s: %s" % (key, value)]
    status, body = curl("-H", "Content-Type: application/json", *extra,
                        "-d", json.dumps(message),
                        server.url("/tinylm.v1.TinyLM/" + method))
    return status, json.loads(body)


def envelope(flags, payload):
    return struct.pack(">BI", flags, len(payload)) + payload


def stream_call(server, method, message):
    """A server-streaming Connect call: (status, content type, [(flags,
    payload)] of the response's envelopes)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port,
                                      timeout=60)
    conn.request("POST", "/tinylm.v1.TinyLM/" + method,
                 body=envelope(0, json.dumps(message).encode()),
                 headers={"Content-Type": "application/connect+json"})
    response = conn.getresponse()
    frames = envelopes(response.read())
    conn.close()
    return response.status, response.getheader("Content-Type"), frames


def envelopes(body):
    """[(flags, payload)] of a Connect streaming response body."""
    out = []
    while body:
        flags, length = struct.unpack(">BI", body[:5])
        out.append((flags, body[5:5 + length]))
        body = body[5 + length:]
    return out


def grpc_greedy(stub, model, prompt, n, top_n=0):
    """(tokens, summary) of a greedy Generate over gRPC."""
    request = pb.GenerateRequest(model=model, text=prompt, max_new_tokens=n,
                                 top_n=top_n)
    request.sampling.temperature = 0
    tokens, summary = [], None
    for response in stub.Generate(request, timeout=60):
        if response.HasField("token"):
            tokens.append(response.token)
        else:
            summary = response.summary
    return tokens, summary


class ConnectJsonTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("--max_prompt_tokens=64",
                            "--max_attention_bytes=4096")
        cls.names = [m.name for m in cls.server.stub.ListModels(
            pb.ListModelsRequest(), timeout=30).models]

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_topk_as_over_grpc(self):
        model = self.names[0]
        status, reply = connect_call(self.server, "TopK",
                                     {"model": model, "text": PROMPT, "k": 5})
        self.assertEqual(status, 200)
        want = self.server.stub.TopK(
            pb.TopKRequest(model=model, text=PROMPT, k=5), timeout=30)
        self.assertEqual([t["id"] for t in reply["tokens"]],
                         [t.id for t in want.tokens])
        for got, t in zip(reply["tokens"], want.tokens):
            self.assertAlmostEqual(got["probability"], t.probability, places=6)
        self.assertEqual(reply["promptTokens"], want.prompt_tokens)

    def test_attention_maps_bytes_as_over_grpc(self):
        model = self.names[0]
        status, reply = connect_call(
            self.server, "AttentionMaps",
            {"model": model, "text": PROMPT, "layers": [0]})
        self.assertEqual(status, 200)
        want = self.server.stub.AttentionMaps(
            pb.AttentionMapsRequest(model=model, text=PROMPT, layers=[0]),
            timeout=30)
        self.assertEqual(len(reply["maps"]), len(want.maps))
        for got, m in zip(reply["maps"], want.maps):
            self.assertEqual(base64.b64decode(got["data"]), m.data)

    def test_every_method_of_the_service_is_served(self):
        service = pb.DESCRIPTOR.services_by_name["TinyLM"]
        for method in service.methods:
            status, reply = curl(
                "-H", "Content-Type: application/json", "-d", "{\"x\": 1}",
                self.server.url("/tinylm.v1.TinyLM/" + method.name))
            # An unknown field is refused by the method's own parser, which
            # an unstreamed method answers as 400, a streamed one as 415
            # (wrong content type for a stream).
            self.assertIn(status, (400, 415), method.name)
            self.assertNotEqual(json.loads(reply)["code"], "unimplemented",
                                method.name)

    def test_generate_streams_the_grpc_tokens(self):
        model = self.names[-1]
        message = {"model": model, "text": PROMPT, "maxNewTokens": 6,
                   "sampling": {"temperature": 0}}
        status, content_type, frames = stream_call(self.server, "Generate",
                                                   message)
        self.assertEqual((status, content_type),
                         (200, "application/connect+json"))
        self.assertEqual(frames[-1], (2, b"{}"))
        messages = [json.loads(p) for _, p in frames[:-1]]
        want, summary = grpc_greedy(self.server.stub, model, PROMPT, 6)
        self.assertEqual([m["token"]["id"] for m in messages[:-1]],
                         [t.id for t in want])
        self.assertEqual(messages[-1]["summary"]["generatedTokens"],
                         summary.generated_tokens)

    def test_errors_carry_the_code_and_its_http_status(self):
        cases = [
            ({"model": "no-such-model", "text": PROMPT}, 404, "not_found"),
            ({"model": self.names[0], "text": PROMPT, "k": 100000}, 400,
             "invalid_argument"),
            ({"model": self.names[0], "text": "猫" * 400, "k": 5}, 400,
             "invalid_argument"),  # over --max_prompt_tokens
            ({"model": self.names[0], "txt": PROMPT}, 400, "invalid_argument"),
        ]
        cases = [("TopK", m, h, c) for m, h, c in cases] + [
            ("AttentionMaps", {"model": self.names[0], "text": "猫" * 15},
             429, "resource_exhausted"),  # over --max_attention_bytes
        ]
        for method, message, http_status, code in cases:
            status, reply = connect_call(self.server, method, message)
            self.assertEqual((status, reply["code"]), (http_status, code),
                             message)
            self.assertTrue(reply["message"])

    def test_streamed_errors_end_the_stream(self):
        message = {"model": "no-such-model", "text": PROMPT}
        status, _, frames = stream_call(self.server, "Generate", message)
        self.assertEqual(status, 200)
        self.assertEqual(frames[-1][0], 2)
        self.assertEqual(json.loads(frames[-1][1])["error"]["code"],
                         "not_found")

    def test_bad_requests(self):
        topk = self.server.url("/tinylm.v1.TinyLM/TopK")
        status, body = curl("-H", "Content-Type: application/json", "-d",
                            "{not json", topk)
        self.assertEqual((status, json.loads(body)["code"]),
                         (400, "invalid_argument"))
        status, body = curl("-H", "Content-Type: text/plain", "-d", "{}",
                            topk)
        self.assertEqual(status, 415)
        self.assertIn("application/json", json.loads(body)["message"])
        status, body = curl("-H", "Content-Type: application/json", "-d",
                            json.dumps({"model": "x", "text": "a" * MAX_BODY}),
                            topk)
        self.assertEqual(status, 413)
        self.assertIn("exceeds", json.loads(body)["message"])
        status, body = curl(self.server.url("/no/such/path"))
        self.assertEqual(status, 404)
        self.assertIn("no such endpoint", json.loads(body)["message"])
        status, body = curl("-H", "Content-Type: application/json", "-d",
                            "{}", self.server.url("/tinylm.v1.TinyLM/Nope"))
        self.assertEqual((status, json.loads(body)["code"]),
                         (501, "unimplemented"))
        status, body = curl("-H", "Content-Type: application/connect+json",
                            "-d", "{}",
                            self.server.url("/tinylm.v1.TinyLM/Generate"))
        self.assertEqual(json.loads(envelopes(body)[-1][1])["error"]["code"],
                         "invalid_argument")
        # Still serving.
        status, _ = connect_call(self.server, "ListModels", {})
        self.assertEqual(status, 200)

    def test_a_client_gone_mid_stream_leaves_the_server_serving(self):
        message = {"model": self.names[0], "text": PROMPT,
                   "maxNewTokens": 200}
        request = envelope(0, json.dumps(message).encode())
        for _ in range(3):
            sock = socket.create_connection(
                ("127.0.0.1", self.server.http_port), timeout=60)
            sock.sendall(b"POST /tinylm.v1.TinyLM/Generate HTTP/1.1\r\n"
                         b"Host: x\r\nContent-Type: application/connect+json"
                         b"\r\nContent-Length: %d\r\n\r\n" % len(request)
                         + request)
            self.assertIn(b"200", sock.recv(64))  # the stream has begun
            sock.close()
        status, reply = connect_call(
            self.server, "TopK", {"model": self.names[0], "text": PROMPT,
                                  "k": 5})
        self.assertEqual(status, 200)
        self.assertEqual(len(reply["tokens"]), 5)


class OpenAiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.client = openai.OpenAI(base_url=cls.server.url("/v1"),
                                   api_key="unused", max_retries=0)
        cls.names = [m.name for m in cls.server.stub.ListModels(
            pb.ListModelsRequest(), timeout=30).models]

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.server.stop()

    def test_models(self):
        self.assertEqual([m.id for m in self.client.models.list()],
                         self.names)

    def test_completion_is_the_greedy_generation(self):
        model = self.names[0]
        reply = self.client.completions.create(
            model=model, prompt=PROMPT, max_tokens=8, temperature=0,
            logprobs=3)
        want, summary = grpc_greedy(self.server.stub, model, PROMPT, 8,
                                    top_n=3)
        choice = reply.choices[0]
        self.assertEqual(choice.text, "".join(t.text for t in want))
        self.assertEqual(choice.finish_reason,
                         "length" if summary.finish_reason == 1 else "stop")
        self.assertEqual(reply.usage.prompt_tokens, summary.prompt_tokens)
        self.assertEqual(reply.usage.completion_tokens,
                         summary.generated_tokens)
        self.assertEqual(reply.usage.total_tokens,
                         summary.prompt_tokens + summary.generated_tokens)
        for got, t in zip(choice.logprobs.token_logprobs, want):
            self.assertAlmostEqual(got, t.logprob, places=5)
        for top, t in zip(choice.logprobs.top_logprobs, want):
            self.assertEqual(len(top), 3)
            self.assertEqual(set(top), {a.piece for a in t.alternatives})

    def test_streamed_completion_equals_the_whole(self):
        model = self.names[-1]
        whole = self.client.completions.create(
            model=model, prompt=PROMPT, max_tokens=8, temperature=0, seed=1)
        chunks = list(self.client.completions.create(
            model=model, prompt=PROMPT, max_tokens=8, temperature=0, seed=1,
            logprobs=2, stream=True, stream_options={"include_usage": True}))
        text = "".join(c.choices[0].text for c in chunks if c.choices)
        self.assertEqual(text, whole.choices[0].text)
        want, _ = grpc_greedy(self.server.stub, model, PROMPT, 8, top_n=2)
        streamed = [c.choices[0].logprobs for c in chunks
                    if c.choices and c.choices[0].logprobs]
        self.assertEqual(len(streamed), len(want))
        for got, t in zip(streamed, want):
            self.assertAlmostEqual(got.token_logprobs[0], t.logprob, places=5)
            self.assertEqual(set(got.top_logprobs[0]),
                             {a.piece for a in t.alternatives})
        finish = [c.choices[0].finish_reason for c in chunks if c.choices]
        self.assertEqual(finish[-1], whole.choices[0].finish_reason)
        self.assertTrue(all(f is None for f in finish[:-1]))
        self.assertEqual(chunks[-1].usage.completion_tokens,
                         whole.usage.completion_tokens)

    def test_errors(self):
        with self.assertRaises(openai.NotFoundError):
            self.client.completions.create(model="no-such-model",
                                           prompt=PROMPT)
        with self.assertRaises(openai.BadRequestError) as caught:
            self.client.completions.create(model=self.names[0],
                                           prompt=PROMPT, n=2)
        self.assertEqual(caught.exception.body["param"], "n")
        with self.assertRaises(openai.BadRequestError):
            self.client.completions.create(model=self.names[0],
                                           prompt=PROMPT, temperature=7)
        status, body = curl("-H", "Content-Type: application/json", "-d",
                            "[1, 2", self.server.url("/v1/completions"))
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body)["error"]["type"],
                         "invalid_request_error")


class SecuredTest(unittest.TestCase):
    """The HTTP face takes the gRPC port's TLS certificate and token."""

    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.TemporaryDirectory()
        token_file = os.path.join(cls.scratch.name, "token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        cls.server = Server(
            "--models=base", "--tls_cert=" + os.path.join(CERTS, "server.pem"),
            "--tls_key=" + os.path.join(CERTS, "server.key"),
            "--auth_token_file=" + token_file)
        cls.ca = os.path.join(CERTS, "ca.pem")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.scratch.cleanup()

    def call(self, *headers):
        args = []
        for h in headers:
            args += ["-H", h]
        status, body = curl("--cacert", self.ca, "--resolve",
                            "localhost:%d:127.0.0.1" % self.server.http_port,
                            "-H", "Content-Type: application/json", *args,
                            "-d", json.dumps({"model": "base", "text": PROMPT, "k": 5}),
                            "https://localhost:%d/tinylm.v1.TinyLM/TopK"
                            % self.server.http_port)
        return status, json.loads(body)

    def test_token_over_tls(self):
        status, reply = self.call("Authorization: Bearer " + TOKEN)
        self.assertEqual(status, 200)
        self.assertEqual(len(reply["tokens"]), 5)

    def test_missing_or_wrong_token_is_401(self):
        for headers in ((), ("Authorization: Bearer wrong",)):
            status, reply = self.call(*headers)
            self.assertEqual((status, reply["code"]),
                             (401, "unauthenticated"))

    def test_openai_with_the_token_as_api_key(self):
        client = openai.OpenAI(
            base_url="https://localhost:%d/v1" % self.server.http_port,
            api_key=TOKEN, max_retries=0,
            http_client=openai.DefaultHttpxClient(
                verify=ssl.create_default_context(cafile=self.ca)))
        try:
            self.assertEqual([m.id for m in client.models.list()], ["base"])
        finally:
            client.close()

    def test_plain_http_is_refused(self):
        with self.assertRaises(subprocess.CalledProcessError):
            curl(self.server.url("/v1/models"))


if __name__ == "__main__":
    unittest.main()
