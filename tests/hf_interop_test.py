"""tinylm against Hugging Face transformers on the same Llama checkpoints.

Makes small random LlamaForCausalLM models with transformers (float32;
multi-head and grouped-query; one file and sharded; tied embeddings;
bfloat16 and float16 stored weights), each with a LlamaTokenizer over the
test checkpoints' sentencepiece model, and exports the test checkpoint
`base` with `tinylm-train export-hf`. Then the real tinylm-server binary
serves all of them (and `base` itself) on CPU in float32, and through gRPC:

  - Tokenize gives transformers' input ids (BOS first, as LlamaTokenizer);
  - the logits of the whole prompt (logits_dump, LoadCheckpoint in C++),
    TopK's log-probabilities over the whole vocabulary, the attention maps
    of every layer and head, and greedy Generate's tokens and their
    log-probabilities equal transformers' within TOLERANCE;
  - the export round trip: base as tinylm and as its Hugging Face export
    give the same logits, and transformers loads the export with them too;
  - ListModels reports variant llama and format huggingface;
  - a second server with static steps (the CUDA-graph shapes) generates
    the same tokens;
  - an unsupported config stops the server at start-up (exit 1) with the
    key and its value.

usage: hf_interop_test.py SERVER STUBS_DIR TRAIN LOGITS_DUMP CHECKPOINTS_DIR
Run with a Python that has transformers (scripts/install-test-venv.sh makes
.venv: Debian's torch, numpy and grpcio, plus tests/requirements-hf.txt);
exits 77 (ctest: skipped) when transformers cannot be imported.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

try:
    import numpy as np
    import torch
    import transformers
    from transformers import LlamaConfig, LlamaForCausalLM, LlamaTokenizer
    from transformers.generation import utils as generation_utils
except ImportError as e:
    print(f"{sys.executable} cannot import transformers ({e}); make the venv "
          "with scripts/install-test-venv.sh")
    sys.exit(77)

import grpc

SERVER, STUBS, TRAIN, LOGITS_DUMP, CHECKPOINTS = sys.argv[1:6]
sys.path.insert(0, STUBS)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tools"))
from grpc_health_v1 import health_pb2, health_pb2_grpc  # noqa: E402
from tinylm.v1 import tinylm_pb2 as pb, tinylm_pb2_grpc  # noqa: E402
from server_process import read_port  # noqa: E402

# float32 on both sides, different kernels and summation orders.
TOLERANCE = 1e-4
START_TIMEOUT_S = 120
PROMPT = "吾輩は猫である。名前はまだ無い。"
NEW_TOKENS = 24

# generate() asks torch.distributed.fsdp whether the model is wrapped, and
# Debian's torch 1.13 cannot import that module under Python 3.11 (a
# dataclass default it declares is refused). No model here is.
generation_utils.is_fsdp_managed_module = lambda module: False

# name: (config overrides, stored dtype, save_pretrained arguments)
MODELS = {
    "llama_mha": ({}, torch.float32, {}),
    "llama_gqa_sharded": ({"num_key_value_heads": 2, "rope_theta": 50000.0},
                          torch.float32, {"max_shard_size": "200KB"}),
    "llama_tied": ({"num_key_value_heads": 2, "tie_word_embeddings": True},
                   torch.float32, {}),
    "llama_bf16": ({"num_key_value_heads": 1}, torch.bfloat16, {}),
    "llama_fp16": ({"num_key_value_heads": 2}, torch.float16, {}),
}


def make_llama(out_dir, tokenizer_model, vocab_size, overrides, dtype, save,
               seed):
    """A random LlamaForCausalLM saved by transformers, with a tokenizer."""
    settings = dict(
        vocab_size=vocab_size, hidden_size=64, intermediate_size=128,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
        max_position_embeddings=128, rms_norm_eps=1e-5,
        # Large enough weights that the distributions are far from uniform.
        initializer_range=0.1, bos_token_id=1, eos_token_id=2,
        tie_word_embeddings=False)
    settings.update(overrides)
    config = LlamaConfig(**settings)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    with torch.no_grad():  # norms away from 1, so that they matter
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.uniform_(0.5, 1.5)
    model.to(dtype).save_pretrained(out_dir, safe_serialization=True, **save)
    LlamaTokenizer(vocab_file=tokenizer_model, legacy=True,
                   add_bos_token=True, add_prefix_space=False).save_pretrained(
                       out_dir)


def hf_model(path):
    model = LlamaForCausalLM.from_pretrained(
        path, torch_dtype=torch.float32, attn_implementation="eager")
    return model.eval()


def read_json(path):
    with open(path) as f:
        return json.load(f)


def max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) -
                               np.asarray(b, np.float64))))


class Server:
    """A tinylm-server process on a free loopback port."""

    def __init__(self, checkpoints, *flags):
        self.process = subprocess.Popen(
            [SERVER, "--listen=127.0.0.1:0", "--checkpoints=" + checkpoints,
             "--device=cpu", "--dtype=float32", "--log_requests=off", *flags],
            stdout=subprocess.PIPE)
        port = read_port(self.process, START_TIMEOUT_S)
        self.channel = grpc.insecure_channel("127.0.0.1:%d" % port)
        self.stub = tinylm_pb2_grpc.TinyLMStub(self.channel)
        health = health_pb2_grpc.HealthStub(self.channel)
        health.Check(health_pb2.HealthCheckRequest(service=""), timeout=30,
                     wait_for_ready=True)

    def stop(self):
        self.channel.close()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self.process.stdout.close()
        return code

    def greedy(self, model, ids):
        """(ids, logprobs) of a greedy continuation of prompt `ids`."""
        tokens, logprobs = [], []
        for r in self.stub.Generate(pb.GenerateRequest(
                model=model, token_ids=pb.TokenIds(ids=ids),
                max_new_tokens=NEW_TOKENS,
                sampling=pb.SamplingParams(temperature=0.0))):
            if r.HasField("token"):
                tokens.append(r.token.id)
                logprobs.append(r.token.logprob)
        return tokens, logprobs


class HfInteropTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        print("transformers", transformers.__version__, "torch",
              torch.__version__, flush=True)
        cls.work = tempfile.mkdtemp(prefix="hf_interop_")
        cls.served = os.path.join(cls.work, "served")
        os.makedirs(cls.served)
        tokenizer_model = os.path.join(CHECKPOINTS, "base", "tokenizer.model")
        vocab = read_json(os.path.join(CHECKPOINTS, "base",
                                       "config.json"))["vocab_size"]
        for seed, (name, (overrides, dtype, save)) in enumerate(
                MODELS.items()):
            make_llama(os.path.join(cls.served, name), tokenizer_model, vocab,
                       overrides, dtype, save, seed)
        shutil.copytree(os.path.join(CHECKPOINTS, "base"),
                        os.path.join(cls.served, "base"))
        subprocess.run([TRAIN, "export-hf",
                        "--checkpoint=" + os.path.join(CHECKPOINTS, "base"),
                        "--out=" + os.path.join(cls.served, "base_hf")],
                       check=True)
        cls.server = Server(cls.served)

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        shutil.rmtree(cls.work)
        assert code == 0, f"tinylm-server exited {code}"

    def path(self, name):
        return os.path.join(self.served, name)

    def tinylm_logits(self, name, ids):
        tokens = os.path.join(self.work, "tokens.txt")
        out = os.path.join(self.work, "logits.f32")
        with open(tokens, "w") as f:
            f.write(" ".join(map(str, ids)))
        subprocess.run([LOGITS_DUMP, self.path(name), tokens, out], check=True)
        return np.fromfile(out, dtype="<f4").reshape(len(ids), -1)

    def check_model(self, name, hf_name=None):
        """Every comparison for served model `name` against transformers'
        model of directory `hf_name` (default: the same)."""
        hf_dir = self.path(hf_name or name)
        model = hf_model(hf_dir)
        tokenizer = LlamaTokenizer.from_pretrained(hf_dir)
        ids = tokenizer(PROMPT).input_ids
        stub = self.server.stub

        got_ids = list(stub.Tokenize(pb.TokenizeRequest(model=name,
                                                        text=PROMPT)).ids)
        self.assertEqual(got_ids, ids)

        with torch.no_grad():
            out = model(torch.tensor([ids]), output_attentions=True)
        want = out.logits[0].numpy()
        logits_diff = max_diff(self.tinylm_logits(name, ids), want)
        self.assertLessEqual(logits_diff, TOLERANCE)

        vocab = want.shape[-1]
        top = stub.TopK(pb.TopKRequest(model=name, text=PROMPT, k=vocab))
        self.assertEqual(top.prompt_tokens, len(ids))
        logprobs = np.zeros(vocab)
        for t in top.tokens:
            logprobs[t.id] = t.logprob
        want_logprobs = torch.log_softmax(out.logits[0, -1].double(),
                                          -1).numpy()
        topk_diff = max_diff(logprobs, want_logprobs)
        self.assertLessEqual(topk_diff, TOLERANCE)
        self.assertEqual([t.id for t in top.tokens[:5]],
                         list(np.argsort(-want_logprobs)[:5]))

        maps = stub.AttentionMaps(pb.AttentionMapsRequest(
            model=name, token_ids=pb.TokenIds(ids=ids)))
        attention_diff = 0.0
        for m in maps.maps:
            got = np.frombuffer(m.data, "<f4").reshape(list(m.shape))
            attention_diff = max(attention_diff, max_diff(
                got, out.attentions[m.layer][0, m.head].numpy()))
        self.assertEqual(len(maps.maps), model.config.num_hidden_layers *
                         model.config.num_attention_heads)
        self.assertLessEqual(attention_diff, TOLERANCE)

        tokens, token_logprobs = self.server.greedy(name, ids)
        with torch.no_grad():
            generated = model.generate(
                torch.tensor([ids]), attention_mask=torch.ones(1, len(ids),
                                                               dtype=torch.long),
                max_new_tokens=NEW_TOKENS, do_sample=False,
                output_scores=True, return_dict_in_generate=True,
                pad_token_id=0)
        want_tokens = generated.sequences[0, len(ids):].tolist()
        eos = model.config.eos_token_id
        if eos in want_tokens:  # tinylm streams no end-of-sequence token
            want_tokens = want_tokens[:want_tokens.index(eos)]
        self.assertEqual(tokens, want_tokens)
        want_token_logprobs = [
            float(torch.log_softmax(s[0].double(), -1)[t])
            for s, t in zip(generated.scores, tokens)]
        generate_diff = max_diff(token_logprobs, want_token_logprobs)
        self.assertLessEqual(generate_diff, TOLERANCE)
        print(f"{name:18s} logits {logits_diff:.1e}, TopK logprobs "
              f"{topk_diff:.1e}, attention {attention_diff:.1e}, "
              f"{len(tokens)} greedy tokens equal, their logprobs "
              f"{generate_diff:.1e}", flush=True)
        return ids, tokens

    def test_transformers_models(self):
        for name in MODELS:
            with self.subTest(name):
                self.check_model(name)

    def test_export_round_trip(self):
        # transformers loads the export and agrees with tinylm's base.
        ids, tokens = self.check_model("base", hf_name="base_hf")
        self.assertEqual(self.check_model("base_hf"), (ids, tokens))
        round_trip = max_diff(self.tinylm_logits("base", ids),
                              self.tinylm_logits("base_hf", ids))
        print(f"base -> export-hf -> tinylm: logits differ by {round_trip:.1e}")
        self.assertLessEqual(round_trip, 1e-5)

    def test_list_models(self):
        models = {m.name: m for m in self.server.stub.ListModels(
            pb.ListModelsRequest()).models}
        self.assertEqual(models["base"].format, "tinylm")
        self.assertEqual(models["base"].variant, "base")
        for name in list(MODELS) + ["base_hf"]:
            m = models[name]
            self.assertEqual((m.variant, m.format), ("llama", "huggingface"))
            self.assertTrue(m.flags.separate_qkv and not m.flags.qkv_bias)
            config = read_json(os.path.join(self.path(name), "config.json"))
            self.assertEqual(m.context_length,
                             config["max_position_embeddings"])
            self.assertEqual(m.dims.n_query_groups,
                             config["num_key_value_heads"])
        self.assertEqual(models["llama_mha"].parameters,
                         hf_model(self.path("llama_mha")).num_parameters())

    def test_static_steps_generate_the_same(self):
        static = Server(self.served, "--step_shapes=static", "--max_batch=4")
        try:
            for name in MODELS:
                ids = LlamaTokenizer.from_pretrained(self.path(name))(
                    PROMPT).input_ids
                tokens, logprobs = static.greedy(name, ids)
                want_tokens, want_logprobs = self.server.greedy(name, ids)
                self.assertEqual(tokens, want_tokens, name)
                # The same sums over more (masked) positions, in another order.
                self.assertLessEqual(max_diff(logprobs, want_logprobs),
                                     TOLERANCE, name)
        finally:
            self.assertEqual(static.stop(), 0)

    def test_unsupported_config_stops_the_server(self):
        broken = os.path.join(self.work, "broken")
        shutil.copytree(self.path("llama_mha"), os.path.join(broken, "scaled"))
        config_path = os.path.join(broken, "scaled", "config.json")
        config = read_json(config_path)
        config["rope_scaling"] = {"type": "linear", "factor": 2.0}
        with open(config_path, "w") as f:
            json.dump(config, f)
        run = subprocess.run(
            [SERVER, "--listen=127.0.0.1:0", "--checkpoints=" + broken,
             "--device=cpu"], capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 1, run.stderr)
        self.assertIn("model scaled: " + config_path + ": rope_scaling = ",
                      run.stderr)
        self.assertIn("RoPE scaling is not supported", run.stderr)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
