#include "kernels/torch/qkv_post_op.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/gelu.h>
#include <torch/csrc/autograd/custom_function.h>

#include "kernels/qkv_post.h"
#include "kernels/torch/launch.h"

namespace tinylm::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

int64_t Width(const QkvPostConfig& c) {
  return (c.n_head + 2 * c.n_query_groups) * c.head_size;
}

kernels::QkvLayout Layout(int64_t batch, int64_t tokens,
                          const QkvPostConfig& c) {
  kernels::QkvLayout layout;
  layout.batch = batch;
  layout.tokens = tokens;
  layout.n_head = int(c.n_head);
  layout.n_query_groups = int(c.n_query_groups);
  layout.head_size = int(c.head_size);
  return layout;
}

// Checks what the forward and backward share and returns the kernel's view
// of bias, tables and positions.
kernels::QkvPostParams Params(const at::Tensor& like, int64_t batch,
                              int64_t tokens, const at::Tensor& bias,
                              const at::Tensor& cos, const at::Tensor& sin,
                              const at::Tensor& positions,
                              const QkvPostConfig& c, const char* op) {
  TORCH_CHECK(c.n_head > 0 && c.n_query_groups > 0 && c.head_size > 0 &&
                  c.head_size % 2 == 0,
              op, ": H, G > 0 and an even head size expected");
  const auto on_device = [&](const at::Tensor& t) {
    return t.device() == like.device() && t.is_contiguous();
  };
  if (bias.defined()) {
    TORCH_CHECK(on_device(bias) && bias.scalar_type() == at::kFloat &&
                    bias.dim() == 1 && bias.size(0) == Width(c),
                op, ": bias: contiguous float32 [", Width(c), "] expected");
  }
  TORCH_CHECK(on_device(cos) && on_device(sin) &&
                  cos.scalar_type() == at::kFloat &&
                  sin.scalar_type() == at::kFloat && cos.dim() == 2 &&
                  cos.size(1) == c.head_size && sin.sizes() == cos.sizes(),
              op, ": cos, sin: contiguous float32 [block_size, ", c.head_size,
              "] expected");
  if (positions.defined()) {
    TORCH_CHECK(on_device(positions) && positions.scalar_type() == at::kLong &&
                    positions.sizes() == at::IntArrayRef({batch, tokens}),
                op, ": positions: contiguous int64 [", batch, ", ", tokens,
                "] expected");
  } else {
    TORCH_CHECK(tokens <= cos.size(0), op, ": T = ", tokens,
                " exceeds the RoPE tables' ", cos.size(0), " rows");
  }
  kernels::QkvPostParams params;
  params.bias = bias.defined() ? bias.data_ptr<float>() : nullptr;
  params.gelu = c.gelu;
  params.cos = cos.data_ptr<float>();
  params.sin = sin.data_ptr<float>();
  params.table_rows = cos.size(0);
  params.positions =
      positions.defined() ? positions.data_ptr<int64_t>() : nullptr;
  return params;
}

void CheckTensor(const at::Tensor& t, at::IntArrayRef sizes,
                 const at::Tensor& like, const char* what) {
  TORCH_CHECK(t.device() == like.device() && t.is_contiguous() &&
                  t.scalar_type() == like.scalar_type() && t.sizes() == sizes,
              what, ": contiguous ", like.scalar_type(), " ", sizes, " on ",
              like.device(), " expected, got ", t.scalar_type(), " ",
              t.sizes());
}

class QkvPostFunction : public torch::autograd::Function<QkvPostFunction> {
 public:
  // bias and positions: empty when absent (detail::OrEmpty).
  static variable_list forward(AutogradContext* ctx, const at::Tensor& proj,
                               const at::Tensor& bias_or_empty,
                               const at::Tensor& cos, const at::Tensor& sin,
                               const at::Tensor& positions_or_empty,
                               int64_t n_head, int64_t n_query_groups,
                               int64_t head_size, bool gelu) {
    const QkvPostConfig c{n_head, n_query_groups, head_size, gelu};
    const at::Tensor bias = detail::Present(bias_or_empty);
    const at::Tensor positions = detail::Present(positions_or_empty);
    const int64_t B = proj.size(0), T = proj.size(1);
    const at::Tensor p = proj.contiguous();
    const at::Tensor bias32 =
        bias.defined() ? bias.to(at::kFloat).contiguous() : at::Tensor();
    at::Tensor q = at::empty({B, n_head, T, head_size}, p.options());
    at::Tensor k = at::empty({B, n_query_groups, T, head_size}, p.options());
    at::Tensor v = at::empty({B, n_query_groups, T, head_size}, p.options());
    QkvPostForwardOut(p, bias32, cos, sin, positions, c, q, k, v);
    // GELU's backward needs its input again; without GELU nothing of proj.
    ctx->save_for_backward(
        {gelu ? p : at::Tensor(), bias, cos, sin, positions});
    ctx->saved_data["n_head"] = n_head;
    ctx->saved_data["n_query_groups"] = n_query_groups;
    ctx->saved_data["head_size"] = head_size;
    ctx->saved_data["gelu"] = gelu;
    return {q, k, v};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor& proj = saved[0];
    const at::Tensor& bias = saved[1];  // undefined when absent
    const QkvPostConfig c{ctx->saved_data["n_head"].toInt(),
                          ctx->saved_data["n_query_groups"].toInt(),
                          ctx->saved_data["head_size"].toInt(),
                          ctx->saved_data["gelu"].toBool()};
    const at::Tensor dq = grads[0].contiguous();
    const at::Tensor dk = grads[1].to(dq.scalar_type()).contiguous();
    const at::Tensor dv = grads[2].to(dq.scalar_type()).contiguous();
    at::Tensor dproj =
        at::empty({dq.size(0), dq.size(2), Width(c)}, dq.options());
    at::Tensor dbias;
    if (bias.defined() && ctx->needs_input_grad(1)) {
      dbias = at::empty({Width(c)}, dq.options().dtype(at::kFloat));
    }
    const at::Tensor bias32 =
        bias.defined() ? bias.to(at::kFloat).contiguous() : at::Tensor();
    QkvPostBackwardOut(dq, dk, dv, proj, bias32, saved[2], saved[3], saved[4],
                       c, dproj, dbias);
    return {dproj,
            dbias.defined() ? dbias.to(bias.scalar_type()) : at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor()};
  }
};

}  // namespace

std::vector<at::Tensor> QkvPost(const at::Tensor& proj, const at::Tensor& bias,
                                const at::Tensor& cos, const at::Tensor& sin,
                                const at::Tensor& positions,
                                const QkvPostConfig& config) {
  TORCH_CHECK(proj.dim() == 3 && proj.size(2) == Width(config),
              "QkvPost: proj [B, T, ", Width(config), "] expected, got ",
              proj.sizes());
  if (!proj.is_cuda() || proj.numel() == 0) {
    return QkvPostReference(proj, bias, cos, sin, positions, config);
  }
  return QkvPostFunction::apply(
      proj, detail::OrEmpty(bias, proj), cos.to(at::kFloat).contiguous(),
      sin.to(at::kFloat).contiguous(),
      detail::OrEmpty(
          positions.defined() ? positions.contiguous() : positions, proj),
      config.n_head, config.n_query_groups, config.head_size, config.gelu);
}

std::vector<at::Tensor> QkvPostReference(const at::Tensor& proj,
                                         const at::Tensor& bias,
                                         const at::Tensor& cos,
                                         const at::Tensor& sin,
                                         const at::Tensor& positions,
                                         const QkvPostConfig& c) {
  const auto compute =
      proj.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const int64_t B = proj.size(0), T = proj.size(1);
  const int64_t H = c.n_head, G = c.n_query_groups, hs = c.head_size;
  // 1. u = proj + bias, a = gelu(u), heads [B, H + 2G, T, hs].
  at::Tensor a = proj.to(compute);
  if (bias.defined()) a = a + bias.to(compute);
  if (c.gelu) a = at::gelu(a);
  const at::Tensor heads = a.view({B, T, H + 2 * G, hs}).transpose(1, 2);
  // 2. The tokens' table rows, [B or 1, 1, T, hs].
  at::Tensor cos_rows, sin_rows;
  if (positions.defined()) {
    const at::Tensor flat = positions.reshape({-1});
    cos_rows = cos.index_select(0, flat).view({B, 1, T, hs});
    sin_rows = sin.index_select(0, flat).view({B, 1, T, hs});
  } else {
    cos_rows = cos.narrow(0, 0, T).view({1, 1, T, hs});
    sin_rows = sin.narrow(0, 0, T).view({1, 1, T, hs});
  }
  // 3. q and k heads: a·cos + rotate_half(a)·sin, rotate_half([a1, a2]) =
  //    [-a2, a1].
  const int64_t half = hs / 2;
  const at::Tensor qk = heads.narrow(1, 0, H + G);
  const at::Tensor rotated =
      at::cat({-qk.narrow(-1, half, half), qk.narrow(-1, 0, half)}, -1);
  const at::Tensor roped =
      (qk * cos_rows.to(compute) + rotated * sin_rows.to(compute))
          .to(proj.scalar_type());
  return {roped.narrow(1, 0, H).contiguous(),
          roped.narrow(1, H, G).contiguous(),
          heads.narrow(1, H + G, G).to(proj.scalar_type()).contiguous()};
}

void QkvPostForwardOut(const at::Tensor& proj, const at::Tensor& bias,
                       const at::Tensor& cos, const at::Tensor& sin,
                       const at::Tensor& positions, const QkvPostConfig& c,
                       at::Tensor& q, at::Tensor& k, at::Tensor& v) {
  TORCH_CHECK(proj.is_cuda() && proj.dim() == 3 && proj.is_contiguous() &&
                  proj.size(2) == Width(c),
              "QkvPostForwardOut: contiguous CUDA proj [B, T, ", Width(c),
              "] expected, got ", proj.sizes());
  const int64_t B = proj.size(0), T = proj.size(1);
  const kernels::QkvPostParams params =
      Params(proj, B, T, bias, cos, sin, positions, c, "QkvPostForwardOut");
  CheckTensor(q, {B, c.n_head, T, c.head_size}, proj, "QkvPostForwardOut: q");
  CheckTensor(k, {B, c.n_query_groups, T, c.head_size}, proj,
              "QkvPostForwardOut: k");
  CheckTensor(v, {B, c.n_query_groups, T, c.head_size}, proj,
              "QkvPostForwardOut: v");
  detail::CheckLaunch(
      kernels::QkvPostForward(detail::KernelDType(proj, "QkvPost: proj"),
                              Layout(B, T, c), params, proj.data_ptr(),
                              q.data_ptr(), k.data_ptr(), v.data_ptr(),
                              detail::CurrentStream(proj)),
      "QkvPostForward");
}

void QkvPostBackwardOut(const at::Tensor& dq, const at::Tensor& dk,
                        const at::Tensor& dv, const at::Tensor& proj,
                        const at::Tensor& bias, const at::Tensor& cos,
                        const at::Tensor& sin, const at::Tensor& positions,
                        const QkvPostConfig& c, at::Tensor& dproj,
                        at::Tensor& dbias) {
  TORCH_CHECK(dq.is_cuda() && dq.dim() == 4,
              "QkvPostBackwardOut: CUDA dq [B, H, T, hs] expected");
  const int64_t B = dq.size(0), T = dq.size(2);
  const kernels::QkvPostParams params =
      Params(dq, B, T, bias, cos, sin, positions, c, "QkvPostBackwardOut");
  CheckTensor(dq, {B, c.n_head, T, c.head_size}, dq, "QkvPostBackwardOut: dq");
  CheckTensor(dk, {B, c.n_query_groups, T, c.head_size}, dq,
              "QkvPostBackwardOut: dk");
  CheckTensor(dv, {B, c.n_query_groups, T, c.head_size}, dq,
              "QkvPostBackwardOut: dv");
  CheckTensor(dproj, {B, T, Width(c)}, dq, "QkvPostBackwardOut: dproj");
  if (c.gelu) {
    CheckTensor(proj, {B, T, Width(c)}, dq, "QkvPostBackwardOut: proj");
  }
  if (dbias.defined()) {
    TORCH_CHECK(dbias.device() == dq.device() &&
                    dbias.scalar_type() == at::kFloat &&
                    dbias.sizes() == at::IntArrayRef({Width(c)}) &&
                    dbias.is_contiguous(),
                "QkvPostBackwardOut: dbias: contiguous float32 [", Width(c),
                "] expected");
    TORCH_CHECK(Width(c) <= kernels::kQkvPostMaxBiasWidth,
                "QkvPostBackwardOut: dbias wider than ",
                kernels::kQkvPostMaxBiasWidth);
  }
  const kernels::QkvLayout layout = Layout(B, T, c);
  const at::Tensor workspace = detail::Workspace(
      kernels::QkvPostBackwardWorkspaceBytes(layout, dbias.defined()), dq);
  detail::CheckLaunch(
      kernels::QkvPostBackward(
          detail::KernelDType(dq, "QkvPost: dq"), layout, params, dq.data_ptr(),
          dk.data_ptr(), dv.data_ptr(), c.gelu ? proj.data_ptr() : nullptr,
          dproj.data_ptr(), dbias.defined() ? dbias.data_ptr<float>() : nullptr,
          workspace.data_ptr(), detail::CurrentStream(dq)),
      "QkvPostBackward");
}

}  // namespace tinylm::ops
