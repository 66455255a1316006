#include "kernels/torch/linear_op.h"

#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <cublas_v2.h>
#include <torch/csrc/autograd/custom_function.h>

#include "kernels/torch/launch.h"

namespace tinylm::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

void CheckCublas(cublasStatus_t status) {
  TORCH_CHECK(
      status == CUBLAS_STATUS_SUCCESS,
      "LinearIntoGrads: cuBLAS failed: ", cublasGetStatusString(status));
}

// grad [n, K] float32 (row-major) += dyᵀ·x over dy's columns
// [column, column + n) of dy [M, N] and x [M, K], both bfloat16 row-major.
// In cuBLAS's column-major terms: C (K × n, ldc K) = A (K × M, op N) ·
// B (n × M, op T, ldb N), β = 1.
void AddWeightGradient(const at::Tensor& x, const at::Tensor& dy,
                       int64_t column, at::Tensor& grad) {
  const int64_t M = x.size(0), K = x.size(1), N = dy.size(1);
  const int64_t n = grad.numel() / K;
  const float alpha = 1.f, beta = 1.f;
  const auto* dy_columns =
      static_cast<const at::BFloat16*>(dy.data_ptr()) + column;
  CheckCublas(cublasGemmEx(
      at::cuda::getCurrentCUDABlasHandle(), CUBLAS_OP_N, CUBLAS_OP_T, int(K),
      int(n), int(M), &alpha, x.data_ptr(), CUDA_R_16BF, int(K), dy_columns,
      CUDA_R_16BF, int(N), &beta, grad.data_ptr(), CUDA_R_32F, int(K),
      CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

at::Tensor& GradientOf(const at::Tensor& weight) {
  at::Tensor& grad = const_cast<at::Tensor&>(weight).mutable_grad();
  if (!grad.defined()) grad = at::zeros_like(weight);
  TORCH_CHECK(grad.scalar_type() == at::kFloat && grad.is_contiguous() &&
                  grad.sizes() == weight.sizes(),
              "LinearIntoGrads: a weight's gradient must be contiguous "
              "float32 of its shape");
  return grad;
}

class LinearIntoGradsFunction
    : public torch::autograd::Function<LinearIntoGradsFunction> {
 public:
  // Inputs, flattened by autograd: x, each weight, weight_bf16, bias and
  // bias_bf16 (empty when absent).
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x,
                            at::TensorList weights,
                            const at::Tensor& weight_bf16,
                            const at::Tensor& bias_or_empty,
                            const at::Tensor& bias_bf16_or_empty) {
    c10::impl::ExcludeDispatchKeyGuard no_autocast(
        c10::autocast_dispatch_keyset);
    const int64_t K = x.size(-1), N = weight_bf16.size(0);
    const at::Tensor x_rows = x.to(at::kBFloat16).reshape({-1, K}).contiguous();
    const at::Tensor bias = detail::Present(bias_bf16_or_empty);
    const at::Tensor y = bias.defined()
                             ? at::addmm(bias, x_rows, weight_bf16.t())
                             : at::mm(x_rows, weight_bf16.t());
    ctx->save_for_backward({x_rows, weight_bf16});
    ctx->saved_data["weights"] = weights.vec();
    ctx->saved_data["x_dtype"] = int64_t(x.scalar_type());
    ctx->saved_data["x_sizes"] = x.sizes().vec();
    ctx->saved_data["has_bias"] = bias.defined();
    std::vector<int64_t> shape = x.sizes().vec();
    shape.back() = N;
    return y.view(shape);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    c10::impl::ExcludeDispatchKeyGuard no_autocast(
        c10::autocast_dispatch_keyset);
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor& x_rows = saved[0];       // [M, K] bfloat16
    const at::Tensor& weight_bf16 = saved[1];  // [N, K] bfloat16
    const std::vector<at::Tensor> weights =
        ctx->saved_data["weights"].toTensorVector();
    const int64_t N = weight_bf16.size(0);
    const at::Tensor dy =
        grads[0].to(at::kBFloat16).reshape({-1, N}).contiguous();  // [M, N]
    // dx = dy·W, in x's shape and dtype.
    const at::Tensor dx =
        at::mm(dy, weight_bf16)
            .to(at::ScalarType(ctx->saved_data["x_dtype"].toInt()))
            .view(ctx->saved_data["x_sizes"].toIntVector());
    // W.grad += dyᵀ·x: one product where the gradients lie one after the
    // other (a flat buffer), else one per weight.
    std::vector<at::Tensor> weight_grads;
    for (const at::Tensor& w : weights) weight_grads.push_back(GradientOf(w));
    if (RowsAreAdjacent(weight_grads)) {
      at::Tensor stacked = StackRows(weight_grads);
      AddWeightGradient(x_rows, dy, 0, stacked);
    } else {
      int64_t column = 0;
      for (at::Tensor& grad : weight_grads) {
        AddWeightGradient(x_rows, dy, column, grad);
        column += grad.size(0);
      }
    }
    variable_list out;
    out.push_back(dx);
    out.resize(1 + weights.size() + 1);  // no autograd gradient for W
    if (ctx->saved_data["has_bias"].toBool()) {
      out.push_back(dy.sum(0, /*keepdim=*/false, at::kFloat));  // bias
    } else {
      out.emplace_back();
    }
    out.emplace_back();  // bias_bf16
    return out;
  }
};

}  // namespace

bool RowsAreAdjacent(const std::vector<at::Tensor>& parts) {
  const at::Tensor& first = parts[0];
  const auto* next = static_cast<const char*>(first.data_ptr());
  for (const at::Tensor& part : parts) {
    if (!part.is_contiguous() || part.scalar_type() != first.scalar_type() ||
        part.dim() != first.dim() ||
        part.sizes().slice(1) != first.sizes().slice(1) ||
        !part.storage().is_alias_of(first.storage()) ||
        static_cast<const char*>(part.data_ptr()) != next) {
      return false;
    }
    next += part.nbytes();
  }
  return true;
}

at::Tensor StackRows(const std::vector<at::Tensor>& parts) {
  TORCH_CHECK(!parts.empty(), "StackRows: no parts");
  if (parts.size() == 1) return parts[0];
  // Autograd would send the gradient of a view reaching past its first
  // part to that part alone: parts that take gradients are concatenated.
  bool takes_grad = false;
  for (const at::Tensor& part : parts) {
    takes_grad = takes_grad || part.requires_grad();
  }
  if (!RowsAreAdjacent(parts) || (takes_grad && at::GradMode::is_enabled())) {
    return at::cat(parts);
  }
  const at::Tensor& first = parts[0];
  std::vector<int64_t> shape = first.sizes().vec();
  shape[0] = 0;
  for (const at::Tensor& part : parts) shape[0] += part.size(0);
  return first.as_strided(shape, at::detail::defaultStrides(shape),
                          first.storage_offset());
}

at::Tensor LinearIntoGrads(const at::Tensor& x,
                           const std::vector<at::Tensor>& weights,
                           const at::Tensor& weight_bf16,
                           const at::Tensor& bias,
                           const at::Tensor& bias_bf16) {
  TORCH_CHECK(!weights.empty(), "LinearIntoGrads: no weights");
  const int64_t K = x.size(-1);
  int64_t N = 0;
  for (const at::Tensor& w : weights) {
    TORCH_CHECK(w.dim() == 2 && w.size(1) == K &&
                    w.scalar_type() == at::kFloat && w.device() == x.device(),
                "LinearIntoGrads: float32 weights [n, ", K, "] on ", x.device(),
                " expected, got ", w.scalar_type(), " ", w.sizes());
    N += w.size(0);
  }
  TORCH_CHECK(x.is_cuda(), "LinearIntoGrads: CUDA tensors expected");
  TORCH_CHECK(
      weight_bf16.scalar_type() == at::kBFloat16 && weight_bf16.dim() == 2 &&
          weight_bf16.size(0) == N && weight_bf16.size(1) == K &&
          weight_bf16.device() == x.device(),
      "LinearIntoGrads: weight_bf16: bfloat16 [", N, ", ", K,
      "] expected, got ", weight_bf16.scalar_type(), " ", weight_bf16.sizes());
  TORCH_CHECK(bias.defined() == bias_bf16.defined(),
              "LinearIntoGrads: bias and bias_bf16 come together");
  if (bias.defined()) {
    TORCH_CHECK(bias.dim() == 1 && bias.size(0) == N &&
                    bias_bf16.sizes() == bias.sizes() &&
                    bias_bf16.scalar_type() == at::kBFloat16,
                "LinearIntoGrads: bias [", N,
                "] with a bfloat16 copy expected");
  }
  return LinearIntoGradsFunction::apply(x, at::TensorList(weights), weight_bf16,
                                        detail::OrEmpty(bias, x),
                                        detail::OrEmpty(bias_bf16, x));
}

}  // namespace tinylm::ops
