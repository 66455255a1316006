#include "kernels/torch/causal_attention_op.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/softmax.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>
#include <limits>

#include "kernels/attention_softmax.h"
#include "kernels/torch/launch.h"

namespace tinylm::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// scores: [B, H, T, L]; g: [B, T, H·block_size] or undefined.
kernels::CausalSoftmaxLayout SoftmaxLayout(const at::Tensor& scores,
                                           const at::Tensor& g) {
  kernels::CausalSoftmaxLayout layout;
  layout.batch = scores.size(0);
  layout.n_head = int(scores.size(1));
  layout.queries = int(scores.size(2));
  layout.keys = int(scores.size(3));
  layout.g_keys = g.defined() ? int(g.size(2) / scores.size(1)) : 0;
  return layout;
}

void CheckScores(const at::Tensor& t, const at::Tensor& like,
                 const char* what) {
  TORCH_CHECK(t.is_cuda() && t.device() == like.device() && t.dim() == 4 &&
                  t.sizes() == like.sizes() && t.is_contiguous() &&
                  t.scalar_type() == like.scalar_type(),
              what, ": contiguous ", like.scalar_type(), " ", like.sizes(),
              " on ", like.device(), " expected, got ", t.scalar_type(), " ",
              t.sizes());
  TORCH_CHECK(t.size(3) >= t.size(2), what, ": L >= T expected, got ",
              t.sizes());
}

void CheckG(const at::Tensor& g, const at::Tensor& scores, const char* what) {
  if (!g.defined()) return;
  const int64_t B = scores.size(0), H = scores.size(1), T = scores.size(2);
  const int64_t L = scores.size(3);
  TORCH_CHECK(g.device() == scores.device() && g.is_contiguous() &&
                  g.scalar_type() == scores.scalar_type() && g.dim() == 3 &&
                  g.size(0) == B && g.size(1) == T && g.size(2) % H == 0 &&
                  g.size(2) / H >= L,
              what, ": contiguous ", scores.scalar_type(), " [", B, ", ", T,
              ", H·block_size] with block_size >= ", L, " expected, got ",
              g.scalar_type(), " ", g.sizes());
}

double Scale(int64_t head_size) { return 1.0 / std::sqrt(double(head_size)); }

// [B, H, T, hs] -> [B, G, (H/G)·T, hs]: the query heads of one group, one
// after another, so that one batched product covers the group.
at::Tensor GroupQueries(const at::Tensor& x, int64_t groups) {
  const int64_t B = x.size(0), H = x.size(1), T = x.size(2), hs = x.size(3);
  return x.contiguous().view({B, groups, H / groups * T, hs});
}

class CausalAttentionFunction
    : public torch::autograd::Function<CausalAttentionFunction> {
 public:
  // Returns {y [B, H, T, hs], probs [B, H, T, L]}; probs is not
  // differentiable (it is what the backward reads).
  // g: the score_fcn term, or empty when absent (detail::OrEmpty).
  static variable_list forward(AutogradContext* ctx, const at::Tensor& q,
                               const at::Tensor& k, const at::Tensor& v,
                               const at::Tensor& g_or_empty) {
    c10::impl::ExcludeDispatchKeyGuard no_autocast(
        c10::autocast_dispatch_keyset);
    const at::Tensor g = detail::Present(g_or_empty);
    const int64_t B = q.size(0), H = q.size(1), T = q.size(2);
    const int64_t hs = q.size(3), G = k.size(1), L = k.size(2);
    const at::Tensor q_groups = GroupQueries(q, G);  // [B, G, rT, hs]
    const at::Tensor k_c = k.contiguous(), v_c = v.contiguous();
    // 1, 2. Scores [B, H, T, L], turned into weights in place.
    at::Tensor probs =
        at::matmul(q_groups, k_c.transpose(-2, -1)).view({B, H, T, L});
    const at::Tensor g_c =
        g.defined() ? g.to(q.scalar_type()).contiguous() : at::Tensor();
    CausalSoftmaxForwardOut(probs, g_c, Scale(hs), probs);
    // 3. y = p·v.
    const at::Tensor y =
        at::matmul(probs.view({B, G, H / G * T, L}), v_c).view({B, H, T, hs});
    ctx->save_for_backward({q_groups, k_c, v_c, probs});
    ctx->saved_data["g_cols"] = g.defined() ? g.size(2) : int64_t(-1);
    ctx->saved_data["g_dtype"] =
        int64_t(g.defined() ? g.scalar_type() : q.scalar_type());
    ctx->mark_non_differentiable({probs});
    return {y, probs};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    c10::impl::ExcludeDispatchKeyGuard no_autocast(
        c10::autocast_dispatch_keyset);
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor& q_groups = saved[0];  // [B, G, rT, hs]
    const at::Tensor& k = saved[1];         // [B, G, L, hs]
    const at::Tensor& v = saved[2];         // [B, G, L, hs]
    const at::Tensor& probs = saved[3];     // [B, H, T, L]
    const int64_t B = probs.size(0), H = probs.size(1), T = probs.size(2);
    const int64_t L = probs.size(3), G = k.size(1), hs = k.size(3);
    const int64_t g_cols = ctx->saved_data["g_cols"].toInt();
    const at::Tensor dy =
        grads[0].to(q_groups.scalar_type()).contiguous().view(q_groups.sizes());
    // 1. dp = dy·vᵀ, [B, H, T, L]; 2. the softmax backward, in place.
    at::Tensor dscores = at::matmul(dy, v.transpose(-2, -1)).view({B, H, T, L});
    at::Tensor dg;
    if (g_cols >= 0) dg = at::empty({B, T, g_cols}, dscores.options());
    CausalSoftmaxBackwardOut(probs, dscores, Scale(hs), dscores, dg);
    // 3. dq = ds·k, dk = dsᵀ·q, dv = pᵀ·dy.
    const at::Tensor ds_groups = dscores.view({B, G, H / G * T, L});
    const at::Tensor dq = at::matmul(ds_groups, k).view({B, H, T, hs});
    const at::Tensor dk = at::matmul(ds_groups.transpose(-2, -1), q_groups);
    const at::Tensor dv =
        at::matmul(probs.view({B, G, H / G * T, L}).transpose(-2, -1), dy);
    if (dg.defined()) {
      dg = dg.to(at::ScalarType(ctx->saved_data["g_dtype"].toInt()));
    }
    return {dq, dk, dv, dg};
  }
};

}  // namespace

at::Tensor CausalAttention(const at::Tensor& q, const at::Tensor& k,
                           const at::Tensor& v, const at::Tensor& g,
                           at::Tensor* probs) {
  TORCH_CHECK(q.dim() == 4 && k.dim() == 4 && v.sizes() == k.sizes() &&
                  q.size(0) == k.size(0) && q.size(3) == k.size(3) &&
                  k.size(1) > 0 && q.size(1) % k.size(1) == 0 &&
                  k.size(2) >= q.size(2),
              "CausalAttention: q [B, H, T, hs], k and v [B, G, L, hs] with G "
              "dividing H and L >= T expected, got ",
              q.sizes(), ", ", k.sizes(), ", ", v.sizes());
  TORCH_CHECK(
      k.scalar_type() == q.scalar_type() && v.scalar_type() == q.scalar_type(),
      "CausalAttention: q, k, v of one dtype expected");
  if (!q.is_cuda() || q.numel() == 0) {
    return CausalAttentionReference(q, k, v, g, probs);
  }
  const variable_list out =
      CausalAttentionFunction::apply(q, k, v, detail::OrEmpty(g, q));
  if (probs != nullptr) *probs = out[1];
  return out[0];
}

at::Tensor CausalAttentionReference(const at::Tensor& q, const at::Tensor& k,
                                    const at::Tensor& v, const at::Tensor& g,
                                    at::Tensor* probs) {
  const auto compute =
      q.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), hs = q.size(3);
  const int64_t G = k.size(1), L = k.size(2);
  const at::Tensor keys = G == H ? k : k.repeat_interleave(H / G, 1);
  const at::Tensor values = G == H ? v : v.repeat_interleave(H / G, 1);
  // 1. Scores in float32: q·kᵀ/√hs (+ g), masked: key j visible to query i
  //    when j <= i + L - T.
  at::Tensor scores =
      at::matmul(q.to(compute), keys.to(compute).transpose(-2, -1)) * Scale(hs);
  if (g.defined()) {
    scores = scores + g.view({B, T, H, -1})
                          .permute({0, 2, 1, 3})
                          .narrow(-1, 0, L)
                          .to(compute);
  }
  const at::Tensor visible =
      at::ones({T, L}, q.options().dtype(at::kBool)).tril(L - T);
  scores = scores.masked_fill(visible.logical_not(),
                              -std::numeric_limits<double>::infinity());
  // 2. Softmax, cast to v's dtype once: what multiplies v and what the
  //    caller sees.
  const at::Tensor weights = at::softmax(scores, -1).to(v.scalar_type());
  if (probs != nullptr) *probs = weights;
  return at::matmul(weights, values);
}

void CausalSoftmaxForwardOut(const at::Tensor& scores, const at::Tensor& g,
                             double scale, at::Tensor& probs) {
  CheckScores(scores, scores, "CausalSoftmaxForwardOut: scores");
  CheckScores(probs, scores, "CausalSoftmaxForwardOut: probs");
  CheckG(g, scores, "CausalSoftmaxForwardOut: g");
  detail::CheckLaunch(
      kernels::CausalSoftmaxForward(
          detail::KernelDType(scores, "CausalAttention: scores"),
          SoftmaxLayout(scores, g), float(scale), scores.data_ptr(),
          g.defined() ? g.data_ptr() : nullptr, probs.data_ptr(),
          detail::CurrentStream(scores)),
      "CausalSoftmaxForward");
}

void CausalSoftmaxBackwardOut(const at::Tensor& probs, const at::Tensor& dprobs,
                              double scale, at::Tensor& dscores,
                              at::Tensor& dg) {
  CheckScores(probs, probs, "CausalSoftmaxBackwardOut: probs");
  CheckScores(dprobs, probs, "CausalSoftmaxBackwardOut: dprobs");
  CheckScores(dscores, probs, "CausalSoftmaxBackwardOut: dscores");
  CheckG(dg, probs, "CausalSoftmaxBackwardOut: dg");
  detail::CheckLaunch(
      kernels::CausalSoftmaxBackward(
          detail::KernelDType(probs, "CausalAttention: probs"),
          SoftmaxLayout(probs, dg), float(scale), probs.data_ptr(),
          dprobs.data_ptr(), dscores.data_ptr(),
          dg.defined() ? dg.data_ptr() : nullptr, detail::CurrentStream(probs)),
      "CausalSoftmaxBackward");
}

}  // namespace tinylm::ops
