// The plan of the gradient all-reduce: which gradients go together into
// one bucket, and in which order the buckets are sent.
//
// The gradients already lie in flat buffers (train/flat_parameters.h), so
// a bucket is a contiguous range of one buffer, all-reduced in place: no
// copy in or out. Backward produces gradients roughly in the reverse of the
// order the parameters were created (forward order), so each buffer is cut
// from its end, and the buckets are sent in the order their last gradient
// is expected. Every rank computes the same plan from the same model, which
// keeps the ranks' collectives in the same order.
#ifndef TINYLM_TRAIN_GRAD_BUCKETS_H_
#define TINYLM_TRAIN_GRAD_BUCKETS_H_

#include <cstdint>
#include <vector>

namespace tinylm {

// Where one parameter's gradient lies: `numel` floats from `offset` of flat
// buffer `buffer`.
struct GradSlice {
  int buffer = 0;
  int64_t offset = 0;
  int64_t numel = 0;
};

struct GradBucket {
  int buffer = 0;
  int64_t begin = 0, end = 0;  // floats [begin, end) of the buffer
  std::vector<int> members;    // indices of the slices it holds
};

// `slices` in the order the parameters were created; each bucket holds at
// least `bucket_floats` floats except the last one cut from each buffer.
// Listed in the order they are to be sent.
std::vector<GradBucket> PlanGradBuckets(const std::vector<GradSlice>& slices,
                                        int64_t bucket_floats);

}  // namespace tinylm

#endif  // TINYLM_TRAIN_GRAD_BUCKETS_H_
