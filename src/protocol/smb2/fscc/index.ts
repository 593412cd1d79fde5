export * from './file-info.js';
export * from './ea.js';
export * from './fs-info.js';
export * from './dir-info.js';
export * from './security.js';
export * from './fsctl.js';
export * from './wildcard.js';
export * from './notify-info.js';
