/**
 * PyTorch -> tfjs layout changes on plain arrays (artist.md section 9.3). Row-major in, row-major out.
 */

/** How a source tensor becomes ours. */
export type LayoutTransform =
  /** Copied as is: biases, norms, embeddings, the codebook. */
  | 'identity'
  /** Conv2d weight [out, in, kh, kw] -> [kh, kw, in, out] (transpose 2, 3, 1, 0). */
  | 'conv_oihw_to_hwio'
  /** nn.Linear weight [out, in] -> [in, out]. */
  | 'linear_transpose';

const TILE = 32;

/**
 * out[k][c][r] = in[r][c][k] for in [rows, cols, inner]: a tiled transpose per inner index, so both
 * sides are walked in cache-sized blocks (a plain double loop strides through memory on one side).
 */
function transposeTiled(
  data: Float32Array,
  rows: number,
  cols: number,
  inner: number,
): Float32Array {
  const out = new Float32Array(data.length);
  const rc = rows * cols;
  for (let r0 = 0; r0 < rows; r0 += TILE) {
    const r1 = Math.min(rows, r0 + TILE);
    for (let c0 = 0; c0 < cols; c0 += TILE) {
      const c1 = Math.min(cols, c0 + TILE);
      for (let k = 0; k < inner; k++) {
        const ob = k * rc;
        for (let r = r0; r < r1; r++) {
          const ib = r * cols * inner + k;
          for (let c = c0; c < c1; c++) out[ob + c * rows + r] = data[ib + c * inner];
        }
      }
    }
  }
  return out;
}

/** Conv2d kernel OIHW -> HWIO: [o, i, (h w)] -> [(h w), i, o]. */
export function oihwToHwio(data: Float32Array, shape: readonly number[]): Float32Array {
  const [co, ci, kh, kw] = shape;
  return transposeTiled(data, co, ci, kh * kw);
}

/** 2-D transpose [r, c] -> [c, r]. */
export function transpose2d(data: Float32Array, shape: readonly number[]): Float32Array {
  const [r, c] = shape;
  return transposeTiled(data, r, c, 1);
}

/** The target shape of a source shape under a transform. */
export function transformedShape(shape: readonly number[], t: LayoutTransform): number[] {
  if (t === 'conv_oihw_to_hwio') return [shape[2], shape[3], shape[1], shape[0]];
  if (t === 'linear_transpose') return [shape[1], shape[0]];
  return [...shape];
}

export function applyLayout(
  data: Float32Array,
  sourceShape: readonly number[],
  t: LayoutTransform,
): Float32Array {
  if (t === 'conv_oihw_to_hwio') return oihwToHwio(data, sourceShape);
  if (t === 'linear_transpose') return transpose2d(data, sourceShape);
  return data;
}
