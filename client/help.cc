#include "client/help.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "client/command_line.h"
#include "client/text/display_width.h"

namespace tinylm {
namespace {

constexpr int kHelpWidth = 80;
constexpr absl::string_view kIndent = "      ";  // a flag's help

constexpr char kAbout[] =
    R"(Talks to a tinylm server: generation, next-token probabilities, attention
heatmaps, model comparison.

Usage: tinylm [--server=HOST[:PORT]] [--model=NAME] [flags] SUBCOMMAND [ARGS]
       tinylm --help | --version

A server with TLS needs --tls_ca (or --tls for the system's CA certificates),
one that requires client certificates also --tls_cert and --tls_key, one with
a bearer token --auth_token_file.

Subcommands:
  generate PROMPT    stream a continuation as it is generated (Ctrl-C stops it)
  topk PROMPT        the --k (5) most probable next tokens, as "p:0.33, 町"
  attention PROMPT   attention heatmaps, one PNG per layer (heads as panels,
                     or --head); --csv / --json also export the raw matrices
  compare PROMPT     continuation, top-k and per-layer attention entropy of
                     several models side by side (--models, default all);
                     --png=FILE adds their last-layer heatmaps, --stats the
                     attention statistics
  lens PROMPT        the logit lens: each layer's top --k next tokens and
                     KL from the final layer (--positions); --png=FILE
  score TEXT         each token's loss under --models (default all), the
                     mean loss and perplexity, which model predicts which
                     token best; --png=FILE
  stats PROMPT       attention statistics per layer and head (entropy,
                     first-token and diagonal mass, distance; --top_keys)
  tokenize TEXT      the token ids and pieces of TEXT
  models             the models the server has loaded
  health             SERVING or not, for the server or --model

topk, score and generate take interventions: --ablate=head:L.H, attn:L or
mlp:L (":mean" for the mean over positions instead of zero) and
--patch=residual:L or pattern:L[.H] (@POS for one position) with
--patch_prompt=SOURCE; they report the effect (KL, the top token's change).

PROMPT is the remaining arguments joined by spaces; "-" reads it from stdin.
Put "--" before a prompt that starts with "-".

)";

constexpr char kExitCodes[] = R"(
Exit codes:
  0    success
  1    other error (server error, a file that could not be written)
  2    invalid argument: bad command line, or a value the server refused
  3    server unreachable at --server (or shutting down)
  4    unknown model
  5    timed out (--timeout)
  6    server busy or a size limit reached (e.g. attention of a long prompt:
       try fewer --layers, --head, or --fp16)
  7    health: not SERVING
  8    the server refused the credentials (--auth_token_file)
  130  cancelled with Ctrl-C
)";

// "  --name (default: value)" and the flag's help, wrapped and indented.
std::string FlagHelp(const absl::CommandLineFlag& flag) {
  std::string out = absl::StrCat("  --", flag.Name());
  const std::string value = flag.DefaultValue();
  if (!value.empty()) absl::StrAppend(&out, " (default: ", value, ")");
  out += "\n";
  for (const std::string& line :
       WrapToWidth(flag.Help(), kHelpWidth - kIndent.size())) {
    absl::StrAppend(&out, kIndent, line, "\n");
  }
  return out;
}

}  // namespace

std::string HelpText() {
  std::string text = absl::StrCat(
      kAbout, "Flags (--name=value or --name value; --name / --noname for ",
      "on and off):\n");
  for (const absl::CommandLineFlag* flag : ClientFlags()) {
    text += FlagHelp(*flag);
  }
  return text + kExitCodes;
}

std::string VersionText() {
  return absl::StrCat("tinylm ", TINYLM_VERSION, " (commit ", TINYLM_COMMIT,
                      ")");
}

}  // namespace tinylm
