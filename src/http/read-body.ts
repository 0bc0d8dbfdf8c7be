import type { IncomingMessage } from 'node:http';

/** The request body as text, or undefined once it passes `limit` bytes (nothing more is kept). */
export async function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  let size = 0;
  const parts: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts).toString('utf8');
}
