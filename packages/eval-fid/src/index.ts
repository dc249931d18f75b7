/**
 * @artist-ts/eval-fid: FID and KID compatible with pytorch-fid, in float64 TypeScript, with
 * pluggable InceptionV3 feature extractors on tfjs. The tfjs-free part (statistics, Frechet
 * distance, KID, .npz) is also available as `@artist-ts/eval-fid/stats`.
 */
export * from './extractor';
export * from './fid_inception';
export * from './images';
export * from './nsfwjs_inception';
export * from './pipeline';
export * from './stats_entry';
