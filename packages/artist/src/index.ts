/**
 * @artist-ts/artist: text -> images in one call (Generator), the staged training pipeline and its
 * run folders, and the pieces the artist-train / artist-generate bins are made of.
 */
export { describeRuntime, initRuntime, type RuntimeInfo } from '@artist-ts/runtime';
export * from './ablation';
export * from './app';
export { ENVIRONMENT_VARIABLES, PACKAGE_VERSION } from './cli_shared';
export * from './config';
export * from './config_tree';
export * from './generator';
export * from './outputs';
export * from './pipeline';
export * from './progress';
export * from './report';
export * from './report_html';
export * from './run_folder';
export * from './run_layout';
