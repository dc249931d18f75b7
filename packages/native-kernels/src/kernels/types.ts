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
  run(call: KernelCall): TensorInfo | null;
}
