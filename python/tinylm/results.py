"""What the client's calls return: plain dataclasses (and numpy arrays), so
that no caller needs the protobuf messages."""
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np


@dataclass
class ModelInfo:
    name: str
    variant: str
    parameters: int
    vocab_size: int
    n_embd: int
    n_layer: int
    n_head: int
    n_query_groups: int
    context_length: int
    device: str
    dtype: str
    checkpoint_sha256: str


@dataclass
class Candidate:
    """One alternative next token."""
    id: int
    piece: str
    logprob: float
    probability: Optional[float] = None  # TopK and Compare only


@dataclass
class Token:
    """One generated token, as streamed."""
    index: int
    id: int
    text: str  # its text (valid UTF-8; may be empty mid-character)
    raw: bytes
    logprob: float
    alternatives: List[Candidate] = field(default_factory=list)


@dataclass
class Summary:
    """How a generation ended."""
    finish_reason: str  # "length", "stop", "eos" or "cancelled"
    prompt_tokens: int
    generated_tokens: int  # the streamed end-of-sequence token excluded
    seed: int
    stop: str  # the stop string that ended it, if any
    time_to_first_token_ms: float
    total_ms: float


@dataclass
class TopK:
    tokens: List[Candidate]  # most probable first
    prompt_tokens: int


@dataclass
class Attention:
    """Attention weights of a prompt (and continuation): `weights[i, j]` is
    the [T, T] map of `layers[i]`, `heads[j]` (rows: queries, columns:
    keys); `tokens` label both axes."""
    tokens: List[str]
    token_ids: List[int]
    prompt_tokens: int
    layers: List[int]
    heads: List[int]
    weights: np.ndarray  # [len(layers), len(heads), T, T]


@dataclass
class Comparison:
    """One model's answer to a Compare call."""
    model: str
    continuation: str
    continuation_ids: List[int]
    finish_reason: str
    top_k: List[Candidate]  # next token after the prompt
    attention_entropy: List[float]  # nats per layer, mean over heads, queries
    prompt_tokens: int


@dataclass
class TokenScore:
    id: int
    piece: str
    logprob: Optional[float]  # log p(token | before it); None for the first


@dataclass
class Score:
    """One model's prediction of a whole text (Client.score)."""
    model: str
    tokens: List[TokenScore]
    mean_loss: float  # -mean logprob over all tokens but the first, nats
    perplexity: float


@dataclass
class LensLayer:
    """The distribution read at one depth: layer -1 is the embeddings,
    layer l the residual stream after block l."""
    layer: int
    tokens: List[Candidate]  # most probable first
    kl_from_final: float  # KL(model output || this layer), nats
    final_top_probability: float  # of the output's most probable token


@dataclass
class LensPosition:
    position: int
    layers: List[LensLayer]  # the embeddings first, then every block


@dataclass
class LogitLens:
    tokens: List[str]
    token_ids: List[int]
    positions: List[LensPosition]
