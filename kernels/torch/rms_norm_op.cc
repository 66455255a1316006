#include "kernels/torch/rms_norm_op.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/rsqrt.h>
#include <ATen/ops/zeros.h>
#include <torch/csrc/autograd/custom_function.h>

#include "kernels/rms_norm.h"
#include "kernels/torch/launch.h"

namespace tinylm::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

void CheckRows(const at::Tensor& t, const at::Tensor& like,
               at::ScalarType dtype, const char* what) {
  TORCH_CHECK(t.is_cuda() && t.device() == like.device(), what, ": on ",
              like.device(), " expected");
  TORCH_CHECK(t.dim() == 2 && t.sizes() == like.sizes() && t.is_contiguous(),
              what, ": contiguous ", like.sizes(), " expected, got ",
              t.sizes());
  TORCH_CHECK(t.scalar_type() == dtype, what, ": ", dtype, " expected");
}

// y's dtype: x's, or bfloat16 for float32 x.
void CheckOutputDType(const at::Tensor& x, at::ScalarType y_dtype,
                      const char* what) {
  TORCH_CHECK(y_dtype == x.scalar_type() ||
                  (x.scalar_type() == at::kFloat && y_dtype == at::kBFloat16),
              what, ": y of x's dtype, or bfloat16 for float32 x, expected; "
              "got x ", x.scalar_type(), ", y ", y_dtype);
}

void CheckFloatVector(const at::Tensor& t, int64_t size, const at::Tensor& like,
                      const char* what) {
  TORCH_CHECK(t.device() == like.device() && t.scalar_type() == at::kFloat &&
                  t.dim() == 1 && t.size(0) == size && t.is_contiguous(),
              what, ": contiguous float32 [", size, "] on ", like.device(),
              " expected");
}

class RmsNormFunction : public torch::autograd::Function<RmsNormFunction> {
 public:
  // x: [..., C]; weight: [C]; y_dtype: see CheckOutputDType.
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x,
                            const at::Tensor& weight, double eps,
                            at::ScalarType y_dtype) {
    const int64_t cols = x.size(-1);
    const at::Tensor x_rows = x.reshape({-1, cols}).contiguous();
    at::Tensor y = at::empty_like(x_rows, x_rows.options().dtype(y_dtype));
    at::Tensor rstd =
        at::empty({x_rows.size(0)}, x.options().dtype(at::kFloat));
    RmsNormForwardOut(x_rows, weight.to(at::kFloat).contiguous(), eps, y, rstd);
    ctx->save_for_backward({x_rows, weight, rstd});
    ctx->saved_data["y_dtype"] = int64_t(y_dtype);
    return y.view(x.sizes());
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor& x_rows = saved[0];
    const at::Tensor& weight = saved[1];
    const at::Tensor& rstd = saved[2];
    // dy in y's dtype, dx in x's.
    const auto y_dtype = at::ScalarType(ctx->saved_data["y_dtype"].toInt());
    const at::Tensor dy =
        grads[0].reshape(x_rows.sizes()).to(y_dtype).contiguous();
    at::Tensor dx = at::empty_like(x_rows);
    at::Tensor dweight =
        at::empty({x_rows.size(1)}, x_rows.options().dtype(at::kFloat));
    RmsNormBackwardOut(dy, x_rows, weight.to(at::kFloat).contiguous(), rstd, dx,
                       dweight);
    return {dx.view(grads[0].sizes()), dweight.to(weight.scalar_type()),
            at::Tensor(), at::Tensor()};
  }
};

// h = x + delta, y = RMSNorm(h): x [..., C], delta [..., C] of y's dtype.
class AddRmsNormFunction
    : public torch::autograd::Function<AddRmsNormFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x,
                               const at::Tensor& delta,
                               const at::Tensor& weight, double eps,
                               at::ScalarType y_dtype) {
    const int64_t cols = x.size(-1);
    const at::Tensor x_rows = x.reshape({-1, cols}).contiguous();
    const at::Tensor delta_rows = delta.reshape({-1, cols}).contiguous();
    at::Tensor h = at::empty_like(x_rows);
    at::Tensor y = at::empty_like(x_rows, x_rows.options().dtype(y_dtype));
    at::Tensor rstd =
        at::empty({x_rows.size(0)}, x.options().dtype(at::kFloat));
    RmsNormForwardOut(x_rows, weight.to(at::kFloat).contiguous(), eps, y, rstd,
                      delta_rows, &h);
    ctx->save_for_backward({h, weight, rstd});
    ctx->saved_data["y_dtype"] = int64_t(y_dtype);
    ctx->saved_data["x_sizes"] = x.sizes().vec();
    return {h.view(x.sizes()), y.view(x.sizes())};
  }

  // grads: {dh, dy}; either may be undefined (unused).
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor& h = saved[0];
    const at::Tensor& weight = saved[1];
    const at::Tensor& rstd = saved[2];
    const auto y_dtype = at::ScalarType(ctx->saved_data["y_dtype"].toInt());
    const at::Tensor dy =
        grads[1].defined()
            ? grads[1].reshape(h.sizes()).to(y_dtype).contiguous()
            : at::zeros(h.sizes(), h.options().dtype(y_dtype));
    const at::Tensor dh =
        grads[0].defined()
            ? grads[0].reshape(h.sizes()).to(h.scalar_type()).contiguous()
            : at::Tensor();
    at::Tensor dx = at::empty_like(h);
    at::Tensor ddelta = at::empty_like(h, h.options().dtype(y_dtype));
    at::Tensor dweight = at::empty({h.size(1)}, h.options().dtype(at::kFloat));
    RmsNormBackwardOut(dy, h, weight.to(at::kFloat).contiguous(), rstd, dx,
                       dweight, dh, &ddelta);
    const std::vector<int64_t> shape = ctx->saved_data["x_sizes"].toIntVector();
    return {dx.view(shape), ddelta.view(shape),
            dweight.to(weight.scalar_type()), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

std::vector<at::Tensor> AddRmsNorm(const at::Tensor& x, const at::Tensor& delta,
                                   const at::Tensor& weight, double eps,
                                   std::optional<at::ScalarType> y_dtype) {
  TORCH_CHECK(delta.sizes() == x.sizes(),
              "AddRmsNorm: x and delta of one shape expected, got ", x.sizes(),
              " and ", delta.sizes());
  const at::ScalarType out = y_dtype.value_or(x.scalar_type());
  if (!x.is_cuda() || x.size(-1) > kernels::kRmsNormMaxCols || x.numel() == 0) {
    const at::Tensor h = x + delta;
    return {h, RmsNormReference(h, weight, eps).to(out)};
  }
  CheckOutputDType(x, out, "AddRmsNorm");
  TORCH_CHECK(delta.scalar_type() == out, "AddRmsNorm: delta of y's dtype ",
              out, " expected, got ", delta.scalar_type());
  return AddRmsNormFunction::apply(x, delta, weight, eps, out);
}

at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps,
                   std::optional<at::ScalarType> y_dtype) {
  TORCH_CHECK(x.dim() >= 1 && weight.dim() == 1 && weight.size(0) == x.size(-1),
              "RmsNorm: x [..., C] and weight [C] expected, got ", x.sizes(),
              " and ", weight.sizes());
  const at::ScalarType out = y_dtype.value_or(x.scalar_type());
  if (!x.is_cuda() || x.size(-1) > kernels::kRmsNormMaxCols || x.numel() == 0) {
    return RmsNormReference(x, weight, eps).to(out);
  }
  CheckOutputDType(x, out, "RmsNorm");
  return RmsNormFunction::apply(x, weight, eps, out);
}

at::Tensor RmsNormReference(const at::Tensor& x, const at::Tensor& weight,
                            double eps) {
  const auto compute =
      x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const at::Tensor xc = x.to(compute);
  const at::Tensor norm = xc * at::rsqrt(xc.pow(2).mean(-1, true) + eps);
  return (norm * weight.to(compute)).to(x.scalar_type());
}

void RmsNormForwardOut(const at::Tensor& x, const at::Tensor& weight,
                       double eps, at::Tensor& y, at::Tensor& rstd,
                       const at::Tensor& delta, at::Tensor* h) {
  TORCH_CHECK(x.is_cuda() && x.dim() == 2 && x.is_contiguous(),
              "RmsNormForwardOut: contiguous CUDA [N, C] x expected");
  const int64_t rows = x.size(0), cols = x.size(1);
  TORCH_CHECK(cols <= kernels::kRmsNormMaxCols, "RmsNormForwardOut: C = ", cols,
              " exceeds ", kernels::kRmsNormMaxCols);
  CheckFloatVector(weight, cols, x, "RmsNormForwardOut: weight");
  CheckOutputDType(x, y.scalar_type(), "RmsNormForwardOut");
  CheckRows(y, x, y.scalar_type(), "RmsNormForwardOut: y");
  CheckFloatVector(rstd, rows, x, "RmsNormForwardOut: rstd");
  TORCH_CHECK(delta.defined() == (h != nullptr),
              "RmsNormForwardOut: delta and h come together");
  kernels::RmsNormForwardArgs args;
  args.x = x.data_ptr();
  args.weight = weight.data_ptr<float>();
  args.y = y.data_ptr();
  args.rstd = rstd.data_ptr<float>();
  if (delta.defined()) {
    CheckRows(delta, x, y.scalar_type(), "RmsNormForwardOut: delta");
    CheckRows(*h, x, x.scalar_type(), "RmsNormForwardOut: h");
    args.delta = delta.data_ptr();
    args.h = h->data_ptr();
  }
  detail::CheckLaunch(
      kernels::RmsNormForward(detail::KernelDType(x, "RmsNorm: x"),
                              detail::KernelDType(y, "RmsNorm: y"), args,
                              float(eps), rows, int(cols),
                              detail::CurrentStream(x)),
      "RmsNormForward");
}

void RmsNormBackwardOut(const at::Tensor& dy, const at::Tensor& x,
                        const at::Tensor& weight, const at::Tensor& rstd,
                        at::Tensor& dx, at::Tensor& dweight,
                        const at::Tensor& dh, at::Tensor* ddelta) {
  TORCH_CHECK(x.is_cuda() && x.dim() == 2 && x.is_contiguous(),
              "RmsNormBackwardOut: contiguous CUDA [N, C] x expected");
  const int64_t rows = x.size(0), cols = x.size(1);
  TORCH_CHECK(cols <= kernels::kRmsNormMaxCols,
              "RmsNormBackwardOut: C = ", cols, " exceeds ",
              kernels::kRmsNormMaxCols);
  CheckOutputDType(x, dy.scalar_type(), "RmsNormBackwardOut");
  CheckRows(dy, x, dy.scalar_type(), "RmsNormBackwardOut: dy");
  CheckRows(dx, x, x.scalar_type(), "RmsNormBackwardOut: dx");
  CheckFloatVector(weight, cols, x, "RmsNormBackwardOut: weight");
  CheckFloatVector(rstd, rows, x, "RmsNormBackwardOut: rstd");
  CheckFloatVector(dweight, cols, x, "RmsNormBackwardOut: dweight");
  const at::Tensor workspace = detail::Workspace(
      kernels::RmsNormBackwardWorkspaceBytes(rows, int(cols)), x);
  kernels::RmsNormBackwardArgs args;
  args.dy = dy.data_ptr();
  args.x = x.data_ptr();
  args.weight = weight.data_ptr<float>();
  args.rstd = rstd.data_ptr<float>();
  args.dx = dx.data_ptr();
  args.dweight = dweight.data_ptr<float>();
  args.workspace = workspace.data_ptr();
  if (dh.defined()) {
    CheckRows(dh, x, x.scalar_type(), "RmsNormBackwardOut: dh");
    args.dh = dh.data_ptr();
  }
  if (ddelta != nullptr) {
    CheckRows(*ddelta, x, dy.scalar_type(), "RmsNormBackwardOut: ddelta");
    args.ddelta = ddelta->data_ptr();
  }
  detail::CheckLaunch(
      kernels::RmsNormBackward(detail::KernelDType(x, "RmsNorm: x"),
                               detail::KernelDType(dy, "RmsNorm: dy"), args,
                               rows, int(cols), detail::CurrentStream(x)),
      "RmsNormBackward");
}

}  // namespace tinylm::ops
