#!/usr/bin/python3
"""Soak test of the real tinylm-server binary.

Starts tinylm-server on a free loopback port with the given checkpoints and
keeps --streams concurrent clients busy for --minutes, each looping over a
random mix of:

  generate     Generate streams: random model, prompt (text or ids), length,
               sampling parameters, stop strings, alternatives
  cancel       a Generate stream the client cancels after a few tokens
  deadline     a Generate stream with a deadline of 20 ms to 2 s
  bad          an invalid request of a known kind (unknown model, field out
               of range, ids outside the vocabulary, request bytes that are
               not valid UTF-8, ...) whose error code is known in advance
  topk, attention, compare, tokenize, detokenize   the unary RPCs

Every answer must be a valid response for what was sent or an error code
expected for it (RESOURCE_EXHAUSTED from a full queue is expected for any
call that reaches a model's queue; the client then backs off 0.1-0.5 s). Meanwhile the health service must
answer SERVING every second, and the server's resident memory is sampled
from /proc/<pid>/status.

Memory is "flat" when the largest RSS of the last quarter of the run
exceeds the largest RSS of the first quarter (the warm-up: allocator arenas,
KV caches, Torch's caches) by at most max(10%, 32 MiB). A leak of a few KB
per request fails this over thousands of requests; allocator noise does
not.

Prints a JSON summary (requests by type, outcomes by code, RSS) and exits
0 only when every answer was expected, health stayed SERVING, memory
stayed flat, every kind but cancel and deadline succeeded at least once,
and the server stopped cleanly on SIGTERM.

usage: soak.py --server BIN --stubs DIR --checkpoints DIR [--minutes 10]
"""

import argparse
import asyncio
import collections
import json
import os
import random
import signal
import subprocess
import sys
import time

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from server_process import read_port, rss_kb  # noqa: E402

TEXTS = [
    "吾輩は猫である。",
    "彼女が子供の頃に住んでいた、海の見える小さな町は、",
    "The cat sat on the mat. ",
    "「ああ、",
    "春はあけぼの。",
    "It was a dark and stormy night",
    "坊っちゃんは",
    "雨",
]
STOPS = ["。", "、", "\n", "」", "the"]

OK = "OK"
RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"


class Unexpected(Exception):
    """An answer that is neither a valid response nor an expected error."""


def check(condition, message):
    if not condition:
        raise Unexpected(message)


class Soak:
    def __init__(self, args, pb, pb_grpc, health_pb, health_grpc):
        self.args = args
        self.pb, self.pb_grpc = pb, pb_grpc
        self.health_pb, self.health_grpc = health_pb, health_grpc
        self.rng = random.Random(args.seed)
        self.requests = collections.Counter()
        self.outcomes = collections.defaultdict(collections.Counter)
        self.unexpected = []
        self.unexpected_count = 0
        self.tokens_streamed = 0
        self.health_checks = 0
        self.health_failures = []
        self.rss = []  # (seconds since start, kB)
        self.models = []  # (name, vocab_size, context, n_layer, n_head)

    # ---- the kinds of request -------------------------------------------

    def model(self):
        return self.rng.choice(self.models)

    def sampling(self, vocab):
        r = self.rng
        s = self.pb.SamplingParams(seed=r.randrange(1 << 32))
        if r.random() < 0.8:
            s.temperature = r.choice([0.0, 1e-30, 0.5, 0.8, 1.0, 1.5])
        s.top_k = r.choice([0, 1, 5, 40, vocab])
        if r.random() < 0.5:
            s.top_p = r.choice([0.5, 0.9, 1.0])
        s.min_p = r.choice([0.0, 0.0, 0.05])
        if r.random() < 0.3:
            s.repetition_penalty = r.choice([0.01, 1.0, 1.1, 1.3])
        return s

    def prompt(self, message, vocab, field="text"):
        if self.rng.random() < 0.75:
            setattr(message, field, self.rng.choice(TEXTS))
        else:
            n = self.rng.randint(1, 8)
            message.token_ids.ids.extend(
                self.rng.randrange(vocab) for _ in range(n))

    def generate_request(self, max_new):
        name, vocab, _, _, _ = self.model()
        request = self.pb.GenerateRequest(
            model=name, max_new_tokens=max_new, sampling=self.sampling(vocab),
            top_n=self.rng.choice([0, 0, 3]))
        self.prompt(request, vocab)
        if self.rng.random() < 0.3:
            request.stop.extend(self.rng.sample(STOPS, 2))
        return request

    def check_stream(self, request, replies):
        """A complete Generate stream: tokens, then one summary."""
        check(replies and replies[-1].HasField("summary"),
              "stream without a final summary")
        tokens = [r.token for r in replies[:-1]]
        check(all(r.HasField("token") for r in replies[:-1]),
              "summary before the last message")
        summary = replies[-1].summary
        check([t.index for t in tokens] == list(range(len(tokens))),
              "token indices not consecutive")
        reason = summary.finish_reason
        pb = self.pb
        # The streamed end-of-sequence token is not counted (see the proto).
        counted = len(tokens) - (1 if reason == pb.FINISH_REASON_EOS else 0)
        check(summary.generated_tokens == counted,
              "summary counts %d tokens, stream had %d (finish reason %d)"
              % (summary.generated_tokens, len(tokens), reason))
        check(len(tokens) <= request.max_new_tokens, "too many tokens")
        check(summary.prompt_tokens > 0, "no prompt tokens")
        check(summary.seed == request.sampling.seed, "seed not echoed")
        check(reason in (pb.FINISH_REASON_LENGTH, pb.FINISH_REASON_STOP,
                         pb.FINISH_REASON_EOS),
              "finish reason %d" % reason)
        if reason == pb.FINISH_REASON_LENGTH:
            check(len(tokens) == request.max_new_tokens,
                  "LENGTH after %d of %d tokens"
                  % (len(tokens), request.max_new_tokens))
        if reason == pb.FINISH_REASON_STOP:
            check(summary.stop in request.stop,
                  "stopped on %r, not a requested stop" % summary.stop)
        for t in tokens:
            check(len(t.alternatives) == request.top_n,
                  "%d alternatives for top_n %d"
                  % (len(t.alternatives), request.top_n))
        self.tokens_streamed += len(tokens)

    async def do_generate(self, stub):
        request = self.generate_request(self.rng.randint(1, 16))
        replies = [r async for r in stub.Generate(request, timeout=300)]
        self.check_stream(request, replies)
        return OK

    async def do_cancel(self, stub):
        request = self.generate_request(self.rng.randint(16, 48))
        call = stub.Generate(request, timeout=300)
        replies = []
        wanted = self.rng.randint(0, 4)
        while len(replies) < wanted:
            reply = await call.read()
            if reply is grpc.aio.EOF:
                self.check_stream(request, replies)  # finished first
                return OK
            replies.append(reply)
        call.cancel()
        code = await call.code()
        if code != grpc.StatusCode.OK:
            return code.name
        # The stream had ended before the cancel: it must be complete.
        while True:
            reply = await call.read()
            if reply is grpc.aio.EOF:
                break
            replies.append(reply)
        self.check_stream(request, replies)
        return OK

    async def do_deadline(self, stub):
        request = self.generate_request(self.rng.randint(8, 64))
        timeout = self.rng.choice([0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0])
        replies = [r async for r in stub.Generate(request, timeout=timeout)]
        self.check_stream(request, replies)
        return OK

    async def do_topk(self, stub):
        name, vocab, context, _, _ = self.model()
        k = self.rng.randint(1, 10)
        request = self.pb.TopKRequest(model=name, k=k)
        self.prompt(request, vocab)
        reply = await stub.TopK(request, timeout=300)
        probs = [t.probability for t in reply.tokens]
        check(len(probs) == k, "TopK gave %d of %d" % (len(probs), k))
        check(probs == sorted(probs, reverse=True), "TopK not sorted")
        check(all(0.0 <= p <= 1.0 for p in probs) and sum(probs) <= 1.0001,
              "TopK probabilities %r" % probs)
        check(all(0 <= t.id < vocab for t in reply.tokens), "TopK ids")
        check(0 < reply.prompt_tokens <= context, "TopK prompt_tokens")
        return OK

    async def do_attention(self, stub):
        name, vocab, _, n_layer, n_head = self.model()
        layers = sorted(self.rng.sample(range(n_layer),
                                        self.rng.randint(1, 2)))
        half = self.rng.random() < 0.5
        request = self.pb.AttentionMapsRequest(
            model=name, layers=layers,
            continuation_tokens=self.rng.choice([0, 0, 2]),
            dtype=(self.pb.TENSOR_DTYPE_FLOAT16 if half
                   else self.pb.TENSOR_DTYPE_FLOAT32))
        self.prompt(request, vocab)
        reply = await stub.AttentionMaps(request, timeout=300)
        n = len(reply.token_ids)
        check(n == len(reply.tokens) and n >= reply.prompt_tokens > 0,
              "AttentionMaps token counts")
        check(n <= reply.prompt_tokens + request.continuation_tokens,
              "AttentionMaps longer than prompt + continuation")
        check(len(reply.maps) == len(layers) * n_head,
              "%d maps for %d layers" % (len(reply.maps), len(layers)))
        for m in reply.maps:
            check(list(m.shape) == [n, n], "map shape %r" % list(m.shape))
            check(len(m.data) == n * n * (2 if half else 4), "map bytes")
            check(m.layer in layers, "map layer")
        return OK

    async def do_compare(self, stub):
        chosen = self.rng.sample(self.models, min(2, len(self.models)))
        request = self.pb.CompareRequest(
            models=[m[0] for m in chosen], prompt=self.rng.choice(TEXTS),
            max_new_tokens=self.rng.randint(1, 8),
            sampling=self.pb.SamplingParams(temperature=0.8, seed=5),
            top_k=self.rng.randint(1, 5))
        reply = await stub.Compare(request, timeout=300)
        check([r.model for r in reply.results] == list(request.models),
              "Compare results not in request order")
        check(reply.seed == 5, "Compare seed")
        for r in reply.results:
            check(len(r.top_k) == request.top_k, "Compare top_k")
            check(len(r.continuation_ids) <= request.max_new_tokens,
                  "Compare continuation too long")
        return OK

    async def do_tokenize(self, stub):
        name = self.model()[0]
        text = "".join(self.rng.sample(TEXTS, 2))
        reply = await stub.Tokenize(
            self.pb.TokenizeRequest(model=name, text=text), timeout=60)
        check(len(reply.ids) == len(reply.pieces) and reply.ids,
              "Tokenize ids/pieces")
        back = await stub.Detokenize(
            self.pb.DetokenizeRequest(model=name, ids=reply.ids), timeout=60)
        check(back.text == text, "Detokenize(Tokenize(%r)) = %r"
              % (text, back.text))
        return OK

    async def do_detokenize(self, stub):
        name, vocab, _, _, _ = self.model()
        ids = [self.rng.randrange(vocab) for _ in range(self.rng.randint(0, 12))]
        reply = await stub.Detokenize(
            self.pb.DetokenizeRequest(model=name, ids=ids), timeout=60)
        reply.text.encode("utf-8")  # a str already: valid UTF-8
        return OK

    def bad_requests(self):
        """(rpc, request, expected code) for one random invalid request."""
        pb = self.pb
        name, vocab, context, n_layer, _ = self.model()
        choices = [
            ("Generate", pb.GenerateRequest(model="no-such-model", text="x"),
             "NOT_FOUND"),
            ("Generate", pb.GenerateRequest(model=name), "INVALID_ARGUMENT"),
            ("Generate", pb.GenerateRequest(model=name, text=""),
             "INVALID_ARGUMENT"),
            ("Generate", pb.GenerateRequest(
                model=name, token_ids=pb.TokenIds(ids=[vocab])),
             "INVALID_ARGUMENT"),
            ("Generate", pb.GenerateRequest(
                model=name, token_ids=pb.TokenIds(ids=[-1])),
             "INVALID_ARGUMENT"),
            ("Generate", pb.GenerateRequest(
                model=name, text="x",
                sampling=pb.SamplingParams(temperature=-1)),
             "INVALID_ARGUMENT"),
            ("Generate", pb.GenerateRequest(
                model=name, text="x", sampling=pb.SamplingParams(top_p=1.5)),
             "INVALID_ARGUMENT"),
            ("Generate", pb.GenerateRequest(
                model=name, text="x",
                sampling=pb.SamplingParams(repetition_penalty=1e-40)),
             "INVALID_ARGUMENT"),
            ("Generate", pb.GenerateRequest(
                model=name, text="x", max_new_tokens=context),
             "INVALID_ARGUMENT"),
            ("Generate", pb.GenerateRequest(
                model=name, text="x", stop=["a"] * 9), "INVALID_ARGUMENT"),
            ("Generate", pb.GenerateRequest(
                model=name, token_ids=pb.TokenIds(ids=[1] * context)),
             "INVALID_ARGUMENT"),
            ("TopK", pb.TopKRequest(model=name, text="x", k=0),
             "INVALID_ARGUMENT"),
            ("TopK", pb.TopKRequest(model=name, text="x", k=vocab + 1),
             "INVALID_ARGUMENT"),
            ("AttentionMaps", pb.AttentionMapsRequest(
                model=name, text="x", layers=[n_layer]), "INVALID_ARGUMENT"),
            ("Compare", pb.CompareRequest(models=[name, name], prompt="x"),
             "INVALID_ARGUMENT"),
            ("Compare", pb.CompareRequest(models=[name], prompt=""),
             "INVALID_ARGUMENT"),
            ("Detokenize", pb.DetokenizeRequest(model=name, ids=[vocab]),
             "INVALID_ARGUMENT"),
            ("Tokenize", pb.TokenizeRequest(model="", text="x"),
             "INVALID_ARGUMENT"),
        ]
        # Wire bytes protobuf refuses: field 2 (text) of a TokenizeRequest
        # holding invalid UTF-8; and bytes that are no message at all.
        name_bytes = name.encode()
        raw = (b"\x0a" + bytes([len(name_bytes)]) + name_bytes
               + b"\x12\x02\xff\xfe")
        choices.append(("Tokenize", raw, "INVALID_ARGUMENT"))
        choices.append(("Tokenize", b"\x0a\xff\xff\xff", "INVALID_ARGUMENT"))
        return self.rng.choice(choices)

    async def do_bad(self, channel):
        rpc, request, expected = self.bad_requests()
        path = "/tinylm.v1.TinyLM/" + rpc
        raw = isinstance(request, bytes)
        call = (channel.unary_stream if rpc == "Generate"
                else channel.unary_unary)(
            path,
            request_serializer=None if raw else (lambda m: m.SerializeToString()),
            response_deserializer=None)
        try:
            if rpc == "Generate":
                replies = [r async for r in call(request, timeout=300)]
                raise Unexpected("%s %r answered %d messages, expected %s"
                                 % (rpc, request, len(replies), expected))
            await call(request, timeout=300)
            raise Unexpected("%s %r succeeded, expected %s"
                             % (rpc, request, expected))
        except grpc.aio.AioRpcError as error:
            code = error.code().name
            if code != expected and code != RESOURCE_EXHAUSTED:
                raise Unexpected("%s %r: %s %r, expected %s" % (
                    rpc, request, code, error.details(), expected))
            return code

    # ---- the loop -------------------------------------------------------

    # (kind, weight, codes expected besides OK and RESOURCE_EXHAUSTED)
    KINDS = [
        ("generate", 30, ()),
        ("cancel", 12, ("CANCELLED",)),
        ("deadline", 12, ("DEADLINE_EXCEEDED",)),
        ("bad", 14, ()),  # do_bad checks the code itself
        ("topk", 10, ()),
        ("attention", 6, ()),
        ("compare", 4, ()),
        ("tokenize", 8, ()),
        ("detokenize", 4, ()),
    ]
    NOT_QUEUED = ("tokenize", "detokenize")
    # Kinds that must succeed at least once in a run (a cancelled or
    # expired call is the expected end of the others).
    MUST_SUCCEED = ("generate", "topk", "attention", "compare", "tokenize",
                    "detokenize")

    async def client(self, channel, stub, end):
        kinds = [k for k, _, _ in self.KINDS]
        weights = [w for _, w, _ in self.KINDS]
        expected = {k: set(codes) for k, _, codes in self.KINDS}
        while time.monotonic() < end:
            kind = self.rng.choices(kinds, weights)[0]
            self.requests[kind] += 1
            try:
                if kind == "bad":
                    outcome = await self.do_bad(channel)
                else:
                    outcome = await getattr(self, "do_" + kind)(stub)
            except grpc.aio.AioRpcError as error:
                outcome = error.code().name
                allowed = set(expected[kind])
                if kind not in self.NOT_QUEUED:
                    allowed.add(RESOURCE_EXHAUSTED)
                if outcome not in allowed:
                    self.record_unexpected(
                        kind, "%s: %s" % (outcome, error.details()))
            except Unexpected as error:
                outcome = "UNEXPECTED"
                self.record_unexpected(kind, str(error))
            except Exception as error:  # e.g. a client-side failure
                outcome = "UNEXPECTED"
                self.record_unexpected(kind, repr(error))
            self.outcomes[kind][outcome] += 1
            if outcome == RESOURCE_EXHAUSTED:
                # As a well-behaved client would: back off before the next
                # call rather than hammer a full queue.
                await asyncio.sleep(self.rng.uniform(0.1, 0.5))

    def record_unexpected(self, kind, message):
        self.unexpected_count += 1
        if len(self.unexpected) < 20:
            self.unexpected.append("%s: %s" % (kind, message))

    async def watch_health(self, channel, end):
        stub = self.health_grpc.HealthStub(channel)
        serving = self.health_pb.HealthCheckResponse.SERVING
        while time.monotonic() < end:
            self.health_checks += 1
            service = ("" if self.health_checks % 5
                       else "tinylm.v1.TinyLM/" + self.model()[0])
            try:
                reply = await stub.Check(
                    self.health_pb.HealthCheckRequest(service=service),
                    timeout=10)
                if reply.status != serving:
                    self.health_failures.append(
                        "%r: status %d" % (service, reply.status))
            except grpc.aio.AioRpcError as error:
                self.health_failures.append(
                    "%r: %s" % (service, error.code().name))
            await asyncio.sleep(1.0)

    async def watch_memory(self, pid, start, end):
        while True:
            self.rss.append((round(time.monotonic() - start, 1), rss_kb(pid)))
            if time.monotonic() >= end:
                return
            await asyncio.sleep(min(self.args.rss_interval_s,
                                    max(0.0, end - time.monotonic())))

    async def run(self, port, pid):
        options = [("grpc.max_receive_message_length", 16 << 20)]
        async with grpc.aio.insecure_channel(
                "127.0.0.1:%d" % port, options=options) as channel:
            stub = self.pb_grpc.TinyLMStub(channel)
            listing = await stub.ListModels(self.pb.ListModelsRequest(),
                                            timeout=60)
            self.models = [(m.name, m.dims.vocab_size, m.context_length,
                            m.dims.n_layer, m.dims.n_head)
                           for m in listing.models]
            check(self.models, "no models served")
            start = time.monotonic()
            end = start + self.args.minutes * 60
            memory = asyncio.ensure_future(self.watch_memory(pid, start, end))
            await asyncio.gather(
                self.watch_health(channel, end),
                *[self.client(channel, stub, end)
                  for _ in range(self.args.streams)])
            await memory
            self.duration_s = time.monotonic() - start

    # ---- the verdict ----------------------------------------------------

    def memory_summary(self):
        samples = self.rss
        quarter = self.args.minutes * 60 / 4
        warm = max(kb for t, kb in samples if t <= quarter)
        last = max(kb for t, kb in samples if t >= 3 * quarter)
        allowed = max(0.10 * warm, 32 * 1024)
        mib = lambda kb: round(kb / 1024, 1)  # noqa: E731
        return {
            "start_mib": mib(samples[0][1]),
            "warm_max_mib": mib(warm),
            "end_mib": mib(samples[-1][1]),
            "last_quarter_max_mib": mib(last),
            "max_mib": mib(max(kb for _, kb in samples)),
            "growth_after_warmup_mib": mib(last - warm),
            "allowed_growth_mib": mib(allowed),
            "flat": last - warm <= allowed,
            "samples": [[t, mib(kb)] for t, kb in samples],
        }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", required=True, help="tinylm-server")
    parser.add_argument("--stubs", required=True,
                        help="generated Python stubs (build/python)")
    parser.add_argument("--checkpoints", required=True)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--streams", type=int, default=200)
    # Queues a little shorter than the clients per model (200 / 4 models),
    # so that RESOURCE_EXHAUSTED happens now and then, not all the time.
    parser.add_argument("--max_batch", type=int, default=16)
    parser.add_argument("--max_queued", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rss_interval_s", type=float, default=2.0)
    parser.add_argument("--json", help="also write the summary here")
    parser.add_argument("--server_log", help="server output goes here")
    args = parser.parse_args()

    sys.path.insert(0, args.stubs)
    from grpc_health_v1 import health_pb2, health_pb2_grpc
    from tinylm.v1 import tinylm_pb2, tinylm_pb2_grpc

    log = open(args.server_log, "wb") if args.server_log else subprocess.DEVNULL
    process = subprocess.Popen(
        [args.server, "--listen=127.0.0.1:0",
         "--checkpoints=" + args.checkpoints, "--device=cpu",
         "--max_batch=%d" % args.max_batch,
         "--max_queued=%d" % args.max_queued,
         "--shutdown_grace_seconds=10"],
        stdout=subprocess.PIPE, stderr=log)
    soak = Soak(args, tinylm_pb2, tinylm_pb2_grpc, health_pb2,
                health_pb2_grpc)
    exit_code = None
    try:
        port = read_port(process, 180)
        asyncio.run(soak.run(port, process.pid))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            exit_code = process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    memory = soak.memory_summary()
    outcomes = {k: dict(v) for k, v in sorted(soak.outcomes.items())}
    by_code = collections.Counter()
    for counts in soak.outcomes.values():
        by_code.update(counts)
    never_ok = sorted(k for k in Soak.MUST_SUCCEED
                      if soak.outcomes[k][OK] == 0)
    summary = {
        "minutes": args.minutes,
        "streams": args.streams,
        "server_flags": {"max_batch": args.max_batch,
                         "max_queued": args.max_queued},
        "models": [m[0] for m in soak.models],
        "duration_s": round(soak.duration_s, 1),
        "requests": dict(sorted(soak.requests.items())),
        "requests_total": sum(soak.requests.values()),
        "tokens_streamed": soak.tokens_streamed,
        "outcomes": outcomes,
        "errors_by_code": dict(sorted(
            (c, n) for c, n in by_code.items() if c != OK)),
        "unexpected_count": soak.unexpected_count,
        "unexpected": soak.unexpected,
        "kinds_never_ok": never_ok,
        "health": {"checks": soak.health_checks,
                   "failures": len(soak.health_failures),
                   "first_failures": soak.health_failures[:10]},
        "rss": memory,
        "server_exit_code": exit_code,
    }
    text = json.dumps(summary, indent=1, ensure_ascii=False)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    passed = (soak.unexpected_count == 0 and not soak.health_failures
              and memory["flat"] and not never_ok and exit_code == 0)
    print("soak: %s" % ("PASS" if passed else "FAIL"), file=sys.stderr)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
