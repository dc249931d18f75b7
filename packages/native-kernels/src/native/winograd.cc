// Winograd convolutions for NHWC 3x3 filters with stride 1 and dilation 1 (Lavin & Gray, "Fast
// Algorithms for Convolutional Neural Networks", 2016). The forward runs F(4x4, 3x3) (or F(2x2, 3x3)
// on images with few 4x4 tiles): each M x M output tile is
//   Y = A^T [ sum_ci (G g G^T) (.) (B^T d B) ] A
// over the (M + 2)^2 input patch d of the tile, so the multiply-adds become (M + 2)^2 GEMMs of
// [tiles, ci] x [ci, co]: 4x fewer than im2col's [pixels, 9 ci] x [9 ci, co] for M = 4, 2.25x for
// M = 2. F(2x2, 3x3)'s transforms only add and halve (the result matches the direct sum to float32
// rounding); F(4x4, 3x3)'s scale by up to 8 and 1/24 (about 10x float32 rounding of the output,
// checked against float64 in the tests).
//   F(2x2, 3x3): B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
//                G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
//                A^T = [1 1 1 0; 0 1 -1 -1]
// The filter gradient is F(3x3, 2x2): per tile, the 4x4 input patch correlated with the tile's 2x2
// output gradient gives a 3x3 contribution, dW = A'^T [ sum_tiles (G' dy G'^T) (.) (B'^T d B') ] A',
// i.e. 16 GEMMs [ci, tiles] x [tiles, co] summed over all tiles, then one output transform.
//   B'^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 -1 0 1]
//   G'   = [1 0; 1/2 1/2; 1/2 -1/2; 0 1]
//   A'^T = [1 1 1 0; 0 1 -1 0; 0 1 1 1]
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels.h"
#include "parallel.h"
#include "sgemm.h"
#include "simd_math.h"

namespace artist {
namespace {

// Tiles per GEMM batch for K transform components (16 for F(2x2, 3x3), 36 for F(4x4, 3x3)): the
// batch's K x tiles x (ci + co) transformed values fill about `floats`, with at least `min_tiles`
// rows per GEMM.
int64_t tiles_per_batch(int64_t k, int64_t ci, int64_t co, int64_t floats, int64_t min_tiles) {
  return std::max<int64_t>(min_tiles, std::min<int64_t>(512, floats / (k * (ci + co))));
}

// The forward's batches: 2 MiB of transformed values, at least 56 tiles (GEMMs with fewer rows
// ran well below the BLAS's peak). Convolutions whose transformed values all fit in 16 MiB
// (small images, many channels) transform every tile at once instead (see forward_tiles).
constexpr int64_t kForwardBatchFloats = int64_t(1) << 19;
constexpr int64_t kForwardMinTiles = 56;
constexpr int64_t kAllTilesFloats = int64_t(1) << 22;
constexpr int64_t kMinTiles4x4 = 64;

struct Scratch {
  std::vector<float> zeros, t, v, m;
};

Scratch& scratch() {
  static thread_local Scratch s;
  return s;
}

// ---- F(2x2, 3x3)

// V[k][c] (rows stride_k apart) = (B^T d B)[k] for one tile (with kGrad, B'^T d B', whose last
// row is negated); d[k] points at the ci channels of patch position k (4 * row + col), a zero row
// outside the image. Every loop runs along c.
template <bool kGrad>
ARTIST_SIMD_CLONES void transform_input(const float* const* d, int64_t ci, float* t, float* v,
                                        int64_t stride_k) {
  for (int j = 0; j < 4; j++) {  // t = B^T d, column j
    const float *d0 = d[j], *d1 = d[4 + j], *d2 = d[8 + j], *d3 = d[12 + j];
    float *t0 = t + j * ci, *t1 = t + (4 + j) * ci, *t2 = t + (8 + j) * ci, *t3 = t + (12 + j) * ci;
    for (int64_t c = 0; c < ci; c++) {
      t0[c] = d0[c] - d2[c];
      t1[c] = d1[c] + d2[c];
      t2[c] = d2[c] - d1[c];
      t3[c] = kGrad ? d3[c] - d1[c] : d1[c] - d3[c];
    }
  }
  for (int r = 0; r < 4; r++) {  // V = t B, row r
    const float *a0 = t + (4 * r) * ci, *a1 = a0 + ci, *a2 = a1 + ci, *a3 = a2 + ci;
    float *v0 = v + (4 * r) * stride_k, *v1 = v0 + stride_k, *v2 = v1 + stride_k,
          *v3 = v2 + stride_k;
    for (int64_t c = 0; c < ci; c++) {
      v0[c] = a0[c] - a2[c];
      v1[c] = a1[c] + a2[c];
      v2[c] = a2[c] - a1[c];
      v3[c] = kGrad ? a3[c] - a1[c] : a1[c] - a3[c];
    }
  }
}

// The 2x2 outputs of one tile (y[0..3], row-major; null where clipped) from M[k][o] (rows
// stride_k apart); t is scratch of 8 * co floats.
ARTIST_SIMD_CLONES void transform_output(const float* m, int64_t co, int64_t stride_k, float* t,
                                         float* const* y) {
  for (int j = 0; j < 4; j++) {  // t = A^T M, column j
    const float *m0 = m + j * stride_k, *m1 = m + (4 + j) * stride_k, *m2 = m + (8 + j) * stride_k,
                *m3 = m + (12 + j) * stride_k;
    float *t0 = t + j * co, *t1 = t + (4 + j) * co;
    for (int64_t o = 0; o < co; o++) {
      t0[o] = m0[o] + m1[o] + m2[o];
      t1[o] = m1[o] - m2[o] - m3[o];
    }
  }
  for (int r = 0; r < 2; r++) {  // Y = t A, row r
    const float *a0 = t + (4 * r) * co, *a1 = a0 + co, *a2 = a1 + co, *a3 = a2 + co;
    float *y0 = y[2 * r], *y1 = y[2 * r + 1];
    if (y0) {
      for (int64_t o = 0; o < co; o++) y0[o] = a0[o] + a1[o] + a2[o];
    }
    if (y1) {
      for (int64_t o = 0; o < co; o++) y1[o] = a1[o] - a2[o] - a3[o];
    }
  }
}

// ---- F(4x4, 3x3) (Lavin & Gray's points 0, +-1, +-2, infinity):
//   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
//   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
//   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
// 36 GEMMs per 4x4 output tile instead of 4 x 16 = 64 for F(2x2, 3x3).

// o = B^T s along one axis of the 6x6 patch: six rows of n floats in, six out.
ARTIST_SIMD_CLONES void bt6(const float* const* s, float* const* o, int64_t n) {
  const float *s0 = s[0], *s1 = s[1], *s2 = s[2], *s3 = s[3], *s4 = s[4], *s5 = s[5];
  float *o0 = o[0], *o1 = o[1], *o2 = o[2], *o3 = o[3], *o4 = o[4], *o5 = o[5];
  for (int64_t c = 0; c < n; c++) {
    const float a1 = s1[c], a2 = s2[c], a3 = s3[c], a4 = s4[c];
    const float p = a4 - 4.f * a2, q = a3 - 4.f * a1;  // rows 1, 2: p +- q
    const float r = a4 - a2, w = 2.f * (a3 - a1);     // rows 3, 4: r +- w
    o0[c] = 4.f * s0[c] - 5.f * a2 + a4;
    o1[c] = p + q;
    o2[c] = p - q;
    o3[c] = r + w;
    o4[c] = r - w;
    o5[c] = 4.f * a1 - 5.f * a3 + s5[c];
  }
}

// V[k][c] (rows stride_k apart, k = 6 * row + col) = (B^T d B)[k] for one tile; d[k] points at
// the ci channels of patch position k, a zero row outside the image. t: 36 * ci floats.
void transform_input6(const float* const* d, int64_t ci, float* t, float* v, int64_t stride_k) {
  for (int j = 0; j < 6; j++) {  // t = B^T d, column j (rows of t: 6 * row + j)
    const float* s[6] = {d[j], d[6 + j], d[12 + j], d[18 + j], d[24 + j], d[30 + j]};
    float* o[6];
    for (int r = 0; r < 6; r++) o[r] = t + (6 * r + j) * ci;
    bt6(s, o, ci);
  }
  for (int r = 0; r < 6; r++) {  // V = t B, row r
    const float* s[6];
    float* o[6];
    for (int c = 0; c < 6; c++) {
      s[c] = t + (6 * r + c) * ci;
      o[c] = v + (6 * r + c) * stride_k;
    }
    bt6(s, o, ci);
  }
}

// o = A^T s along one axis: six rows of n floats in, four out (null rows are skipped).
ARTIST_SIMD_CLONES void at6(const float* const* s, float* const* o, int64_t n) {
  const float *s0 = s[0], *s1 = s[1], *s2 = s[2], *s3 = s[3], *s4 = s[4], *s5 = s[5];
  float *o0 = o[0], *o1 = o[1], *o2 = o[2], *o3 = o[3];
  if (o0 && o1 && o2 && o3) {
    for (int64_t c = 0; c < n; c++) {
      const float a = s1[c] + s2[c], b = s1[c] - s2[c], e = s3[c] + s4[c], f = s3[c] - s4[c];
      o0[c] = s0[c] + a + e;
      o1[c] = b + 2.f * f;
      o2[c] = a + 4.f * e;
      o3[c] = b + 8.f * f + s5[c];
    }
    return;
  }
  for (int64_t c = 0; c < n; c++) {
    const float a = s1[c] + s2[c], b = s1[c] - s2[c], e = s3[c] + s4[c], f = s3[c] - s4[c];
    if (o0) o0[c] = s0[c] + a + e;
    if (o1) o1[c] = b + 2.f * f;
    if (o2) o2[c] = a + 4.f * e;
    if (o3) o3[c] = b + 8.f * f + s5[c];
  }
}

// The 4x4 outputs of one tile (y[4 * row + col]; null where clipped) from M[k][o] (rows stride_k
// apart); t: 24 * co floats.
void transform_output6(const float* m, int64_t co, int64_t stride_k, float* t, float* const* y) {
  for (int j = 0; j < 6; j++) {  // t = A^T M, column j (rows of t: 6 * row + j)
    const float* s[6];
    float* o[4];
    for (int r = 0; r < 6; r++) s[r] = m + (6 * r + j) * stride_k;
    for (int r = 0; r < 4; r++) o[r] = t + (6 * r + j) * co;
    at6(s, o, co);
  }
  for (int r = 0; r < 4; r++) {  // Y = t A, row r
    const float* s[6];
    for (int c = 0; c < 6; c++) s[c] = t + (6 * r + c) * co;
    at6(s, y + 4 * r, co);
  }
}

// o[0..T) = G s along one axis of the 3x3 filter (T = 4: F(2x2, 3x3); T = 6: F(4x4, 3x3)): three
// rows of n floats in, T out.
template <int T>
ARTIST_SIMD_CLONES void g_rows(const float* s0, const float* s1, const float* s2, float* const* o,
                               int64_t n) {
  for (int64_t c = 0; c < n; c++) {
    const float g0 = s0[c], g1 = s1[c], g2 = s2[c];
    if (T == 4) {
      o[0][c] = g0;
      o[1][c] = 0.5f * (g0 + g1 + g2);
      o[2][c] = 0.5f * (g0 - g1 + g2);
      o[3][c] = g2;
    } else {
      o[0][c] = 0.25f * g0;
      o[1][c] = -(g0 + g1 + g2) * (1.f / 6.f);
      o[2][c] = -(g0 - g1 + g2) * (1.f / 6.f);
      o[3][c] = g0 * (1.f / 24.f) + g1 * (1.f / 12.f) + g2 * (1.f / 6.f);
      o[4][c] = g0 * (1.f / 24.f) - g1 * (1.f / 12.f) + g2 * (1.f / 6.f);
      o[5][c] = g2;
    }
  }
}

// U[k][i][o] (k = T * row + col of the T x T transform) = (G g G^T)[k] for input channels
// [i0, i1) of the HWIO filter; t: 3 * T * co floats of scratch.
template <int T>
void transform_filter(const ConvParams& p, const float* filter, float* u, int64_t i0, int64_t i1,
                      float* t) {
  const int64_t ci = p.ci, co = p.co, plane = ci * co;
  auto g = [&](int r, int c, int64_t i) { return filter + ((r * 3 + c) * ci + i) * co; };
  for (int64_t i = i0; i < i1; i++) {
    for (int c = 0; c < 3; c++) {  // t = G g: t[k][c] at t + (3 * k + c) * co
      float* o[T];
      for (int k = 0; k < T; k++) o[k] = t + (3 * k + c) * co;
      g_rows<T>(g(0, c, i), g(1, c, i), g(2, c, i), o, co);
    }
    for (int k = 0; k < T; k++) {  // U = t G^T, row k
      float* o[T];
      for (int l = 0; l < T; l++) o[l] = u + (T * k + l) * plane + i * co;
      const float* r = t + 3 * k * co;
      g_rows<T>(r, r + co, r + 2 * co, o, co);
    }
  }
}

// y[o] += bias[o] for o < co (nothing for a clipped output: y null).
ARTIST_SIMD_CLONES void add_bias(float* y, const float* bias, int64_t co) {
  if (!y) return;
  for (int64_t o = 0; o < co; o++) y[o] += bias[o];
}

// d[T * r + c] = the ci channels of input pixel (M ty - pt + r, M tx - pl + c) of image img, or
// `zeros` outside the image: the T x T patch (T = M + 2) of tile (ty, tx), read in place.
template <int M>
void patch_pointers(const ConvParams& p, const float* x, const float* zeros, int64_t img,
                    int64_t ty, int64_t tx, const float** d) {
  constexpr int T = M + 2;
  const int64_t iy0 = M * ty - p.pt, ix0 = M * tx - p.pl;
  for (int r = 0; r < T; r++) {
    const int64_t iy = iy0 + r;
    for (int c = 0; c < T; c++) {
      const int64_t ix = ix0 + c;
      d[r * T + c] = iy < 0 || iy >= p.h || ix < 0 || ix >= p.w
                         ? zeros
                         : x + ((img * p.h + iy) * p.w + ix) * p.ci;
    }
  }
}

// F(M x M, 3x3) forward, M = 2 or 4: tiles in batches of tiles_per_batch, the batches split
// across the pool; with fewer tiles than two batches (small images, many channels) all tiles
// are transformed at once and the K GEMMs are split across the pool instead, so each transformed
// filter matrix is read once.
template <int M>
void forward_tiles(const ConvParams& p, const float* x, const float* filter, float* y,
                   const float* bias) {
  constexpr int T = M + 2, K = T * T;
  const int64_t ci = p.ci, co = p.co;
  const int64_t th = (p.oh + M - 1) / M, tw = (p.ow + M - 1) / M;
  const int64_t tiles = p.n * th * tw;
  std::vector<float> u(static_cast<size_t>(K * ci * co));
  parallel_for(ci, 1, K * ci * co * 8, [&](int64_t i0, int64_t i1, int) {
    std::vector<float> t(static_cast<size_t>(3 * T * co));
    transform_filter<T>(p, filter, u.data(), i0, i1, t.data());
  });
  const float* const uk = u.data();
  // Transforms tiles [j0, j0 + nt) into v (rows nt * ci apart per component).
  auto transform_in = [&](Scratch& s, int64_t j0, int64_t nt, int64_t stride, float* v) {
    const float* d[K];
    for (int64_t j = 0; j < nt; j++) {
      const int64_t tile = j0 + j;
      const int64_t img = tile / (th * tw), ty = (tile / tw) % th, tx = tile % tw;
      patch_pointers<M>(p, x, s.zeros.data(), img, ty, tx, d);
      if (M == 2) {
        transform_input<false>(d, ci, s.t.data(), v + j * ci, stride * ci);
      } else {
        transform_input6(d, ci, s.t.data(), v + j * ci, stride * ci);
      }
    }
  };
  // Inverse transform of tiles [j0, j0 + nt) from m into the (clipped) M x M outputs.
  auto transform_out = [&](Scratch& s, int64_t j0, int64_t nt, int64_t stride, const float* m) {
    for (int64_t j = 0; j < nt; j++) {
      const int64_t tile = j0 + j;
      const int64_t img = tile / (th * tw), ty = (tile / tw) % th, tx = tile % tw;
      const int64_t oy = M * ty, ox = M * tx;
      float* out[M * M];
      for (int r = 0; r < M; r++) {
        for (int c = 0; c < M; c++) {
          out[r * M + c] = oy + r < p.oh && ox + c < p.ow
                               ? y + ((img * p.oh + oy + r) * p.ow + ox + c) * co
                               : nullptr;
        }
      }
      if (M == 2) {
        transform_output(m + j * co, co, stride * co, s.t.data(), out);
      } else {
        transform_output6(m + j * co, co, stride * co, s.t.data(), out);
      }
      if (bias) {
        for (float* o : out) add_bias(o, bias, co);
      }
    }
  };
  auto prepare = [&](Scratch& s, int64_t per) {
    s.zeros.assign(static_cast<size_t>(ci), 0.f);
    s.t.resize(static_cast<size_t>(K * std::max(ci, co)));
    if (per > 0) {
      s.v.resize(static_cast<size_t>(K * per * ci));
      s.m.resize(static_cast<size_t>(K * per * co));
    }
  };
  if (tiles * K * (ci + co) <= kAllTilesFloats) {
    std::vector<float> v(static_cast<size_t>(K * tiles * ci)), m(static_cast<size_t>(K * tiles * co));
    parallel_for(tiles, 1, tiles * K * (ci + co) * 8, [&](int64_t j0, int64_t j1, int) {
      Scratch& s = scratch();
      prepare(s, 0);
      transform_in(s, j0, j1 - j0, tiles, v.data() + j0 * ci);
    });
    parallel_for(K, 1, tiles * K * ci * co, [&](int64_t k0, int64_t k1, int) {
      for (int64_t k = k0; k < k1; k++) {
        sgemm(false, false, tiles, co, ci, 1.f, v.data() + k * tiles * ci, ci, uk + k * ci * co, co,
              0.f, m.data() + k * tiles * co, co);
      }
    });
    parallel_for(tiles, 1, tiles * K * co * 8, [&](int64_t j0, int64_t j1, int) {
      Scratch& s = scratch();
      prepare(s, 0);
      transform_out(s, j0, j1 - j0, tiles, m.data() + j0 * co);
    });
    return;
  }
  const int64_t per = tiles_per_batch(K, ci, co, kForwardBatchFloats, kForwardMinTiles);
  const int64_t batches = (tiles + per - 1) / per;
  parallel_for(batches, 1, tiles * K * ci * co, [&](int64_t b0, int64_t b1, int) {
    Scratch& s = scratch();
    prepare(s, per);
    for (int64_t bt = b0; bt < b1; bt++) {
      const int64_t j0 = bt * per, nt = std::min(per, tiles - j0);
      transform_in(s, j0, nt, nt, s.v.data());
      for (int k = 0; k < K; k++) {
        sgemm(false, false, nt, co, ci, 1.f, s.v.data() + k * nt * ci, ci, uk + k * ci * co, co,
              0.f, s.m.data() + k * nt * co, co);
      }
      transform_out(s, j0, nt, nt, s.m.data());
    }
  });
}

}  // namespace

bool winograd_applies(const ConvParams& p) {
  return p.fh == 3 && p.fw == 3 && p.sh == 1 && p.sw == 1 && p.dh == 1 && p.dw == 1 && p.ci >= 8 &&
         p.co >= 8 && p.oh * p.ow >= 16;
}

void winograd_forward(const ConvParams& p, const float* x, const float* filter, float* y,
                      const float* bias) {
  // F(4x4, 3x3) needs 2.25x the transformed filter of F(2x2, 3x3): with few tiles to share it
  // (16x16 images of 512 channels: 32 tiles) reading it costs more than the GEMMs save.
  if (p.n * ((p.oh + 3) / 4) * ((p.ow + 3) / 4) >= kMinTiles4x4) {
    forward_tiles<4>(p, x, filter, y, bias);
  } else {
    forward_tiles<2>(p, x, filter, y, bias);
  }
}

namespace {

// U[k][o] (rows stride_k apart) = (G' g G'^T)[k] for one tile's 2x2 output gradient g[0..3]
// (row-major, each pointing at co channels; a zero row where the tile is clipped).
ARTIST_SIMD_CLONES void transform_grad(const float* const* g, int64_t co, float* t, float* u,
                                       int64_t stride_k) {
  for (int j = 0; j < 2; j++) {  // t = G' g, column j
    const float *g0 = g[j], *g1 = g[2 + j];
    float *t0 = t + j * co, *t1 = t + (2 + j) * co, *t2 = t + (4 + j) * co, *t3 = t + (6 + j) * co;
    for (int64_t o = 0; o < co; o++) {
      t0[o] = g0[o];
      t1[o] = 0.5f * (g0[o] + g1[o]);
      t2[o] = 0.5f * (g0[o] - g1[o]);
      t3[o] = g1[o];
    }
  }
  for (int r = 0; r < 4; r++) {  // U = t G'^T, row r
    const float *a0 = t + (2 * r) * co, *a1 = a0 + co;
    float *u0 = u + (4 * r) * stride_k, *u1 = u0 + stride_k, *u2 = u1 + stride_k,
          *u3 = u2 + stride_k;
    for (int64_t o = 0; o < co; o++) {
      u0[o] = a0[o];
      u1[o] = 0.5f * (a0[o] + a1[o]);
      u2[o] = 0.5f * (a0[o] - a1[o]);
      u3[o] = a1[o];
    }
  }
}

// dW[ky][kx][i][:] = (A'^T S A')[ky][kx] for input channel i, S[k] = s + k * stride_k (co wide).
ARTIST_SIMD_CLONES void transform_filter_grad(const float* s, int64_t co, int64_t stride_k,
                                              float* t, float* const* dw) {
  for (int j = 0; j < 4; j++) {  // t = A'^T S, column j
    const float *s0 = s + j * stride_k, *s1 = s + (4 + j) * stride_k,
                *s2 = s + (8 + j) * stride_k, *s3 = s + (12 + j) * stride_k;
    float *t0 = t + j * co, *t1 = t + (4 + j) * co, *t2 = t + (8 + j) * co;
    for (int64_t o = 0; o < co; o++) {
      t0[o] = s0[o] + s1[o] + s2[o];
      t1[o] = s1[o] - s2[o];
      t2[o] = s1[o] + s2[o] + s3[o];
    }
  }
  for (int r = 0; r < 3; r++) {  // dW = t A', row r
    const float *a0 = t + (4 * r) * co, *a1 = a0 + co, *a2 = a1 + co, *a3 = a2 + co;
    float *w0 = dw[3 * r], *w1 = dw[3 * r + 1], *w2 = dw[3 * r + 2];
    for (int64_t o = 0; o < co; o++) {
      w0[o] = a0[o] + a1[o] + a2[o];
      w1[o] = a1[o] - a2[o];
      w2[o] = a1[o] + a2[o] + a3[o];
    }
  }
}

}  // namespace

void winograd_backprop_filter(const ConvParams& p, const float* x, const float* dy,
                              float* dfilter) {
  const int64_t ci = p.ci, co = p.co;
  const int64_t th = (p.oh + 1) / 2, tw = (p.ow + 1) / 2;
  const int64_t tiles = p.n * th * tw;
  const int64_t per = tiles_per_batch(16, ci, co, int64_t(1) << 19, 16);
  const int64_t batches = (tiles + per - 1) / per;
  const int64_t plane = ci * co;
  // Each chunk of tile batches sums its own S[16][ci][co] (see parallel_sum).
  std::vector<float> sums(static_cast<size_t>(16 * plane));
  parallel_sum(batches, pool_chunks_for(batches, 1, tiles * 16 * plane), 16 * plane, sums.data(),
               [&](int64_t b0, int64_t b1, float* acc) {
    Scratch& s = scratch();
    s.zeros.assign(static_cast<size_t>(std::max(ci, co)), 0.f);
    s.t.resize(static_cast<size_t>(16 * std::max(ci, co)));
    s.v.resize(static_cast<size_t>(16 * per * ci));
    s.m.resize(static_cast<size_t>(16 * per * co));
    const float* d[16];
    const float* g[4];
    for (int64_t bt = b0; bt < b1; bt++) {
      const int64_t j0 = bt * per, nt = std::min(per, tiles - j0);
      for (int64_t j = 0; j < nt; j++) {
        const int64_t tile = j0 + j;
        const int64_t img = tile / (th * tw), ty = (tile / tw) % th, tx = tile % tw;
        patch_pointers<2>(p, x, s.zeros.data(), img, ty, tx, d);
        for (int r = 0; r < 2; r++) {
          for (int c = 0; c < 2; c++) {
            const int64_t oy = 2 * ty + r, ox = 2 * tx + c;
            g[r * 2 + c] = oy >= p.oh || ox >= p.ow ? s.zeros.data()
                                                   : dy + ((img * p.oh + oy) * p.ow + ox) * co;
          }
        }
        transform_input<true>(d, ci, s.t.data(), s.v.data() + j * ci, nt * ci);
        transform_grad(g, co, s.t.data(), s.m.data() + j * co, nt * co);
      }
      for (int k = 0; k < 16; k++) {  // S[k] (+)= V[k]^T U[k]
        sgemm(true, false, ci, co, nt, 1.f, s.v.data() + k * nt * ci, ci,
              s.m.data() + k * nt * co, co, bt == b0 ? 0.f : 1.f, acc + k * plane, co);
      }
    }
  });
  std::vector<float> t(static_cast<size_t>(12 * co));
  for (int64_t i = 0; i < ci; i++) {
    float* dw[9];
    for (int k = 0; k < 9; k++) dw[k] = dfilter + (k * ci + i) * co;
    transform_filter_grad(sums.data() + i * co, co, plane, t.data(), dw);
  }
}

}  // namespace artist
