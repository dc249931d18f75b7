export * from './config_tree';
export * from './generator';
export * from './outputs';
export * from './pipeline';
export * from './progress';
export * from './report_html';
export * from './run_folder';
