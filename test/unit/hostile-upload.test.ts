import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequest } from '@sveltejs/kit/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorResponse, limitedRequestBody } from '../../src/lib/server/http';
import { BodyTooLargeError, checkContentLength, limitBody } from '../../src/lib/server/io/body-limit';

/*
 * The upload size limit: a Content-Length over the limit is refused before the body is read, a longer
 * body (chunked, or lying about its length) as soon as the limit is passed, and the client gets a 413
 * answer, not a reset connection. The server below reads requests exactly as adapter-node does
 * (getRequest with BODY_SIZE_LIMIT), so its own 413 errors are covered too.
 */

const LIMIT = 64 * 1024;

function streamOf(
  chunks: number,
  size: number,
): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled === chunks) return controller.close();
      pulled++;
      controller.enqueue(new Uint8Array(size));
    },
  });
  return { stream, pulled: () => pulled };
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<number> {
  let total = 0;
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) total += chunk.length;
  return total;
}

let server: http.Server;
let url: string;
const received: number[] = [];

beforeAll(async () => {
  // reads the body as the import route does; `limit` from the query, adapter-node's limit twice as high
  server = http.createServer(async (req, res) => {
    const limit = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('limit') ?? LIMIT);
    let response: Response;
    try {
      const request = await getRequest({ request: req, base: 'http://x', bodySizeLimit: 2 * LIMIT });
      const body = limitedRequestBody(request, limit);
      received.push(body ? await drain(body) : 0);
      response = Response.json({ ok: true });
    } catch (error) {
      response = errorResponse(error);
    }
    res.writeHead(response.status, { 'content-type': 'application/json' });
    res.end(await response.text());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('upload size limit', () => {
  it('refuses a declared Content-Length over the limit before reading, and a bad one', () => {
    expect(() => checkContentLength(String(LIMIT + 1), LIMIT)).toThrowError(BodyTooLargeError);
    expect(() => checkContentLength(String(LIMIT + 1), LIMIT)).toThrowError(
      'the request body (65537 bytes) exceeds the upload limit of 65536 bytes',
    );
    expect(() => checkContentLength(String(LIMIT), LIMIT)).not.toThrow();
    expect(() => checkContentLength(null, LIMIT)).not.toThrow();
    expect(() => checkContentLength('-5', LIMIT)).toThrowError('Content-Length "-5" is not a byte count');
    expect(() => checkContentLength('1e9', LIMIT)).toThrowError(/is not a byte count/);
  });

  it('stops a longer stream as soon as the limit is passed, without reading the rest', async () => {
    const source = streamOf(1000, 1024);
    await expect(drain(limitBody(source.stream, LIMIT))).rejects.toThrowError(BodyTooLargeError);
    expect(source.pulled()).toBeLessThanOrEqual(LIMIT / 1024 + 2);
    expect(await drain(limitBody(streamOf(64, 1024).stream, LIMIT))).toBe(LIMIT);
  });

  it('answers 413 with the JSON error for a body over the limit', async () => {
    expect(errorResponse(new BodyTooLargeError(LIMIT, 'the request body')).status).toBe(413);
    // what adapter-node throws when a route reads a body past BODY_SIZE_LIMIT itself
    const fromServer = Object.assign(new Error('request body size exceeded BODY_SIZE_LIMIT of 10'), {
      status: 413,
    });
    expect(errorResponse(fromServer).status).toBe(413);
    const tooLong = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/zip' },
      body: new Uint8Array(LIMIT + 1),
    });
    expect(tooLong.status).toBe(413);
    expect(await tooLong.json()).toEqual({
      error: {
        code: 'INVALID_INPUT',
        message: 'the request body (65537 bytes) exceeds the upload limit of 65536 bytes',
      },
    });
    const fits = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/zip' },
      body: new Uint8Array(LIMIT),
    });
    expect(fits.status).toBe(200);
    expect(received.at(-1)).toBe(LIMIT);
  });

  it('answers 413 to a chunked body that passes the limit, and to one past the server limit', async () => {
    for (const [limit, chunks] of [
      [LIMIT, 200],
      [8 * LIMIT, 400],
    ]) {
      const before = received.length;
      const response = await fetch(`${url}?limit=${limit}`, {
        method: 'POST',
        headers: { 'content-type': 'application/zip' },
        body: streamOf(chunks, 1024).stream,
        duplex: 'half',
      } as RequestInit);
      expect(response.status).toBe(413);
      expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(
        /^the request body( \(\d+ bytes so far\))? exceeds the upload limit of/,
      );
      expect(received.length).toBe(before);
    }
  });
});
