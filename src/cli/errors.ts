/** Errors that end a command with exit code 2 and one line on stderr (never a stack trace). */
export class UsageError extends Error {}
/** Bad input: `file:line: field: message`. */
export class BadInputError extends Error {
  constructor(file: string, line: number | null, field: string, message: string) {
    super(`${file}${line !== null ? `:${line}` : ''}: ${field ? `${field}: ` : ''}${message}`);
  }
}
