// The fused decode kernels' host-side rules, without a GPU (CI): what each
// launcher accepts and how attention spreads a row over blocks. The
// kernels themselves are checked on the GPU (decode_kernels_test).
#include <string>

#include <gtest/gtest.h>

#include "kernels/decode/decode_attention.h"
#include "kernels/decode/launch.cuh"
#include "kernels/decode/skinny_gemm.h"

namespace tinylm::decode {
namespace {

alignas(16) bf16 buffer[64];
int index_buffer[4];

AttentionArgs ValidAttention() {
  AttentionArgs a;
  a.rows = a.heads = a.groups = 1;
  a.head_size = 8;
  a.q = a.k_cache = a.v_cache = a.y = buffer;
  a.positions = a.slots = index_buffer;
  a.num_slots = 1;
  a.max_len = kMaxAttentionLength;
  return a;
}

TEST(AttentionSpread, FollowsTheBatchWithinOneBlockAMultiprocessor) {
  const int sms = MultiprocessorCount();  // 132 without a device
  AttentionArgs a = ValidAttention();
  for (int rows : {1, 2, 8, 16, 32, 64, 100, 128, 200, 256}) {
    a.rows = rows;
    const int blocks = AttentionBlocksPerRow(a);
    // The most of 8, 4, 2 with rows · blocks <= sms, at least 2 while
    // rows <= sms, else 1.
    int expected = 1;
    if (rows <= sms) {
      expected = 2;
      for (int c : {8, 4}) {
        if (rows * c <= sms) {
          expected = c;
          break;
        }
      }
    }
    EXPECT_EQ(blocks, expected) << rows << " rows, " << sms << " SMs";
  }
  // Heads count as rows.
  a.rows = 1;
  a.heads = a.groups = sms;
  EXPECT_EQ(AttentionBlocksPerRow(a), 2);
  a.heads = a.groups = sms + 1;
  EXPECT_EQ(AttentionBlocksPerRow(a), 1);
}

TEST(AttentionSpread, TakesAGivenSpreadOfOneTwoFourOrEight) {
  AttentionArgs a = ValidAttention();
  EXPECT_EQ(ValidateAttention(a), "");
  for (int blocks : {1, 2, 4, 8}) {
    a.blocks_per_row = blocks;
    EXPECT_EQ(ValidateAttention(a), "");
    EXPECT_EQ(AttentionBlocksPerRow(a), blocks);
  }
  for (int blocks : {-1, 3, 16}) {
    a.blocks_per_row = blocks;
    EXPECT_EQ(ValidateAttention(a), "blocks_per_row must be 0, 1, 2, 4 or 8");
  }
}

TEST(AttentionRuns, TwoKeysPerStream) {
  // A stream is the hs/8 lanes (a power of two, at most 32) of one key;
  // eight warps a block.
  EXPECT_EQ(KeysPerRun(768), 16);   // 32 lanes: 8 streams
  EXPECT_EQ(KeysPerRun(1024), 16);  // 32 lanes
  EXPECT_EQ(KeysPerRun(128), 32);   // 16 lanes: 16 streams
  EXPECT_EQ(KeysPerRun(64), 64);    // 8 lanes: 32 streams
  EXPECT_EQ(KeysPerRun(24), 128);   // 3 pieces, 4 lanes: 64 streams
  EXPECT_EQ(KeysPerRun(8), 512);    // 1 lane: 256 streams
}

TEST(AttentionValidation, NamesWhatIsWrong) {
  AttentionArgs a = ValidAttention();
  a.head_size = 12;
  EXPECT_EQ(ValidateAttention(a),
            "head_size must be a multiple of 8 in 8..1024");
  a = ValidAttention();
  a.heads = 3;
  a.groups = 2;
  EXPECT_EQ(ValidateAttention(a),
            "rows and heads must be positive, heads a multiple of groups");
  a = ValidAttention();
  a.max_len = kMaxAttentionLength + 1;
  EXPECT_EQ(ValidateAttention(a), "max_len must be at most 65536");
  a = ValidAttention();
  a.y = buffer + 1;
  EXPECT_EQ(ValidateAttention(a), "q, caches and y must be 16-byte aligned");
  a = ValidAttention();
  a.probs = reinterpret_cast<float*>(buffer);
  a.probs_stride = a.max_len - 1;
  EXPECT_EQ(ValidateAttention(a), "probs_stride must cover max_len");
}

TEST(GemmTiling, FewestSerialRowTilesOnTheLeastLoadedMultiprocessor) {
  // 132 multiprocessors without a device, as on an H200.
  if (MultiprocessorCount() != 132) GTEST_SKIP() << "the cases assume 132";
  auto expect = [](int m, int n, int k, int nt, int splits) {
    const GemmTiling t = ChooseGemmTiling(m, n, k);
    EXPECT_EQ(t.tiles_per_block, nt) << m << "x" << n << "x" << k;
    EXPECT_EQ(t.row_splits, splits) << m << "x" << n << "x" << k;
  };
  // The article's attention input (8 warps a block, RMSNorm): at one row
  // tile 144 blocks (a block on every multiprocessor, not 72); at 64 rows
  // wide tiles, so that 72 blocks normalize the rows, in 3 splits of the 4
  // row tiles (216 blocks: two a multiprocessor cost as much as 2 tiles
  // one after the other, and fewer splits would leave more tiles in a row).
  expect(1, 2304, 768, 2, 1);
  expect(16, 2304, 768, 2, 1);
  expect(32, 2304, 768, 4, 2);
  expect(64, 2304, 768, 4, 3);
  // Its attention output: one block a multiprocessor at one row (96 of
  // them, narrow), every row tile its own block at 64 rows (24 x 4).
  expect(1, 768, 768, 1, 1);
  expect(64, 768, 768, 4, 4);
  // K = 1536 holds one block a multiprocessor: 48 x 2 blocks, one wave.
  expect(64, 768, 1536, 2, 2);
  // The shipped size (2 warps a block): narrow tiles, a block a row tile.
  expect(128, 128, 128, 1, 8);
  // Its LM head: 500 blocks of 2 warps, 4 a multiprocessor for free.
  expect(64, 8000, 128, 2, 1);
  // K = 2048: the registers allow only the narrow tile.
  expect(16, 136, 2048, 1, 1);
  for (int m = 1; m <= kMaxGemmRows; ++m) {
    for (int n : {8, 100, 768, 2304, 8000}) {
      for (int k : {8, 128, 768, 1536, 2048}) {
        const GemmTiling t = ChooseGemmTiling(m, n, k);
        EXPECT_TRUE(t.tiles_per_block == 1 || t.tiles_per_block == 2 ||
                    t.tiles_per_block == 4);
        EXPECT_LE(t.tiles_per_block, GemmMaxTilesPerBlock(k));
        EXPECT_GE(t.row_splits, 1);
        EXPECT_LE(t.row_splits, (m + 15) / 16) << m << "x" << n << "x" << k;
      }
    }
  }
}

TEST(GemmValidation, NamesWhatIsWrong) {
  GemmArgs g;
  g.m = 1;
  g.n = 16;
  g.k = 64;
  g.x = g.w = buffer;
  g.x_stride = 64;
  g.out = buffer;
  g.out_stride = 16;
  EXPECT_EQ(ValidateGemm(g), "");
  g.m = kMaxGemmRows + 1;
  EXPECT_EQ(ValidateGemm(g), "M must be in 1..128");
  g.m = 1;
  g.k = kMaxGemmK + 8;
  EXPECT_EQ(ValidateGemm(g), "K must be a multiple of 8 in 8..2048");
  g.k = 64;
  g.epilogue = GemmEpilogue::kSwiGlu;
  g.n = 15;
  EXPECT_EQ(ValidateGemm(g), "SwiGLU needs an even N");
  g.epilogue = GemmEpilogue::kBf16;
  g.n = 16;
  g.tiling = {3, 0};
  EXPECT_EQ(ValidateGemm(g),
            "tiling: tiles_per_block must be 0 (chosen), 1, 2 or 4");
  g.tiling = {0, 1};
  EXPECT_EQ(ValidateGemm(g), "tiling: row_splits needs tiles_per_block");
  g.tiling = {2, 2};  // one row: one row tile
  EXPECT_EQ(ValidateGemm(g),
            "tiling: row_splits must be 0 (chosen) or 1 to the row tiles");
  g.tiling = {4, 1};
  EXPECT_EQ(ValidateGemm(g), "");
  g.k = 2048;  // 8 chunks a warp: one n8 tile a block
  g.x_stride = 2048;
  EXPECT_EQ(ValidateGemm(g),
            "tiling: tiles_per_block must be at most 1 for this K");
}

}  // namespace
}  // namespace tinylm::decode
