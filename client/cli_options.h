// What the command line asked for, as plain values (the flags themselves
// live in cli_flags.cc only).
#ifndef TINYLM_CLIENT_CLI_OPTIONS_H_
#define TINYLM_CLIENT_CLI_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/rpc/channel.h"

namespace tinylm {

// Sampling controls; unset ones take the server's defaults.
struct SamplingOptions {
  std::optional<float> temperature;
  uint32_t top_k = 0;
  std::optional<float> top_p;
  float min_p = 0;
  std::optional<float> repetition_penalty;
  std::optional<uint64_t> seed;

  bool any_set() const {
    return temperature || top_k != 0 || top_p || min_p != 0 ||
           repetition_penalty || seed;
  }
};

struct CliOptions {
  // Every subcommand.
  std::string server;  // --server, given a port when it names none
  std::string model;   // "" = the only model the server has
  // Per call; InfiniteDuration() = none; unset = the command's default.
  std::optional<absl::Duration> timeout;
  bool json = false;
  int width = 0;             // of tables; 0 = the terminal's
  ChannelSecurity security;  // TLS and bearer token

  // generate (sampling also for compare and attention's continuation).
  uint32_t max_new_tokens = 0;
  SamplingOptions sampling;
  std::vector<std::string> stop;
  uint32_t top_n = 0;
  bool echo = true;
  std::vector<int32_t> ids;  // the prompt as token ids instead of text

  // topk and compare.
  uint32_t k = 5;

  // attention.
  std::vector<uint32_t> layers;  // empty = all
  std::optional<uint32_t> head;  // unset = all heads as panels
  uint32_t continuation_tokens = 0;
  std::string out_dir;
  bool csv = false;
  bool fp16 = false;
  std::string font;  // "" = the first Japanese font installed

  // compare and score.
  std::vector<std::string> models;  // empty = all
  std::string png;                  // "" = no picture (compare, lens, score)

  // Interventions (topk, score, generate; interventions.h parses them).
  std::vector<std::string> ablate;  // KIND:LAYER[.HEAD][:mean]
  std::vector<std::string> patch;   // KIND:LAYER[.HEAD][@POSITION]
  std::string patch_prompt;         // the patches' source

  // lens.
  std::vector<uint32_t> positions;  // empty = the last

  // Attention statistics (stats, compare --stats).
  bool stats = false;
  uint32_t top_keys = 0;

  // attention: query rows [first, second); unset = all.
  std::optional<std::pair<uint32_t, uint32_t>> rows;
};

// The options from the parsed flags; INVALID_ARGUMENT naming the flag for
// a value that does not parse or is out of range.
absl::StatusOr<CliOptions> OptionsFromFlags();

}  // namespace tinylm

#endif  // TINYLM_CLIENT_CLI_OPTIONS_H_
