// Lab failures: a message that names what failed and where to look (log file, command to run).

export class LabError extends Error {
  readonly code = 'WEFT_LAB';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LabError';
  }
}
