// The limits the service enforces on requests and calls: plain numbers set
// from the flags (server/flags.cc), explained in docs/operations.md.
#ifndef TINYLM_SERVER_RPC_SERVICE_LIMITS_H_
#define TINYLM_SERVER_RPC_SERVICE_LIMITS_H_

#include <cstdint>

#include "absl/time/time.h"

namespace tinylm {

// What a streamed AttentionMap message carries besides its rows (layer,
// head, shape, dtype, first row, field tags), bounded generously: rows are
// packed so that data + this stays within max_send_message_bytes.
inline constexpr int64_t kMapMessageOverhead = 256;

struct ServiceLimits {
  int64_t max_prompt_tokens = 4096;  // also bounded by each model's context
  int64_t max_new_tokens = 1024;
  // Bound on AttentionMaps payloads; below gRPC's default 4 MiB receive
  // limit of clients, with room for the rest of the message.
  int64_t max_attention_bytes = 3 << 20;
  int64_t max_top_n = 20;
  int64_t max_tokens_per_message = 256;  // GenerateRequest's bound
  // Inspection: interventions per request; the logit lens's tokens per
  // layer and positions x layers x tokens in all; attention statistics'
  // layers x heads x tokens x top keys; a StreamAttentionMaps call's bytes
  // in all (each message obeys max_send_message_bytes).
  int64_t max_interventions = 8;
  int64_t max_lens_k = 100;
  int64_t max_lens_values = 1 << 16;
  int64_t max_attention_stat_values = 1 << 18;
  int64_t max_streamed_attention_bytes = int64_t(256) << 20;
  int64_t max_stop_strings = 8;
  int64_t max_stop_bytes = 256;
  int64_t max_prompt_bytes = 1 << 20;
  // gRPC's bounds on one message, every service. Responses that would pass
  // the send bound (a Tokenize of long text) are refused by the service
  // with a message naming it.
  int64_t max_receive_message_bytes = 4 << 20;
  int64_t max_send_message_bytes = 4 << 20;
  // Calls in flight per model (server/operations/admission.h) and the retry hint of a
  // refusal for load.
  int64_t max_streams_per_model = 512;
  absl::Duration retry_after = absl::Seconds(1);
  // The deadline of a call whose client set none; InfiniteDuration: none.
  absl::Duration default_deadline = absl::Minutes(5);
};

}  // namespace tinylm

#endif  // TINYLM_SERVER_RPC_SERVICE_LIMITS_H_
