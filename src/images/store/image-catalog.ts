import type { ImageSummary, Manifest, PublishedPointer } from './image-store.js';

/**
 * Where the published pointer and the version list of every image live when several boot
 * servers share them (the state database); without one, each store keeps its own in files.
 * Each server's store directory then holds copies of the versions it has, fetched by content
 * hash from a peer when it lacks one, and records here which copies it has.
 */
export interface ImageCatalog {
  /** NAME's published pointer; null when nothing is published. */
  pointer(name: string): Promise<PublishedPointer | null>;
  manifest(name: string, version: string): Promise<Manifest | undefined>;
  /** Every image with its versions (oldest first) and pointer. */
  summaries(): Promise<ImageSummary[]>;
  /** Lists a stored version (a no-op when listed already: a version never changes). */
  addVersion(manifest: Manifest): Promise<void>;
  /** Makes a listed version the published one, the current one first in `previous`. */
  publish(name: string, version: string, at: Date): Promise<PublishedPointer>;
  /** Publishes previous[0] again, refusing when it is no longer listed. */
  rollback(name: string, at: Date): Promise<PublishedPointer>;
  /** Takes a version off the list (refused for the published one), and out of `previous`. */
  removeVersion(name: string, version: string): Promise<void>;
  /** Records that this server holds a copy of the version, or why it could not get one. */
  recordCopy(name: string, version: string, outcome: CopyOutcome): Promise<void>;
}

export type CopyOutcome = { ok: true } | { ok: false; error: string };

/** A live peer a missing version may be fetched from. */
export interface ObjectSource {
  /** Its boot URL, for messages. */
  readonly name: string;
  /** The bytes of the object with this SHA-256; undefined when the peer has none. Not trusted: the store verifies. */
  fetch(sha256: string): Promise<AsyncIterable<Uint8Array> | undefined>;
}
