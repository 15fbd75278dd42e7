/** The edgecnn library API. */
export * from './ir/index.js';
