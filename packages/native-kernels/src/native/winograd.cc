// Winograd F(2x2, 3x3) for NHWC 3x3 convolutions with stride 1 and dilation 1 (Lavin & Gray,
// "Fast Algorithms for Convolutional Neural Networks", 2016): each 2x2 output tile is
//   Y = A^T [ sum_ci (G g G^T) (.) (B^T d B) ] A
// over the 4x4 input patch d of the tile, so the multiply-adds become 16 GEMMs of
// [tiles, ci] x [ci, co] (2.25x fewer than im2col's [pixels, 9 ci] x [9 ci, co]). The transforms
// only add and halve, so the result matches the direct sum to float32 rounding.
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
//   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
//   A^T = [1 1 1 0; 0 1 -1 -1]
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

// Tiles per GEMM batch: the 16 transformed input and output matrices of a batch (16 x tiles x
// (ci + co) floats) stay around 1-2 MiB.
int64_t tiles_per_batch(int64_t ci, int64_t co) {
  return std::max<int64_t>(16, std::min<int64_t>(512, (int64_t(1) << 19) / (16 * (ci + co))));
}

struct Scratch {
  std::vector<float> zeros, t, v, m;
};

Scratch& scratch() {
  static thread_local Scratch s;
  return s;
}

// U[k][i][o] (k = 4 * row + col of the 4x4 transform) = (G g G^T)[k] for the HWIO filter.
void transform_filter(const ConvParams& p, const float* filter, float* u) {
  const int64_t ci = p.ci, co = p.co, plane = ci * co;
  for (int64_t i = 0; i < ci; i++) {
    for (int64_t o = 0; o < co; o++) {
      float g[3][3];
      for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 3; c++) g[r][c] = filter[((r * 3 + c) * ci + i) * co + o];
      }
      float t[4][3];  // G g
      for (int c = 0; c < 3; c++) {
        t[0][c] = g[0][c];
        t[1][c] = 0.5f * (g[0][c] + g[1][c] + g[2][c]);
        t[2][c] = 0.5f * (g[0][c] - g[1][c] + g[2][c]);
        t[3][c] = g[2][c];
      }
      for (int r = 0; r < 4; r++) {  // (G g) G^T
        float* row = u + (r * 4) * plane + i * co + o;
        row[0] = t[r][0];
        row[plane] = 0.5f * (t[r][0] + t[r][1] + t[r][2]);
        row[2 * plane] = 0.5f * (t[r][0] - t[r][1] + t[r][2]);
        row[3 * plane] = t[r][2];
      }
    }
  }
}

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

// d[4 * r + c] = the ci channels of input pixel (2 ty - pt + r, 2 tx - pl + c) of image img, or
// `zeros` outside the image: the 4x4 patch of tile (ty, tx), read in place.
void patch_pointers(const ConvParams& p, const float* x, const float* zeros, int64_t img,
                    int64_t ty, int64_t tx, const float** d) {
  const int64_t iy0 = 2 * ty - p.pt, ix0 = 2 * tx - p.pl;
  for (int r = 0; r < 4; r++) {
    const int64_t iy = iy0 + r;
    for (int c = 0; c < 4; c++) {
      const int64_t ix = ix0 + c;
      d[r * 4 + c] = iy < 0 || iy >= p.h || ix < 0 || ix >= p.w
                         ? zeros
                         : x + ((img * p.h + iy) * p.w + ix) * p.ci;
    }
  }
}

}  // namespace

bool winograd_applies(const ConvParams& p) {
  return p.fh == 3 && p.fw == 3 && p.sh == 1 && p.sw == 1 && p.dh == 1 && p.dw == 1 && p.ci >= 8 &&
         p.co >= 8 && p.oh * p.ow >= 16;
}

void winograd_forward(const ConvParams& p, const float* x, const float* filter, float* y) {
  const int64_t ci = p.ci, co = p.co;
  const int64_t th = (p.oh + 1) / 2, tw = (p.ow + 1) / 2;
  const int64_t tiles = p.n * th * tw;
  std::vector<float> u(static_cast<size_t>(16 * ci * co));
  transform_filter(p, filter, u.data());
  const int64_t per = tiles_per_batch(ci, co);
  const int64_t batches = (tiles + per - 1) / per;
  parallel_for(batches, 1, tiles * 16 * ci * co, [&](int64_t b0, int64_t b1, int) {
    Scratch& s = scratch();
    s.zeros.assign(static_cast<size_t>(ci), 0.f);
    s.t.resize(static_cast<size_t>(16 * std::max(ci, co)));
    s.v.resize(static_cast<size_t>(16 * per * ci));
    s.m.resize(static_cast<size_t>(16 * per * co));
    const float* d[16];
    for (int64_t bt = b0; bt < b1; bt++) {
      const int64_t j0 = bt * per, nt = std::min(per, tiles - j0);
      for (int64_t j = 0; j < nt; j++) {  // transform each tile's patch, read in place
        const int64_t tile = j0 + j;
        const int64_t img = tile / (th * tw), ty = (tile / tw) % th, tx = tile % tw;
        patch_pointers(p, x, s.zeros.data(), img, ty, tx, d);
        transform_input<false>(d, ci, s.t.data(), s.v.data() + j * ci, nt * ci);
      }
      for (int k = 0; k < 16; k++) {
        sgemm(false, false, nt, co, ci, 1.f, s.v.data() + k * nt * ci, ci,
              u.data() + k * ci * co, co, 0.f, s.m.data() + k * nt * co, co);
      }
      for (int64_t j = 0; j < nt; j++) {  // inverse transform into the (clipped) 2x2 outputs
        const int64_t tile = j0 + j;
        const int64_t img = tile / (th * tw), ty = (tile / tw) % th, tx = tile % tw;
        const int64_t oy = 2 * ty, ox = 2 * tx;
        float* row0 = y + ((img * p.oh + oy) * p.ow + ox) * co;
        const bool right = ox + 1 < p.ow, down = oy + 1 < p.oh;
        float* row1 = down ? row0 + p.ow * co : nullptr;
        float* const out[4] = {row0, right ? row0 + co : nullptr, row1,
                               down && right ? row1 + co : nullptr};
        transform_output(s.m.data() + j * co, co, nt * co, s.t.data(), out);
      }
    }
  });
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
  const int64_t per = tiles_per_batch(ci, co);
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
        patch_pointers(p, x, s.zeros.data(), img, ty, tx, d);
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
