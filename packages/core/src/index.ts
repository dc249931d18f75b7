/**
 * @artist-ts/core: what every package shares without loading tfjs: atomic files, the seeded RNG,
 * trainer state and checkpoint folders, the weight matcher, learning-rate schedules and the
 * training-loop options.
 */
export * from './checkpoint_files';
export * from './files';
export * from './lr_schedule';
export { RNG_ALGORITHM, Rng, type RngState } from './rng';
export * from './train_loop';
export * from './trainer_state';
export * from './weight_match';
