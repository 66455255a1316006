// The skinny GEMM of skinny_gemm.h.
//
// Block = W warps (W from K alone, GemmWarpsForK) that split K; its tile is
// BN = 8·NT weight rows (N columns of the output) and its share of the M
// rows (grid.y splits them; ChooseGemmTiling picks NT and the split). Data
// flow:
//   1. each warp loads its weight fragments into registers: for its chunks
//      c = warp + W·i (i < KCH) and the block's NT n8 tiles, lane (g, t)
//      holds 8 bf16 at k = 32c + 8t of weight row n0 + 8j + g;
//   2. wait for the previous kernel (PDL), then per 16-row tile of x: take
//      the same k ranges of rows g and g + 8 (each lane copies its own
//      pieces of tile t + 1 into shared memory while it works on tile t),
//      apply the RMSNorm prologue (row sums of squares: lanes, then warps
//      in order), and issue two m16n8k16 products per chunk;
//   3. the warps' partial tiles go through shared memory and are added in
//      warp order; the epilogue runs on the sums.
// A lane's 8 consecutive k values feed both k-halves of the products'
// fragments in a fixed permutation of k shared by x and w, so every x and
// w access is one 16-byte load and no shared-memory staging is needed.
#include "kernels/decode/skinny_gemm.h"

#include <algorithm>
#include <string>
#include <utility>

#include "kernels/decode/device_util.cuh"
#include "kernels/decode/launch.cuh"

namespace tinylm::decode {
namespace {

constexpr int kChunk = 32;  // k per chunk: 4 lanes × 8 bf16
constexpr int kMaxWarps = 8;
constexpr int kTileRows = 16;  // mma m16

__host__ __device__ int ChunksForK(int k) { return (k + kChunk - 1) / kChunk; }

// Chunks per warp for K: about 3, so that a lane holds few weight registers.
int ChunksPerWarp(int k) {
  const int warps = GemmWarpsForK(k);
  return (ChunksForK(k) + warps - 1) / warps;
}

// Row m of x scaled by its rstd and the norm weight, rounded to bf16 (the
// reference's RMSNorm output), 8 values at a time.
__device__ __forceinline__ uint4 NormalizeBf16x8(uint4 x, float rstd, uint4 w) {
  auto one = [&](uint32_t xv, uint32_t wv) {
    return PackBf16(__fmul_rn(__fmul_rn(LowBf16(xv), rstd), LowBf16(wv)),
                    __fmul_rn(__fmul_rn(HighBf16(xv), rstd), HighBf16(wv)));
  };
  return make_uint4(one(x.x, w.x), one(x.y, w.y), one(x.z, w.z), one(x.w, w.w));
}

__device__ __forceinline__ float SumSquares(uint4 v, float s) {
  const uint32_t words[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int e = 0; e < 4; ++e) {
    s = fmaf(LowBf16(words[e]), LowBf16(words[e]), s);
    s = fmaf(HighBf16(words[e]), HighBf16(words[e]), s);
  }
  return s;
}

__device__ __forceinline__ void StoreBf16Pair(bf16* p, float v0, float v1,
                                              bool both) {
  if (both) {
    *reinterpret_cast<uint32_t*>(p) = PackBf16(v0, v1);
  } else {
    *p = __float2bfloat16(v0);
  }
}

// Columns (n, n + 1) of the attention input for row m (AttentionInputTarget).
__device__ void AttentionInputPair(const GemmArgs& a, int m, int n, float v0,
                                   float v1, bool both) {
  const AttentionInputTarget& t = a.attention;
  const int hs = t.head_size;
  const int qk_end = (t.heads + t.groups) * hs;
  const int v_end = qk_end + t.groups * hs;
  if (n >= v_end) {  // score_fcn term: bias, no activation
    // Two stores: with an odd width the pair need not be 4-byte aligned.
    bf16* out = t.score + int64_t(m) * t.score_width + (n - v_end);
    out[0] = __float2bfloat16(v0);
    if (both) out[1] = __float2bfloat16(v1);
    return;
  }
  const int pos = t.positions[m], slot = t.slots[m];
  if (pos < 0 || pos >= t.max_len || pos >= t.rope_len || slot < 0 ||
      slot >= t.num_slots) {
    return;  // an invalid row writes nothing (its logits are unspecified)
  }
  // The linear's output, then GELU, each rounded as the reference rounds.
  float x1 = RoundBf16(v0), x2 = RoundBf16(v1);
  if (t.activation) {
    x1 = RoundBf16(Gelu(x1));
    x2 = RoundBf16(Gelu(x2));
  }
  const int64_t cache_row =
      (int64_t(slot) * t.max_len + pos) * t.groups;  // [S, L, G] index
  if (n >= qk_end) {                                 // v: columns in order
    const int d = n - qk_end;
    bf16* out = t.v_cache + (cache_row + d / hs) * hs + d % hs;
    StoreBf16Pair(out, x1, x2, true);
    return;
  }
  // q or k: columns (n, n + 1) hold the RoPE pair (i, i + hs/2) of head
  // n / hs (q heads first, then k groups). rotate-half as models/rope.cc:
  //   out_i        = x_i cos_i - x_{i+h} sin_i
  //   out_{i+h}    = x_{i+h} cos_{i+h} + x_i sin_{i+h}
  const int head = n / hs, half = hs / 2, i = (n % hs) / 2;
  const float* cos_row = t.rope_cos + int64_t(pos) * hs;
  const float* sin_row = t.rope_sin + int64_t(pos) * hs;
  const float o1 =
      __fadd_rn(__fmul_rn(x1, cos_row[i]), __fmul_rn(x2, -sin_row[i]));
  const float o2 = __fadd_rn(__fmul_rn(x2, cos_row[i + half]),
                             __fmul_rn(x1, sin_row[i + half]));
  bf16* out = head < t.heads ? t.q + int64_t(m) * t.heads * hs + head * hs
                             : t.k_cache + (cache_row + head - t.heads) * hs;
  out[i] = __float2bfloat16(o1);
  out[i + half] = __float2bfloat16(o2);
}

// The epilogue for output columns (n, n + 1) of row m; `both` is false when
// n + 1 == N.
__device__ void EpiloguePair(const GemmArgs& a, int m, int n, float v0,
                             float v1, bool both) {
  if (a.bias != nullptr) {
    v0 += __bfloat162float(a.bias[n]);
    if (both) v1 += __bfloat162float(a.bias[n + 1]);
  }
  switch (a.epilogue) {
    case GemmEpilogue::kBf16: {
      if (a.gelu) {
        v0 = Gelu(RoundBf16(v0));
        v1 = Gelu(RoundBf16(v1));
      }
      if (a.residual != nullptr) {
        const bf16* r = a.residual + int64_t(m) * a.residual_stride + n;
        v0 += __bfloat162float(r[0]);
        if (both) v1 += __bfloat162float(r[1]);
      }
      bf16* out = static_cast<bf16*>(a.out) + int64_t(m) * a.out_stride + n;
      StoreBf16Pair(out, v0, v1, both);
      break;
    }
    case GemmEpilogue::kFloat: {
      float* out = static_cast<float*>(a.out) + int64_t(m) * a.out_stride + n;
      if (both) {
        *reinterpret_cast<float2*>(out) = make_float2(v0, v1);
      } else {
        *out = v0;
      }
      break;
    }
    case GemmEpilogue::kSwiGlu: {
      const float gate = RoundBf16(Silu(RoundBf16(v0)));
      bf16* out = static_cast<bf16*>(a.out) + int64_t(m) * a.out_stride + n / 2;
      *out = __float2bfloat16(gate * RoundBf16(v1));
      break;
    }
    case GemmEpilogue::kAttentionInput:
      AttentionInputPair(a, m, n, v0, v1, both);
      break;
  }
}

// Two blocks per multiprocessor where a lane holds at most 3 chunks (K up
// to 768): 128 registers, which the widest tile (NT = 4) exceeds by 88
// bytes of spills and is still faster so, as measured on an H200
// (docs/benchmarks.md, 2026-12-03, run D); with more chunks the spills
// cost more than the second block gains.
__host__ __device__ constexpr int BlocksPerMultiprocessor(int kch) {
  return kch <= 3 ? 2 : 1;
}

template <int KCH, int NT>
__global__ void __launch_bounds__(kMaxWarps * 32, BlocksPerMultiprocessor(KCH))
    SkinnyGemmKernel(const GemmArgs a) {
  constexpr int BN = 8 * NT;
  extern __shared__ float shared[];
  const int warps = blockDim.x / 32;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;
  const int n0 = blockIdx.x * BN;
  const int K = a.k, N = a.n, M = a.m;
  const int chunks = ChunksForK(K);
  const bool norm = a.norm_weight != nullptr;

  // 1. Weight fragments (and norm weights): read before the wait.
  uint4 wf[NT][KCH];
  uint4 nw[KCH];
#pragma unroll
  for (int i = 0; i < KCH; ++i) {
    const int kk = (warp + warps * i) * kChunk + 8 * t;
    const bool valid = kk < K;
#pragma unroll
    for (int j = 0; j < NT; ++j) {
      const int n = n0 + 8 * j + g;
      wf[j][i] = valid && n < N ? LoadWeight16(a.w + int64_t(n) * K + kk)
                                : make_uint4(0, 0, 0, 0);
    }
    nw[i] = valid && norm ? LoadWeight16(a.norm_weight + kk)
                          : make_uint4(0, 0, 0, 0);
  }
  WaitForPriorGrids();
  AllowDependentLaunch();

  // Shared memory, double-buffered by tile parity so that one barrier per
  // tile suffices: partial sums [2][warps][16][BN], squares [2][warps][16],
  // then x [2][warps][KCH][2 rows][32 lanes] (16 bytes each), where each
  // lane keeps its own pieces of rows g and g + 8, so that the copies need
  // no barrier: a lane reads only what it copied.
  float* partial_base = shared;
  float* squares_base = shared + 2 * warps * kTileRows * BN;
  uint4* x_base =
      reinterpret_cast<uint4*>(squares_base + 2 * warps * kTileRows);
  auto x_slot = [&](int parity, int i, int half) {
    return x_base + (((parity * warps + warp) * KCH + i) * 2 + half) * 32 +
           lane;
  };
  // Copies tile `tile`'s pieces of this lane into the buffers of `parity`
  // (zeros past M and K), as one commit group.
  auto copy_tile = [&](int tile, int parity) {
    const int r0 = tile * kTileRows + g;
#pragma unroll
    for (int i = 0; i < KCH; ++i) {
      const int kk = (warp + warps * i) * kChunk + 8 * t;
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int r = r0 + 8 * half;
        uint4* to = x_slot(parity, i, half);
        if (kk < K && r < M) {
          CopyAsync16(to, a.x + int64_t(r) * a.x_stride + kk);
        } else {
          *to = make_uint4(0, 0, 0, 0);
        }
      }
    }
    CommitCopies();
  };

  // This block's 16-row tiles of x: grid.y splits them evenly.
  const int tiles = (M + kTileRows - 1) / kTileRows;
  const int per_block = (tiles + gridDim.y - 1) / gridDim.y;
  const int first_tile = blockIdx.y * per_block;
  const int end_tile = min(tiles, first_tile + per_block);
  if (first_tile < end_tile) copy_tile(first_tile, 0);
  for (int tile = first_tile; tile < end_tile; ++tile) {
    const int parity = (tile - first_tile) & 1;
    const bool more = tile + 1 < end_tile;
    if (more) copy_tile(tile + 1, 1 - parity);
    WaitCopies(more ? 1 : 0);  // this tile's group has landed
    uint4 xa[KCH], xb[KCH];
#pragma unroll
    for (int i = 0; i < KCH; ++i) {
      xa[i] = *x_slot(parity, i, 0);
      xb[i] = *x_slot(parity, i, 1);
    }
    if (norm) {
      // 2a. Sum of squares of rows r0 and r1: lane values in k order, the 4
      //     lanes of a row by a butterfly, then the warps in warp order.
      float s0 = 0.0f, s1 = 0.0f;
#pragma unroll
      for (int i = 0; i < KCH; ++i) {
        s0 = SumSquares(xa[i], s0);
        s1 = SumSquares(xb[i], s1);
      }
      s0 += __shfl_xor_sync(0xffffffffu, s0, 1);
      s0 += __shfl_xor_sync(0xffffffffu, s0, 2);
      s1 += __shfl_xor_sync(0xffffffffu, s1, 1);
      s1 += __shfl_xor_sync(0xffffffffu, s1, 2);
      float* squares = squares_base + (tile & 1) * warps * kTileRows;
      if (t == 0) {
        squares[warp * kTileRows + g] = s0;
        squares[warp * kTileRows + g + 8] = s1;
      }
      __syncthreads();
      float total0 = squares[g], total1 = squares[g + 8];
      for (int w = 1; w < warps; ++w) {
        total0 += squares[w * kTileRows + g];
        total1 += squares[w * kTileRows + g + 8];
      }
      // rsqrt(mean + eps), rounded as written whatever the instantiation.
      const float rstd0 = rsqrtf(__fadd_rn(__fdiv_rn(total0, K), a.norm_eps));
      const float rstd1 = rsqrtf(__fadd_rn(__fdiv_rn(total1, K), a.norm_eps));
#pragma unroll
      for (int i = 0; i < KCH; ++i) {
        xa[i] = NormalizeBf16x8(xa[i], rstd0, nw[i]);
        xb[i] = NormalizeBf16x8(xb[i], rstd1, nw[i]);
      }
    }

    // 2b. This warp's chunks in order, two k16 products each.
    float acc[NT][4];
#pragma unroll
    for (int j = 0; j < NT; ++j) {
      acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;
    }
#pragma unroll
    for (int i = 0; i < KCH; ++i) {
      if (warp + warps * i >= chunks) break;
#pragma unroll
      for (int j = 0; j < NT; ++j) {
        MmaBf16(acc[j], xa[i].x, xb[i].x, xa[i].y, xb[i].y, wf[j][i].x,
                wf[j][i].y);
        MmaBf16(acc[j], xa[i].z, xb[i].z, xa[i].w, xb[i].w, wf[j][i].z,
                wf[j][i].w);
      }
    }

    // 3. Partial tiles to shared memory; sums in warp order; epilogue.
    float* partial = partial_base + (tile & 1) * warps * kTileRows * BN;
#pragma unroll
    for (int j = 0; j < NT; ++j) {
      const int col = 8 * j + 2 * t;
      *reinterpret_cast<float2*>(&partial[(warp * kTileRows + g) * BN + col]) =
          make_float2(acc[j][0], acc[j][1]);
      *reinterpret_cast<float2*>(
          &partial[(warp * kTileRows + g + 8) * BN + col]) =
          make_float2(acc[j][2], acc[j][3]);
    }
    __syncthreads();
    for (int e = threadIdx.x; e < kTileRows * BN / 2; e += blockDim.x) {
      const int r = e / (BN / 2), col = 2 * (e % (BN / 2));
      const int m = tile * kTileRows + r, n = n0 + col;
      if (m >= M || n >= N) continue;
      float2 v = *reinterpret_cast<const float2*>(&partial[r * BN + col]);
      for (int w = 1; w < warps; ++w) {
        const float2 p = *reinterpret_cast<const float2*>(
            &partial[(w * kTileRows + r) * BN + col]);
        v.x += p.x;
        v.y += p.y;
      }
      EpiloguePair(a, m, n, v.x, v.y, n + 1 < N);
    }
  }
}

using Kernel = void (*)(GemmArgs);

// The instantiation's chunks per lane (KCH) for a warp's chunk count: the
// smallest of 1, 2, 3, 4, 6, 8 that holds it.
int KchOf(int chunks_per_warp) {
  for (int kch : {1, 2, 3, 4, 6}) {
    if (chunks_per_warp <= kch) return kch;
  }
  return 8;
}

template <int KCH>
Kernel PickTile(int nt) {
  if (nt == 1) return SkinnyGemmKernel<KCH, 1>;
  if constexpr (KCH > 6) {
    return SkinnyGemmKernel<KCH, 1>;
  } else if constexpr (KCH > 4) {
    return SkinnyGemmKernel<KCH, 2>;
  } else {
    return nt == 2 ? SkinnyGemmKernel<KCH, 2> : SkinnyGemmKernel<KCH, 4>;
  }
}

Kernel PickKernel(int chunks_per_warp, int nt) {
  switch (KchOf(chunks_per_warp)) {
    case 1:
      return PickTile<1>(nt);
    case 2:
      return PickTile<2>(nt);
    case 3:
      return PickTile<3>(nt);
    case 4:
      return PickTile<4>(nt);
    case 6:
      return PickTile<6>(nt);
    default:
      return PickTile<8>(nt);
  }
}

bool Aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

}  // namespace

int GemmWarpsForK(int k) {
  return std::min(kMaxWarps, std::max(1, (ChunksForK(k) + 2) / 3));
}

int GemmMaxTilesPerBlock(int k) {
  // No spills by ptxas -v: a lane holds chunks x width weight fragments.
  const int chunks_per_warp = ChunksPerWarp(k);
  return chunks_per_warp > 6 ? 1 : chunks_per_warp > 4 ? 2 : 4;
}

// The most row splits of M's tiles that keep the blocks of `nt`-wide tiles
// over N in one wave of those a multiprocessor holds for K.
int RowSplitsInOneWave(int m, int n, int k, int nt) {
  const int n_blocks = (n + 8 * nt - 1) / (8 * nt);
  const int per_multiprocessor =
      BlocksPerMultiprocessor(KchOf(ChunksPerWarp(k)));
  return std::min(
      (m + kTileRows - 1) / kTileRows,
      std::max(1, per_multiprocessor * MultiprocessorCount() / n_blocks));
}

GemmTiling ChooseGemmTiling(int m, int n, int k) {
  const int warps = GemmWarpsForK(k);
  const int sms = MultiprocessorCount();
  const int tiles = (m + kTileRows - 1) / kTileRows;
  GemmTiling best;
  std::pair<bool, double> best_cost;  // (leaves multiprocessors idle, cost)
  for (int nt = 1; nt <= GemmMaxTilesPerBlock(k); nt *= 2) {
    const int n_blocks = (n + 8 * nt - 1) / (8 * nt);
    const int splits = RowSplitsInOneWave(m, n, k, nt);
    const int blocks_on_busiest = (n_blocks * splits + sms - 1) / sms;
    const std::pair<bool, double> cost = {
        tiles == 1 && n_blocks < sms,
        double((tiles + splits - 1) / splits) *
            std::max(1.0, blocks_on_busiest * warps / 8.0)};
    if (nt == 1 || cost < best_cost) {
      best = {nt, splits};
      best_cost = cost;
    }
  }
  return best;
}

std::string ValidateGemm(const GemmArgs& a) {
  if (a.m < 1 || a.m > kMaxGemmRows) return "M must be in 1..128";
  if (a.n < 1) return "N must be positive";
  if (a.k < 8 || a.k > kMaxGemmK || a.k % 8 != 0) {
    return "K must be a multiple of 8 in 8..2048";
  }
  const bool attention = a.epilogue == GemmEpilogue::kAttentionInput;
  if (a.x == nullptr || a.w == nullptr || (a.out == nullptr && !attention)) {
    return "x, w and out must be set";
  }
  if (!Aligned16(a.x) || !Aligned16(a.w) || !Aligned16(a.out) ||
      (a.norm_weight != nullptr && !Aligned16(a.norm_weight))) {
    return "x, w, out and norm_weight must be 16-byte aligned";
  }
  if (a.x_stride < a.k || a.x_stride % 8 != 0) {
    return "x_stride must be a multiple of 8, at least K";
  }
  const bool swiglu = a.epilogue == GemmEpilogue::kSwiGlu;
  const int64_t out_width = swiglu ? a.n / 2 : a.n;
  if (swiglu && a.n % 2 != 0) return "SwiGLU needs an even N";
  // kBf16 and kFloat store column pairs: even strides keep them aligned.
  if (!attention &&
      (a.out_stride < out_width || (!swiglu && a.out_stride % 2 != 0))) {
    return "out_stride must be at least the output width (and even)";
  }
  if (a.residual != nullptr && (a.epilogue != GemmEpilogue::kBf16 ||
                                a.residual_stride < a.n || a.gelu)) {
    return "residual needs the kBf16 epilogue without GELU and a stride of "
           "at least N";
  }
  if (a.gelu && a.epilogue != GemmEpilogue::kBf16) {
    return "gelu is a kBf16 option";
  }
  const GemmTiling& t = a.tiling;
  const int widest = GemmMaxTilesPerBlock(a.k);
  if (t.tiles_per_block != 0 && t.tiles_per_block != 1 &&
      t.tiles_per_block != 2 && t.tiles_per_block != 4) {
    return "tiling: tiles_per_block must be 0 (chosen), 1, 2 or 4";
  }
  if (t.tiles_per_block == 0 && t.row_splits != 0) {
    return "tiling: row_splits needs tiles_per_block";
  }
  if (t.tiles_per_block > widest) {
    return "tiling: tiles_per_block must be at most " + std::to_string(widest) +
           " for this K";
  }
  if (t.row_splits < 0 || t.row_splits > (a.m + kTileRows - 1) / kTileRows) {
    return "tiling: row_splits must be 0 (chosen) or 1 to the row tiles";
  }
  if (attention) {
    const AttentionInputTarget& t = a.attention;
    if (t.heads < 1 || t.groups < 1 || t.heads % t.groups != 0 ||
        t.head_size < 8 || t.head_size % 8 != 0) {
      return "attention input: heads a multiple of groups, head_size a "
             "multiple of 8";
    }
    if (a.n != (t.heads + 2 * t.groups) * t.head_size + t.score_width) {
      return "attention input: N must be (H + 2G)·hs + score_width";
    }
    if (t.rope_cos == nullptr || t.rope_sin == nullptr || t.rope_len < 1 ||
        t.positions == nullptr || t.slots == nullptr || t.q == nullptr ||
        t.k_cache == nullptr || t.v_cache == nullptr || t.num_slots < 1 ||
        t.max_len < 1 || (t.score_width > 0 && t.score == nullptr)) {
      return "attention input: a table, buffer or cache is missing";
    }
  }
  return "";
}

cudaError_t LaunchSkinnyGemm(const GemmArgs& args, cudaStream_t stream,
                             bool pdl) {
  if (!ValidateGemm(args).empty()) return cudaErrorInvalidValue;
  const int warps = GemmWarpsForK(args.k);
  const int chunks_per_warp = ChunksPerWarp(args.k);
  GemmTiling tiling = args.tiling;
  if (tiling.tiles_per_block == 0) {
    tiling = ChooseGemmTiling(args.m, args.n, args.k);
  } else if (tiling.row_splits == 0) {
    tiling.row_splits =
        RowSplitsInOneWave(args.m, args.n, args.k, tiling.tiles_per_block);
  }
  const Kernel kernel = PickKernel(chunks_per_warp, tiling.tiles_per_block);
  const int bn = 8 * tiling.tiles_per_block;
  const size_t shared_bytes =
      sizeof(float) * (2 * warps * kTileRows * bn + 2 * warps * kTileRows) +
      sizeof(uint4) * 2 * warps * KchOf(chunks_per_warp) * 2 * 32;
  const cudaError_t raised = cudaFuncSetAttribute(
      kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(shared_bytes));
  if (raised != cudaSuccess) return raised;
  const dim3 grid((args.n + bn - 1) / bn, tiling.row_splits);
  return LaunchKernel(kernel, grid, dim3(32 * warps), shared_bytes, stream, pdl,
                      args);
}

}  // namespace tinylm::decode
