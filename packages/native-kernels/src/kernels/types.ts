import type { NativeAddon } from '../addon';
import type { Host, TensorInfo, Tf } from '../host';

/** What a kernel implementation receives on each call. */
export interface KernelCall {
  inputs: Record<string, TensorInfo>;
  attrs: Record<string, unknown>;
  host: Host;
  tf: Tf;
  native: NativeAddon | null;
  /** The backend instance, for calling other registered kernels. */
  backend: unknown;
}

/**
 * One kernel implementation. `run` returns null for a case it does not handle (dtype, layout,
 * an empty tensor); the installer then calls the stock kernel, or throws when there is none.
 */
export interface KernelImpl {
  kernelName: string;
  /** Short label for reports: 'native' (needs the addon) or 'js'. */
  kind: 'native' | 'js';
  /**
   * On cpu, inputs whose storage does not match their dtype (a float32 tensor over the Int32Array
   * or Uint8Array of a cast) go to the stock kernel. Kernels that fix a stock defect set this to
   * get a float32/int32 copy of such inputs instead, so the defect cannot come back through a cast.
   */
  coerceStorage?: boolean;
  run(call: KernelCall): TensorInfo | TensorInfo[] | null;
}
