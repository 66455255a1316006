"""tinylm.Client: the tinylm.v1.TinyLM service from Python.

    with tinylm.Client("localhost:50051") as client:
        for token in client.generate("base", "吾輩は猫である。", max_new_tokens=20):
            print(token.text, end="", flush=True)
        maps = client.attention("score_fcn", "吾輩は猫である。")
        maps.weights.shape  # (layers, heads, T, T)

A prompt is a str (encoded by the model's tokenizer) or a sequence of
token ids. Errors raise tinylm.errors.TinyLMError subclasses.
"""
from typing import Iterable, List, Optional, Sequence, Union

import grpc
import numpy as np

from tinylm import errors, results
from tinylm.v1 import tinylm_pb2 as pb
from tinylm.v1 import tinylm_pb2_grpc as pb_grpc

Prompt = Union[str, Sequence[int]]

_FINISH_PREFIX = "FINISH_REASON_"


def _finish_reason(value):
    return pb.FinishReason.Name(value)[len(_FINISH_PREFIX):].lower()


def _set_prompt(message, prompt):
    if isinstance(prompt, str):
        message.text = prompt
    else:
        message.token_ids.ids.extend(int(i) for i in prompt)


def _sampling(temperature=None, top_k=0, top_p=None, min_p=0.0,
              repetition_penalty=None, seed=None):
    """SamplingParams with what is given set; None when nothing is (the
    server's defaults: temperature 1, or greedy where a call says so)."""
    s = pb.SamplingParams(top_k=top_k, min_p=min_p)
    given = bool(top_k or min_p)
    for name, value in (("temperature", temperature), ("top_p", top_p),
                        ("repetition_penalty", repetition_penalty),
                        ("seed", seed)):
        if value is not None:
            setattr(s, name, value)
            given = True
    return s if given else None


def _set_sampling(request, sampling):
    if sampling is not None:
        request.sampling.CopyFrom(sampling)


def _candidates(messages):
    return [results.Candidate(id=m.id, piece=m.piece, logprob=m.logprob,
                              probability=getattr(m, "probability", None))
            for m in messages]


class Generation:
    """The tokens of one Generate call, as they arrive; `summary` is set once
    the stream has ended, `text` holds what has arrived so far."""

    def __init__(self, call):
        self._call = call
        self.text = ""
        self.summary: Optional[results.Summary] = None

    def __iter__(self):
        try:
            for reply in self._call:
                if reply.HasField("token"):
                    t = reply.token
                    self.text += t.text
                    yield results.Token(
                        index=t.index, id=t.id, text=t.text, raw=t.raw,
                        logprob=t.logprob,
                        alternatives=_candidates(t.alternatives))
                else:
                    s = reply.summary
                    self.summary = results.Summary(
                        finish_reason=_finish_reason(s.finish_reason),
                        prompt_tokens=s.prompt_tokens,
                        generated_tokens=s.generated_tokens, seed=s.seed,
                        stop=s.stop,
                        time_to_first_token_ms=s.timings.time_to_first_token_ms,
                        total_ms=s.timings.total_ms)
        except grpc.RpcError as error:
            raise errors.from_rpc_error(error) from None

    def cancel(self):
        """Ends the call; the server stops generating for it."""
        self._call.cancel()


class Client:
    """A channel to one tinylm-server.

    target: "host:port". tls: a TLS channel (root_certificates: PEM bytes of
    the CA; None: the system's). token: the bearer token the server was
    started with (--auth_token_file); needs TLS unless insecure_token.
    timeout: seconds for each unary call (None: no deadline).
    """

    def __init__(self, target: str = "localhost:50051", *, tls: bool = False,
                 root_certificates: Optional[bytes] = None,
                 token: Optional[str] = None, insecure_token: bool = False,
                 timeout: Optional[float] = 60.0,
                 options: Iterable = ()):
        self._metadata = ()
        if token is not None:
            if not tls and not insecure_token:
                raise ValueError("a token over a plain channel would travel in "
                                 "clear text: use tls=True (or insecure_token=True)")
            self._metadata = (("authorization", "Bearer " + token),)
        if tls:
            credentials = grpc.ssl_channel_credentials(root_certificates)
            self._channel = grpc.secure_channel(target, credentials, list(options))
        else:
            self._channel = grpc.insecure_channel(target, list(options))
        self._stub = pb_grpc.TinyLMStub(self._channel)
        self._timeout = timeout

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _unary(self, method, request):
        try:
            return method(request, timeout=self._timeout,
                          metadata=self._metadata)
        except grpc.RpcError as error:
            raise errors.from_rpc_error(error) from None

    def models(self) -> List[results.ModelInfo]:
        """The loaded models, sorted by name."""
        reply = self._unary(self._stub.ListModels, pb.ListModelsRequest())
        return [results.ModelInfo(
            name=m.name, variant=m.variant, parameters=m.parameters,
            vocab_size=m.dims.vocab_size, n_embd=m.dims.n_embd,
            n_layer=m.dims.n_layer, n_head=m.dims.n_head,
            n_query_groups=m.dims.n_query_groups,
            context_length=m.context_length, device=m.device, dtype=m.dtype,
            checkpoint_sha256=m.checkpoint_sha256) for m in reply.models]

    def generate(self, model: str, prompt: Prompt, *, max_new_tokens: int = 0,
                 temperature: Optional[float] = None, top_k: int = 0,
                 top_p: Optional[float] = None, min_p: float = 0.0,
                 repetition_penalty: Optional[float] = None,
                 seed: Optional[int] = None, stop: Sequence[str] = (),
                 top_n: int = 0,
                 timeout: Optional[float] = None) -> Generation:
        """Streams a continuation of `prompt`: iterate the result for Tokens.
        temperature None: 1.0 (sampling), 0: greedy; seed None: the server
        picks one (in `summary.seed`). max_new_tokens 0: the server's
        default. top_n: alternatives per token. timeout: for the whole
        stream (None: none)."""
        request = pb.GenerateRequest(
            model=model, max_new_tokens=max_new_tokens, stop=list(stop),
            top_n=top_n)
        _set_sampling(request, _sampling(temperature, top_k, top_p, min_p,
                                         repetition_penalty, seed))
        _set_prompt(request, prompt)
        return Generation(self._stub.Generate(request, timeout=timeout,
                                              metadata=self._metadata))

    def topk(self, model: str, prompt: Prompt, k: int = 5) -> results.TopK:
        """The k most probable next tokens after `prompt`."""
        request = pb.TopKRequest(model=model, k=k)
        _set_prompt(request, prompt)
        reply = self._unary(self._stub.TopK, request)
        return results.TopK(tokens=_candidates(reply.tokens),
                            prompt_tokens=reply.prompt_tokens)

    def attention(self, model: str, prompt: Prompt, *,
                  layers: Sequence[int] = (), heads: Sequence[int] = (),
                  continuation_tokens: int = 0, float16: bool = False,
                  seed: Optional[int] = None,
                  temperature: Optional[float] = None) -> results.Attention:
        """Attention weights over `prompt` (plus `continuation_tokens`
        generated first: greedy unless a temperature or seed is given) as a numpy
        array [layers, heads, T, T]; empty layers/heads: all. float16 halves
        the bytes on the wire (values are returned as float32 either way)."""
        request = pb.AttentionMapsRequest(
            model=model, layers=list(layers), heads=list(heads),
            continuation_tokens=continuation_tokens,
            dtype=pb.TENSOR_DTYPE_FLOAT16 if float16 else pb.TENSOR_DTYPE_FLOAT32)
        _set_sampling(request, _sampling(temperature=temperature, seed=seed))
        _set_prompt(request, prompt)
        reply = self._unary(self._stub.AttentionMaps, request)
        return _attention(reply)

    def compare(self, prompt: str, models: Sequence[str] = (), *,
                max_new_tokens: int = 0, top_k: int = 0,
                temperature: Optional[float] = None,
                seed: Optional[int] = None) -> List[results.Comparison]:
        """The same prompt through several models (empty: all loaded), with
        one seed; each result has its continuation, next-token top-k and
        per-layer attention entropy."""
        request = pb.CompareRequest(
            models=list(models), prompt=prompt, max_new_tokens=max_new_tokens,
            top_k=top_k)
        _set_sampling(request, _sampling(temperature=temperature, seed=seed))
        reply = self._unary(self._stub.Compare, request)
        return [results.Comparison(
            model=r.model, continuation=r.continuation,
            continuation_ids=list(r.continuation_ids),
            finish_reason=_finish_reason(r.finish_reason),
            top_k=_candidates(r.top_k),
            attention_entropy=list(r.attention_entropy),
            prompt_tokens=r.prompt_tokens) for r in reply.results]

    def score(self, text: Prompt,
              models: Sequence[str] = ()) -> List[results.Score]:
        """How well each model (empty: all loaded) predicts every token of
        `text` after the first: per-token log-probabilities, mean loss and
        perplexity, in the order the server lists the models."""
        request = pb.ScoreRequest(models=list(models))
        _set_prompt(request, text)
        reply = self._unary(self._stub.Score, request)
        return [results.Score(
            model=r.model,
            tokens=[results.TokenScore(
                id=t.id, piece=t.piece,
                logprob=t.logprob if t.HasField("logprob") else None)
                for t in r.tokens],
            mean_loss=r.mean_loss, perplexity=r.perplexity)
            for r in reply.results]

    def logit_lens(self, model: str, prompt: Prompt, *, k: int = 5,
                   positions: Sequence[int] = ()) -> results.LogitLens:
        """The next-token distribution read from the residual stream after
        the embeddings and after every block (the final norm and LM head
        applied to each), at `positions` (empty: the last): its k most
        probable tokens and the KL divergence from the model's output."""
        request = pb.LogitLensRequest(model=model, k=k,
                                      positions=list(positions))
        _set_prompt(request, prompt)
        reply = self._unary(self._stub.LogitLens, request)
        return results.LogitLens(
            tokens=list(reply.tokens), token_ids=list(reply.token_ids),
            positions=[results.LensPosition(
                position=p.position,
                layers=[results.LensLayer(
                    layer=l.layer, tokens=_candidates(l.tokens),
                    kl_from_final=l.kl_from_final,
                    final_top_probability=l.final_top_probability)
                    for l in p.layers]) for p in reply.positions])

    def tokenize(self, model: str, text: str):
        """(ids, pieces) of `text` under the model's tokenizer."""
        reply = self._unary(self._stub.Tokenize,
                            pb.TokenizeRequest(model=model, text=text))
        return list(reply.ids), list(reply.pieces)

    def detokenize(self, model: str, ids: Sequence[int]) -> str:
        reply = self._unary(self._stub.Detokenize,
                            pb.DetokenizeRequest(model=model, ids=list(ids)))
        return reply.text


def _attention(reply) -> results.Attention:
    layers = sorted({m.layer for m in reply.maps})
    heads = sorted({m.head for m in reply.maps})
    t = len(reply.token_ids)
    weights = np.zeros((len(layers), len(heads), t, t), dtype=np.float32)
    for m in reply.maps:
        dtype = "<f2" if m.dtype == pb.TENSOR_DTYPE_FLOAT16 else "<f4"
        values = np.frombuffer(m.data, dtype=dtype)
        if list(m.shape) != [t, t] or values.size != t * t:
            raise errors.TinyLMError(
                grpc.StatusCode.INTERNAL,
                "attention map of layer %d head %d has shape %s, not [%d, %d]"
                % (m.layer, m.head, list(m.shape), t, t))
        weights[layers.index(m.layer), heads.index(m.head)] = values.reshape(t, t)
    return results.Attention(
        tokens=list(reply.tokens), token_ids=list(reply.token_ids),
        prompt_tokens=reply.prompt_tokens, layers=layers, heads=heads,
        weights=weights)
