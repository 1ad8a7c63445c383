import { AppError } from '../../core/errors';

/**
 * A request body over the configured size limit. Its code is INVALID_INPUT like any refused input; the
 * HTTP layer answers it with 413 Payload Too Large.
 */
export class BodyTooLargeError extends AppError {
  constructor(
    readonly limitBytes: number,
    what: string,
  ) {
    super('INVALID_INPUT', `${what} exceeds the upload limit of ${describeBytes(limitBytes)}`);
    this.name = 'BodyTooLargeError';
  }
}

export function isBodyTooLarge(error: unknown): error is BodyTooLargeError {
  return error instanceof BodyTooLargeError;
}

function describeBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MB`;
  return `${bytes} bytes`;
}

/**
 * Refuses a declared Content-Length over `maxBytes` before any of the body is read. A missing header
 * (chunked upload) passes: limitBody counts what arrives. A header that is not a non-negative integer is
 * INVALID_INPUT.
 */
export function checkContentLength(header: string | null, maxBytes: number): void {
  if (header === null) return;
  if (!/^\d+$/.test(header.trim())) {
    throw new AppError('INVALID_INPUT', `Content-Length "${header}" is not a byte count`);
  }
  const declared = Number(header.trim());
  if (declared > maxBytes) throw new BodyTooLargeError(maxBytes, `the request body (${declared} bytes)`);
}

/**
 * The body as a stream that fails with BodyTooLargeError as soon as more than `maxBytes` have arrived, so
 * a large body is never held whole. A size error from the server underneath (adapter-node's
 * BODY_SIZE_LIMIT, a body longer than its Content-Length: status 413) becomes the same error. The source
 * is not cancelled on refusal: the server then drains it and can still send the 413 answer.
 */
export function limitBody(body: ReadableStream<Uint8Array>, maxBytes: number): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let received = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        if ((error as { status?: unknown } | null)?.status === 413) {
          controller.error(new BodyTooLargeError(maxBytes, 'the request body'));
          return;
        }
        throw error;
      }
      if (chunk.done) {
        controller.close();
        return;
      }
      received += chunk.value.byteLength;
      if (received > maxBytes) {
        reader.releaseLock();
        controller.error(new BodyTooLargeError(maxBytes, `the request body (${received} bytes so far)`));
        return;
      }
      controller.enqueue(chunk.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}
