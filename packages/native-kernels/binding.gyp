{
  "variables": {
    "artist_blas%": "<!(node -p \"process.env.ARTIST_BLAS || (process.platform === 'darwin' ? 'accelerate' : 'none')\")"
  },
  "targets": [
    {
      "target_name": "artist_native",
      "sources": [
        "src/native/addon_init.cc",
        "src/native/bandwidth.cc",
        "src/native/napi_args.cc",
        "src/native/bind_adamw.cc",
        "src/native/bind_conv.cc",
        "src/native/bind_elementwise.cc",
        "src/native/bind_fused_ops.cc",
        "src/native/bind_gemm.cc",
        "src/native/bind_losses.cc",
        "src/native/bind_memory.cc",
        "src/native/bind_resize.cc",
        "src/native/conv.cc",
        "src/native/decode_attention.cc",
        "src/native/elementwise.cc",
        "src/native/fused_ops.cc",
        "src/native/gemm.cc",
        "src/native/group_norm.cc",
        "src/native/parallel.cc",
        "src/native/portable_sgemm.cc",
        "src/native/resize.cc",
        "src/native/skinny_gemm.cc",
        "src/native/winograd.cc"
      ],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-O3", "-std=c++17", "-fno-math-errno", "-fno-trapping-math"],
      "conditions": [
        ["artist_blas=='openblas'", {
          "include_dirs": ["<!(node -p \"process.env.ARTIST_BLAS_INCLUDE || '/usr/include/x86_64-linux-gnu'\")"],
          "libraries": [
            "-L<!(node -p \"process.env.ARTIST_BLAS_LIBDIR || '/usr/lib/x86_64-linux-gnu'\")",
            "-lopenblas"
          ],
          "defines": ["ARTIST_BLAS_OPENBLAS=1"]
        }],
        ["artist_blas=='accelerate'", {
          "libraries": ["-framework Accelerate"],
          "defines": ["ARTIST_BLAS_ACCELERATE=1", "ACCELERATE_NEW_LAPACK=1"]
        }],
        ["OS=='mac'", {
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
