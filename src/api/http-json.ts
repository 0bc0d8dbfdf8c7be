import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from '../http/read-body.js';

/** An error the API answers with its own status: {error, hint} in JSON. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly hint: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, e: ApiError): void {
  sendJson(res, e.status, { error: e.message, hint: e.hint }, e.headers);
}

/** Reads a JSON object body of at most `limit` bytes; anything else is a 4xx ApiError. */
export async function readJsonObject(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) throw tooLarge(limit);
  const text = await readBody(req, limit);
  if (text === undefined) throw tooLarge(limit);
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError(400, 'Body is not valid JSON', 'Send a JSON object with content-type application/json');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ApiError(400, 'Body is not a JSON object', 'Send a JSON object, e.g. {"hostname": "node1"}');
  return value as Record<string, unknown>;
}

function tooLarge(limit: number): ApiError {
  // The rest of the body is not read: the connection must not be reused for another request.
  return new ApiError(413, `Body too large (limit ${limit} bytes)`, 'Send only the fields being changed', { connection: 'close' });
}
