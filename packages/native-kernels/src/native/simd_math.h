// Shared pieces of the native kernels' inner loops: the AVX2 function clones and branch-free
// float32 exp that GCC and Clang vectorise (the wasm backend and glibc evaluate exp one scalar call
// at a time).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

// Clones the hot loops for AVX2+FMA on x86-64 (selected at load time); one generic build elsewhere.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__APPLE__)
#define ARTIST_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define ARTIST_SIMD_CLONES
#endif

namespace artist {

inline float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// exp(x) with relative error <= 2e-7 over the whole float range (checked against float64 in the
// tests); 0 below about -104, NaN in gives NaN out.
inline float exp_f32(float x) {
  // exp(x) = 2^n * exp(r), n = round(x / ln 2), |r| <= ln(2) / 2, r = x - n ln 2 in two parts
  const float xc = x > 88.8f ? 88.8f : (x < -104.f ? -104.f : x);
  const float n = (xc * 1.44269504089f + 12582912.f) - 12582912.f;  // round to nearest
  const float r = (xc - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = (p * r) * r + r + 1.f;
  // 2^n as two normal factors so n in [-150, 128] neither underflows early nor overflows early
  const int32_t ni = static_cast<int32_t>(n);
  const int32_t n1 = ni / 2;
  const int32_t n2 = ni - n1;
  const float s1 = bits_to_float(static_cast<uint32_t>(n1 + 127) << 23);
  const float s2 = bits_to_float(static_cast<uint32_t>(n2 + 127) << 23);
  const float y = (e * s1) * s2;
  return x != x ? x : y;
}

inline float sigmoid_f32(float x) {
  // 1 / (1 + exp(-x)) is accurate for every x (exp(-x) -> inf gives 0, the right limit)
  return 1.f / (1.f + exp_f32(-x));
}

// max of x[0, n) (-inf for n = 0) in eight lanes, so it vectorises without -ffast-math.
inline float row_max(const float* x, int64_t n) {
  float m[8];
  for (int k = 0; k < 8; k++) m[k] = -INFINITY;
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    for (int k = 0; k < 8; k++) m[k] = x[j + k] > m[k] ? x[j + k] : m[k];
  }
  for (; j < n; j++) m[0] = x[j] > m[0] ? x[j] : m[0];
  float r = m[0];
  for (int k = 1; k < 8; k++) r = m[k] > r ? m[k] : r;
  return r;
}

}  // namespace artist
