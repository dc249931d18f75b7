import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  describeRuntime,
  deviceOf,
  explainWasmAbort,
  initRuntime,
  moduleLoader,
  nvidiaGpuModel,
  validateRuntimeOptions,
  WasmHeapExhaustedError,
} from '../src/backend';

describe('initRuntime', () => {
  const saved = { ...moduleLoader };
  const env = { ...process.env };
  afterEach(() => {
    Object.assign(moduleLoader, saved);
    process.env = { ...env };
  });

  it('falls back past absent tfjs-node packages and reports why', async () => {
    const required: string[] = [];
    moduleLoader.tfjsNodeBindingMissing = () => 'not installed';
    moduleLoader.require = <T>(id: string) => {
      required.push(id);
      if (id === '@artist-ts/native-kernels')
        return { error: "Cannot find module '@artist-ts/native-kernels'" };
      return saved.require<T>(id);
    };
    const info = await initRuntime({ backend: 'auto' });
    // Without the kernels package, stock wasm cannot train: auto must land on cpu.
    expect(info.backend).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(info.skipped.map((s) => s.backend)).toEqual([
      '@tensorflow/tfjs-node-gpu',
      '@tensorflow/tfjs-node',
      'wasm',
    ]);
    expect(info.skipped[2].reason).toMatch(/cannot train/);
    expect(required).not.toContain('@tensorflow/tfjs-node-gpu');
    expect(info.nativeKernels).toBe(false);
    expect(info.gpu).toBe(false);
    expect(info.device).toBe(os.cpus()[0]?.model.trim());
    expect(describeRuntime(info)).toMatch(/^backend=cpu device=cpu \(.+\) native=no/);
  });

  it('chooses wasm when the kernel package makes it trainable', async () => {
    moduleLoader.tfjsNodeBindingMissing = () => 'not installed';
    moduleLoader.require = <T>(id: string) => {
      if (id === '@artist-ts/native-kernels') {
        const mod = {
          installKernels: (_tf: unknown, backend: string) => ({
            backend,
            native: false,
            reason: 'no BLAS',
            kernels: ['UnsortedSegmentSum'],
            canTrain: true,
          }),
        };
        return { mod: mod as T };
      }
      return saved.require<T>(id);
    };
    const info = await initRuntime();
    expect(info.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(info.kernels).toEqual(['UnsortedSegmentSum']);
    expect(info.nativeReason).toBe('no BLAS');
    await initRuntime({ backend: 'cpu' });
  });

  it('ARTIST_BACKEND overrides the request, and bad values name the field', async () => {
    process.env.ARTIST_BACKEND = 'cpu';
    expect(validateRuntimeOptions({ backend: 'wasm' }).backend).toBe('cpu');
    process.env.ARTIST_BACKEND = 'gpu';
    expect(() => validateRuntimeOptions()).toThrow(
      "runtime option 'ARTIST_BACKEND' is 'gpu'; allowed: auto, tensorflow, wasm, cpu",
    );
    delete process.env.ARTIST_BACKEND;
    expect(() => validateRuntimeOptions({ threads: 0 })).toThrow(/'threads'/);
    process.env.ARTIST_DISABLE_NATIVE = '1';
    expect(validateRuntimeOptions({ native: true }).native).toBe(false);
  });

  it('an explicit tensorflow request fails with the reasons when tfjs-node is absent', async () => {
    moduleLoader.tfjsNodeBindingMissing = () => 'installed without its native binding';
    await expect(initRuntime({ backend: 'tensorflow' })).rejects.toThrow(
      /tfjs-node-gpu: installed without its native binding/,
    );
    await initRuntime({ backend: 'cpu' });
  });

  it('tfjs-node packages absent here (optional peers) are skipped without side effects', async () => {
    const info = await initRuntime({ backend: 'auto' });
    expect(info.skipped[0].backend).toBe('@tensorflow/tfjs-node-gpu');
    expect(tf.findBackend('tensorflow')).toBeNull();
    await initRuntime({ backend: 'cpu' });
  });
});

describe('deviceOf', () => {
  const cpu = os.cpus()[0]?.model.trim();

  it('tfjs-node: a GPU only when TensorFlow placed ops on one, named by the driver', () => {
    expect(deviceOf('tensorflow', { isUsingGpuDevice: true }, () => 'NVIDIA H200')).toEqual({
      gpu: true,
      device: 'NVIDIA H200',
    });
    expect(deviceOf('tensorflow', { isUsingGpuDevice: true }, () => undefined)).toEqual({
      gpu: true,
    });
    // tfjs-node-gpu on a machine without a usable GPU runs on the CPU
    expect(deviceOf('tensorflow', { isUsingGpuDevice: false }, () => 'NVIDIA H200')).toEqual({
      gpu: false,
      device: cpu,
    });
  });

  it('webgl names its unmasked renderer, webgpu its adapter', () => {
    const UNMASKED = 0x9246;
    const gl = {
      getExtension: (n: string) =>
        n === 'WEBGL_debug_renderer_info' ? { UNMASKED_RENDERER_WEBGL: UNMASKED } : null,
      getParameter: (p: number) => (p === UNMASKED ? 'ANGLE (NVIDIA RTX 4090)' : 'WebKit WebGL'),
    };
    expect(deviceOf('webgl', { gpgpu: { gl } })).toEqual({
      gpu: true,
      device: 'ANGLE (NVIDIA RTX 4090)',
    });
    expect(deviceOf('webgl', { gpgpu: { gl: { ...gl, getExtension: () => null } } })).toEqual({
      gpu: true,
      device: 'WebKit WebGL',
    });
    expect(deviceOf('webgpu', { adapterInfo: { vendor: 'apple', architecture: 'm2' } })).toEqual({
      gpu: true,
      device: 'apple m2',
    });
    expect(deviceOf('webgpu', {})).toEqual({ gpu: true });
  });

  it("reads the GPU model from the NVIDIA driver's /proc files", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'artist-nvidia-'));
    expect(nvidiaGpuModel(path.join(root, 'absent'))).toBeUndefined();
    for (const [bus, model] of [
      ['0000:1b:00.0', 'NVIDIA H200'],
      ['0000:3c:00.0', 'NVIDIA A100-SXM4-80GB'],
    ]) {
      fs.mkdirSync(path.join(root, bus));
      fs.writeFileSync(
        path.join(root, bus, 'information'),
        `Model: \t\t ${model}\nIRQ:   \t\t 35\nGPU UUID: \t GPU-0\n`,
      );
    }
    expect(nvidiaGpuModel(root)).toBe('NVIDIA H200');
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('cpu and wasm run on the CPU', () => {
    expect(deviceOf('wasm', {})).toEqual({ gpu: false, device: cpu });
    expect(deviceOf('cpu', undefined)).toEqual({ gpu: false, device: cpu });
  });
});

describe('explainWasmAbort', () => {
  const abort = () =>
    Object.assign(new Error('Aborted(). Build with -sASSERTIONS for more info.'), {
      name: 'RuntimeError',
    });

  it("turns the wasm backend's abort into an error naming the step, the heap and the fix", () => {
    const err = abort();
    const held = tf.tensor1d(new Float32Array(1024)); // 4 KiB held
    const out = explainWasmAbort(err, 'step X', 'Use less.', 'wasm') as WasmHeapExhaustedError;
    expect(out).toBeInstanceOf(WasmHeapExhaustedError);
    expect(out.heldBytes).toBe(tf.memory().numBytes);
    expect(out.message).toBe(
      'step X: the wasm backend aborted, most likely because its heap cannot grow past 4.00 GiB ' +
        '(0.00 GiB of tensors still allocated when the error got here); the backend cannot run ' +
        'again in this process. Use less.',
    );
    expect(out.cause).toBe(err);
    held.dispose();
  });

  it('an out-of-bounds access counts only while tensors fill half the heap', () => {
    const oob = Object.assign(new Error('memory access out of bounds'), { name: 'RuntimeError' });
    expect(explainWasmAbort(oob, 'x', 'y', 'wasm')).toBe(oob); // a few KiB held: a bug, not memory
    const held = 3 * 2 ** 30;
    const out = explainWasmAbort(oob, 'step', 'Use less.', 'wasm', held) as WasmHeapExhaustedError;
    expect(out).toBeInstanceOf(WasmHeapExhaustedError);
    expect(out.heldBytes).toBe(held);
    expect(out.message).toMatch(/^step: the wasm backend aborted, .* \(3\.00 GiB of tensors still/);
  });

  it('leaves other errors and other backends alone', () => {
    const err = abort();
    expect(explainWasmAbort(err, 'x', 'y', 'cpu')).toBe(err);
    const other = new Error('shape mismatch');
    expect(explainWasmAbort(other, 'x', 'y', 'wasm')).toBe(other);
    expect(explainWasmAbort('Aborted()', 'x', 'y', 'wasm')).toBe('Aborted()');
  });
});
