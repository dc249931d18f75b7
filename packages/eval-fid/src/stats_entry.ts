/**
 * `@artist-ts/eval-fid/stats`: statistics, Frechet distance, KID, `.npy`/`.npz` and the protocol
 * fingerprint, without loading tfjs (for CLIs that only compare saved statistics).
 */
export * from './frechet';
export * from './kid';
export * from './linalg';
export * from './npy';
export * from './protocol';
export * from './stats';
