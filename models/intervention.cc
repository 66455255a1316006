#include "models/intervention.h"

#include <algorithm>

#include <ATen/ATen.h>

namespace tinylm {
namespace {

// Where the positions run in an activation at `point`: [B, T, C] or
// [B, H, T, *].
int64_t PositionAxis(HookPoint point) {
  return point == HookPoint::kHeadOutputs ||
                 point == HookPoint::kAttentionPattern
             ? 2
             : 1;
}

std::vector<int64_t> HeadsOf(const InterventionSpec& spec, int64_t heads) {
  if (!spec.heads.empty()) return spec.heads;
  std::vector<int64_t> all(heads);
  for (int64_t h = 0; h < heads; ++h) all[h] = h;
  return all;
}

// x zeroed, or every position replaced by the mean over the positions.
at::Tensor Ablated(const at::Tensor& x, int64_t axis, bool mean) {
  return mean ? x.mean(axis, /*keepdim=*/true).expand_as(x) : at::zeros_like(x);
}

at::Tensor Ablate(const InterventionSpec& spec, const at::Tensor& value) {
  const bool mean = spec.action == InterventionSpec::Action::kMean;
  if (spec.point != HookPoint::kHeadOutputs) {
    return Ablated(value, PositionAxis(spec.point), mean);
  }
  at::Tensor out = value.clone();  // [B, H, T, hs]: only the chosen heads
  for (int64_t h : HeadsOf(spec, value.size(1))) {
    at::Tensor head = out.narrow(1, h, 1);
    head.copy_(Ablated(head, 2, mean));
  }
  return out;
}

// The source's activation at the spec's positions replaces the value's.
// Positions the current sequence does not have yet, and positions past the
// source (generated tokens), are left alone.
at::Tensor Patched(const InterventionSpec& spec, const at::Tensor& source,
                   const at::Tensor& value) {
  const int64_t axis = PositionAxis(spec.point);
  const int64_t S = source.size(axis);
  const int64_t reach = std::min(S, value.size(axis));
  std::vector<int64_t> positions;
  if (spec.positions.empty()) {
    for (int64_t p = 0; p < reach; ++p) positions.push_back(p);
  } else {
    for (int64_t p : spec.positions) {
      if (p < reach) positions.push_back(p);
    }
  }
  if (positions.empty()) return value;
  const int64_t B = value.size(0), P = positions.size();
  const at::Tensor index = at::tensor(positions, at::kLong).to(value.device());
  at::Tensor out = value.clone();
  if (spec.point == HookPoint::kResidual) {
    // [B, T, C] <- [1, S, C]
    out.index_copy_(1, index, source.index_select(1, index).expand({B, P, -1}));
    return out;
  }
  // The pattern [B, H, T, L] <- [1, H, S, S]: a query row p < S sees no key
  // past p, so keys 0..S-1 hold its whole row.
  for (int64_t h : HeadsOf(spec, value.size(1))) {
    at::Tensor rows = out.narrow(1, h, 1).narrow(3, 0, S);  // [B, 1, T, S]
    rows.index_copy_(
        2, index,
        source.narrow(1, h, 1).index_select(2, index).expand({B, 1, P, S}));
  }
  return out;
}

}  // namespace

void RecordingHooks::Record(HookPoint point, int64_t layer) {
  recorded_[{point, layer}] = at::Tensor();
}

at::Tensor RecordingHooks::Recorded(HookPoint point, int64_t layer) const {
  const auto it = recorded_.find({point, layer});
  return it == recorded_.end() ? at::Tensor() : it->second;
}

bool RecordingHooks::Wants(HookPoint point, int64_t layer) const {
  return recorded_.count({point, layer}) > 0;
}

at::Tensor RecordingHooks::At(HookPoint point, int64_t layer,
                              const at::Tensor& value) {
  recorded_[{point, layer}] = value;
  return value;
}

InterventionHooks::InterventionHooks(std::vector<InterventionSpec> specs,
                                     std::vector<at::Tensor> sources)
    : specs_(std::move(specs)), sources_(std::move(sources)) {
  sources_.resize(specs_.size());
}

bool InterventionHooks::Wants(HookPoint point, int64_t layer) const {
  return std::any_of(specs_.begin(), specs_.end(),
                     [&](const InterventionSpec& spec) {
                       return spec.point == point && spec.layer == layer;
                     });
}

at::Tensor InterventionHooks::At(HookPoint point, int64_t layer,
                                 const at::Tensor& value) {
  at::Tensor out = value;
  for (size_t i = 0; i < specs_.size(); ++i) {
    const InterventionSpec& spec = specs_[i];
    if (spec.point != point || spec.layer != layer) continue;
    out = spec.action == InterventionSpec::Action::kPatch
              ? Patched(spec, sources_[i], out)
              : Ablate(spec, out);
  }
  return out;
}

}  // namespace tinylm
