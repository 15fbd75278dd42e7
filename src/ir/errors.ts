/**
 * Errors meant for users: they name what is wrong and where. The CLI prints `message` alone (no stack)
 * unless --verbose, and exits non-zero.
 */
export class EdgecnnError extends Error {
  constructor(
    message: string,
    readonly code: ErrorCode,
  ) {
    super(message);
    this.name = 'EdgecnnError';
  }
}

export const ERROR_CODES = [
  'bad-model', // corrupt/truncated protobuf, invalid graph
  'unsupported-operator',
  'bad-input', // wrong shape/dtype/missing input, unreadable input file
  'missing-file',
  'bad-argument', // CLI usage
  'numerical', // NaN/Inf where not allowed, disagreement beyond tolerance
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];
