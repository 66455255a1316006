// greedy_dump CHECKPOINTS DEVICE [DTYPE] [MAX_NEW]: greedy continuations of
// fixed prompts for every model, one line per (model, prompt) with the
// generated ids, through the serving engine (scheduler, KV cache, batched
// sampler). Run on two devices and diff the outputs to compare them.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "server/engine/model_registry.h"

namespace {

const std::vector<std::string> kPrompts = {
    "吾輩は猫である。名前はまだ無い。",
    "国境の長いトンネルを抜けると",
    "It was the best of times,",
    "The cat sat on",
};

int Run(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: greedy_dump CHECKPOINTS DEVICE [DTYPE] [MAX_NEW]\n";
    return 2;
  }
  tinylm::RegistryOptions options;
  options.checkpoints_dir = argv[1];
  options.device = argv[2];
  options.dtype = argc > 3 ? argv[3] : "";
  const int64_t max_new = argc > 4 ? std::stoll(argv[4]) : 32;
  auto registry = tinylm::ModelRegistry::Load(options);
  if (!registry.ok()) {
    std::cerr << registry.status() << "\n";
    return 1;
  }
  for (const auto& model : (*registry)->models()) {
    for (size_t p = 0; p < kPrompts.size(); ++p) {
      auto job = std::make_shared<tinylm::Job>();
      job->request.prompt = model->tokenizer->Encode(kPrompts[p]).value();
      job->request.max_new_tokens = max_new;
      job->request.sampling.temperature = 0.0;
      job->stream = std::make_shared<tinylm::GenerationStream>();
      if (!model->engine->Submit(job).ok()) return 1;
      std::cout << model->name << "\t" << p << "\t";
      while (true) {
        tinylm::StreamEvent event = job->stream->WaitNext();
        if (event.kind != tinylm::StreamEvent::Kind::kToken) break;
        std::cout << event.token.id << " ";
      }
      std::cout << "\n";
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
