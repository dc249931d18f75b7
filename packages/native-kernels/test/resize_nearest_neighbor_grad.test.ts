import { installKernels, uninstallKernels } from '../src';
import {
  BACKENDS,
  expectClose,
  expectNoLeaks,
  randArray,
  seeded,
  take,
  tf,
  useBackend,
  withStock,
} from './helpers';

function upsampleGrad(
  x: number[],
  size: [number, number],
  dyv: Float32Array,
  alignCorners = false,
  halfPixelCenters = false,
) {
  return tf.tidy(() => {
    const images = tf.zeros(x as [number, number, number, number]) as tf.Tensor4D;
    const dy = tf.tensor(dyv, [x[0]!, size[0], size[1], x[3]!]);
    const [g] = tf.grads((t: tf.Tensor) =>
      tf.image
        .resizeNearestNeighbor(t as tf.Tensor4D, size, alignCorners, halfPixelCenters)
        .mul(dy)
        .sum(),
    )([images]);
    return [g!];
  });
}

/**
 * Reference gradient from the stock cpu forward kernel alone: resize an image whose pixels hold
 * their own flat index, read which source each output pixel copied, and scatter-add dy there
 * (float64). `source` is that resized index image.
 */
function adjointReference(source: Float32Array, n: number, dy: Float32Array): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < source.length; i++) out[source[i]!]! += dy[i]!;
  return out;
}

/** Which input pixel every output pixel copies, by the stock cpu kernel (the formula's source). */
async function stockSources(
  backend: 'cpu' | 'wasm',
  x: number[],
  size: [number, number],
  ac: boolean,
  hp: boolean,
): Promise<Float32Array> {
  const n = x.reduce((a, b) => a * b, 1);
  const sources = await withStock(
    'cpu',
    () => indexImageResized(n, x, size, ac, hp),
    backend === 'cpu' ? {} : undefined,
  );
  await useBackend(backend);
  return sources;
}

function indexImageResized(
  n: number,
  x: number[],
  size: [number, number],
  ac: boolean,
  hp: boolean,
): Float32Array {
  return tf.tidy(
    () =>
      tf.image
        .resizeNearestNeighbor(
          tf.tensor4d(
            Float32Array.from({ length: n }, (_, i) => i),
            x as [number, number, number, number],
          ),
          size,
          ac,
          hp,
        )
        .dataSync() as Float32Array,
  );
}

describe.each(BACKENDS)('ResizeNearestNeighborGrad on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
    installKernels(tf, backend);
  });
  afterAll(() => uninstallKernels(tf, backend));

  it('nearest x2 upsample gradient with batch 2 equals the hand-computed value', async () => {
    await useBackend(backend);
    // dy[b, i, j] = 16 b + 4 i + j on a 4x4 grid; dx sums each 2x2 block:
    // b = 0: [[0+1+4+5, 2+3+6+7], [8+9+12+13, 10+11+14+15]] = [[10, 18], [42, 50]]; b = 1: + 4 * 16
    const dy = Float32Array.from({ length: 32 }, (_, i) => i);
    const [g] = take(upsampleGrad([2, 2, 2, 1], [4, 4], dy));
    expect(Array.from(g!)).toEqual([10, 18, 42, 50, 74, 82, 106, 114]);
  });

  const cases = [
    {
      name: 'x2, 3 channels',
      x: [3, 3, 4, 3],
      size: [6, 8] as [number, number],
      ac: false,
      hp: false,
    },
    {
      name: 'non-integer 3 -> 7',
      x: [2, 3, 3, 2],
      size: [7, 5] as [number, number],
      ac: false,
      hp: false,
    },
    {
      name: 'alignCorners',
      x: [2, 4, 3, 2],
      size: [7, 6] as [number, number],
      ac: true,
      hp: false,
    },
    {
      name: 'halfPixelCenters',
      x: [2, 3, 4, 1],
      size: [7, 9] as [number, number],
      ac: false,
      hp: true,
    },
    {
      name: 'downsample 6 -> 4',
      x: [2, 6, 6, 2],
      size: [4, 4] as [number, number],
      ac: false,
      hp: false,
    },
  ];

  it.each(cases)('$name: forward equals the stock cpu kernel', async (c) => {
    const n = c.x.reduce((a, b) => a * b, 1);
    const want = await stockSources(backend, c.x, c.size, c.ac, c.hp);
    expect(Array.from(indexImageResized(n, c.x, c.size, c.ac, c.hp))).toEqual(Array.from(want));
  });

  it.each(cases)('$name: gradient equals the adjoint of the forward resize', async (c) => {
    const n = c.x.reduce((a, b) => a * b, 1);
    const rand = seeded(n);
    const dy = randArray(rand, c.x[0]! * c.size[0] * c.size[1] * c.x[3]!);
    const sources = await stockSources(backend, c.x, c.size, c.ac, c.hp);
    const [got] = take(upsampleGrad(c.x, c.size, dy, c.ac, c.hp));
    expectClose(got!, adjointReference(sources, n, dy), 1e-6);
  });

  it('does not leak tensors', async () => {
    await useBackend(backend);
    const dy = Float32Array.from({ length: 2 * 6 * 6 * 2 }, (_, i) => i % 7);
    expectNoLeaks(() => tf.dispose(upsampleGrad([2, 3, 3, 2], [6, 6], dy)));
  });
});
