{
  "targets": [
    {
      "target_name": "artist_native",
      "sources": ["src/native/artist_native.cc", "src/native/conv.cc", "src/native/elementwise.cc", "src/native/fused_ops.cc", "src/native/gemm.cc", "src/native/parallel.cc", "src/native/resize.cc", "src/native/winograd.cc"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-O3", "-std=c++17", "-fno-math-errno", "-fno-trapping-math"],
      "conditions": [
        ["OS=='linux'", {
          "include_dirs": ["<!(node -p \"process.env.ARTIST_BLAS_INCLUDE || '/usr/include/x86_64-linux-gnu'\")"],
          "libraries": [
            "-L<!(node -p \"process.env.ARTIST_BLAS_LIBDIR || '/usr/lib/x86_64-linux-gnu'\")",
            "-lopenblas"
          ],
          "defines": ["ARTIST_BLAS_OPENBLAS=1"]
        }],
        ["OS=='mac'", {
          "libraries": ["-framework Accelerate"],
          "defines": ["ARTIST_BLAS_ACCELERATE=1", "ACCELERATE_NEW_LAPACK=1"],
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "OTHER_CPLUSPLUSFLAGS": ["-O3", "-fno-math-errno", "-fno-trapping-math"]
          }
        }]
      ]
    }
  ]
}
