export * from './config_tree';
export * from './pipeline';
export * from './progress';
export * from './report_html';
export * from './run_folder';
