#include "train/grad_buckets.h"

#include <algorithm>
#include <map>

namespace tinylm {

std::vector<GradBucket> PlanGradBuckets(const std::vector<GradSlice>& slices,
                                        int64_t bucket_floats) {
  // Each buffer's slices, last created first.
  std::map<int, std::vector<int>> by_buffer;
  for (int i = int(slices.size()) - 1; i >= 0; --i) {
    by_buffer[slices[i].buffer].push_back(i);
  }
  struct Planned {
    GradBucket bucket;
    int ready_at;  // slices backward completes before this bucket's last
  };
  std::vector<Planned> planned;
  const int n = int(slices.size());
  for (auto& [buffer, members] : by_buffer) {
    std::sort(members.begin(), members.end(), [&](int a, int b) {
      return slices[a].offset > slices[b].offset;
    });
    GradBucket bucket;
    bucket.buffer = buffer;
    int64_t floats = 0;
    for (size_t k = 0; k < members.size(); ++k) {
      bucket.members.push_back(members[k]);
      floats += slices[members[k]].numel;
      if (floats < bucket_floats && k + 1 < members.size()) continue;
      bucket.begin = slices[bucket.members.back()].offset;
      bucket.end = slices[bucket.members.front()].offset +
                   slices[bucket.members.front()].numel;
      // The first-created member comes last in backward.
      const int first =
          *std::min_element(bucket.members.begin(), bucket.members.end());
      planned.push_back({bucket, n - 1 - first});
      bucket.members.clear();
      floats = 0;
    }
  }
  std::stable_sort(planned.begin(), planned.end(),
                   [](const Planned& a, const Planned& b) {
                     return a.ready_at < b.ready_at;
                   });
  std::vector<GradBucket> buckets;
  for (Planned& p : planned) buckets.push_back(std::move(p.bucket));
  return buckets;
}

}  // namespace tinylm
