import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from '../http/read-body.js';
import { DisklessError, type DisklessErrorCode } from '../errors/diskless-error.js';

/**
 * A refusal by the API itself (access, method, body, query), answered with its own status as
 * {error, hint}. It is not a DisklessError: it is already an HTTP answer, and its status says
 * what kind it is. Errors from the rooms behind the API are DisklessErrors, answered by code.
 */
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

/** The JSON body of every API error; `code` when a DisklessError caused it. */
export interface ErrorBody {
  error: string;
  code?: DisklessErrorCode;
  hint: string;
}

/**
 * The HTTP status and hint for each Diskless error code: the one table the API answers the
 * refusals of the rooms behind it with. A client's mistake is 4xx and says what was wrong; a
 * failure of this server is 5xx. Codes only the CLI raises still get a status, so that a new
 * code must be given one here.
 */
const ANSWER_BY_CODE: Readonly<Record<DisklessErrorCode, { status: number; hint: string }>> = {
  DL_USAGE: { status: 400, hint: 'Fix the request and send it again' },
  DL_INVALID: { status: 400, hint: 'Fix the request and send it again' },
  DL_CONFIG: { status: 400, hint: 'Fix the request and send it again' },
  DL_INVENTORY: { status: 400, hint: 'Fix the request and send it again' },
  DL_INVENTORY_NOT_FOUND: { status: 404, hint: 'GET /api/v1/nodes lists the nodes, /api/v1/profiles the profiles, /api/v1/discovered the machines not in the inventory' },
  DL_STORE: { status: 400, hint: 'Fix the request and send it again; GET /api/v1/images lists images and versions' },
  DL_STORE_NOT_FOUND: { status: 404, hint: 'GET /api/v1/images lists images and versions' },
  DL_STORE_IN_USE: { status: 409, hint: 'Publish another version, or wait until no node runs it' },
  DL_IMAGE_BUILD: { status: 400, hint: 'Fix the request and send it again' },
  DL_NO_KERNEL: { status: 400, hint: 'Fix the request and send it again' },
  DL_IMAGE_SHELL: { status: 400, hint: 'Fix the request and send it again' },
  DL_TOOL: { status: 500, hint: 'See the server log' },
  DL_SERVICE_START: { status: 500, hint: 'See the server log' },
  DL_CERTIFICATE: { status: 500, hint: 'See the server log' },
  DL_SECRET_PERMISSION: { status: 500, hint: 'See the server log' },
  DL_SECRET: { status: 500, hint: 'See the server log: the secrets key file of this server' },
  DL_STATE: { status: 500, hint: 'See the server log' },
  DL_DATABASE: { status: 503, hint: 'The state database is unreachable or refused; see the server log and try again' },
  DL_SERVER_UNREACHABLE: { status: 502, hint: 'See the server log' },
  DL_SERVER_REFUSED: { status: 502, hint: 'See the server log' },
  DL_ROLLOUT: { status: 409, hint: 'GET /api/v1/rollouts shows the rollout under way and its nodes' },
  DL_ROLLOUT_NOT_FOUND: { status: 404, hint: 'GET /api/v1/rollouts lists the rollouts' },
};

const INTERNAL: ErrorBody = { error: 'Internal error', hint: 'See the server log' };

/**
 * What the API answers for a thrown error: an ApiError as it says; a DisklessError by its code
 * (ANSWER_BY_CODE); anything else is a 500. A 5xx body never carries the message (it may name
 * the server's files); the caller logs it.
 */
export function errorAnswer(e: unknown): { status: number; body: ErrorBody; headers: Record<string, string> } {
  if (e instanceof ApiError) return { status: e.status, body: { error: e.message, hint: e.hint }, headers: e.headers };
  if (e instanceof DisklessError) {
    const { status, hint } = ANSWER_BY_CODE[e.code];
    const body = status < 500 ? { error: e.message, code: e.code, hint } : { error: INTERNAL.error, code: e.code, hint };
    return { status, body, headers: {} };
  }
  return { status: 500, body: INTERNAL, headers: {} };
}

/** Answers a thrown error (see errorAnswer) and returns the status sent. */
export function sendError(res: ServerResponse, e: unknown): number {
  const { status, body, headers } = errorAnswer(e);
  sendJson(res, status, body, headers);
  return status;
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
