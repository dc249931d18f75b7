export * from './generator';
export * from './outputs';
