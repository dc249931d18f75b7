import { loadCheckpoint } from '@artist-ts/runtime';
import * as tf from '@tensorflow/tfjs';

/** Every weight of two checkpoints, bit for bit (same names, same bytes). */
export async function expectSameWeights(a: string, b: string): Promise<void> {
  const [x, y] = [await loadCheckpoint(a), await loadCheckpoint(b)];
  try {
    expect(Object.keys(y.weights).sort()).toEqual(Object.keys(x.weights).sort());
    for (const [name, t] of Object.entries(x.weights)) {
      expect([name, y.weights[name].shape]).toEqual([name, t.shape]);
      const bx = Buffer.from((t.dataSync() as Float32Array).buffer);
      const by = Buffer.from((y.weights[name].dataSync() as Float32Array).buffer);
      expect([name, bx.equals(by)]).toEqual([name, true]);
    }
  } finally {
    tf.dispose([...Object.values(x.weights), ...Object.values(y.weights)]);
  }
}

/** Whether any weight of two checkpoints (same names and shapes) differs. */
export async function weightsDiffer(a: string, b: string): Promise<boolean> {
  const [x, y] = [await loadCheckpoint(a), await loadCheckpoint(b)];
  try {
    return Object.entries(x.weights).some(([name, t]) => {
      const u = y.weights[name];
      return !Buffer.from(t.dataSync().buffer).equals(Buffer.from(u.dataSync().buffer));
    });
  } finally {
    tf.dispose([...Object.values(x.weights), ...Object.values(y.weights)]);
  }
}
