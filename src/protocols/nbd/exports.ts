import { bufferReader } from '../../files/sized-reader.js';

/** One disk image as the NBD server sees it: a size and random-access reads. */
export interface NbdExport {
  /** Bytes; fixed for the life of a connection (clients size the block device once). */
  readonly size: number;
  /** Must resolve to exactly `length` bytes; the server only asks for ranges inside `size`. */
  read(offset: number, length: number): Promise<Buffer>;
  /**
   * The same bytes as slices, returned at once when they are already in memory (a cache hit),
   * so the reply goes out in the same turn with no copy; a promise otherwise. Optional: the
   * server uses `read` without it.
   */
  slices?(offset: number, length: number): readonly Buffer[] | Promise<readonly Buffer[]>;
  /** Shown by `nbdinfo` and in NBD_OPT_LIST replies' NBD_INFO_DESCRIPTION. */
  readonly description?: string;
}

/** Which exports exist. Consulted per connection, so exports can change while serving. */
export interface NbdExportProvider {
  /** `name` is "" for the client's default export. Undefined refuses the name. */
  open(name: string): Promise<NbdExport | undefined>;
  /** Names answered to NBD_OPT_LIST (`nbdinfo --list`). */
  list(): Promise<readonly string[]>;
}

/** A provider over a fixed table of exports (tests, or images known at start-up). */
export function staticExports(table: Readonly<Record<string, NbdExport>> | ReadonlyMap<string, NbdExport>): NbdExportProvider {
  const map = table instanceof Map ? table : new Map(Object.entries(table));
  return {
    open: async (name) => map.get(name),
    list: async () => [...map.keys()],
  };
}

/** An export over bytes already in memory. */
export function bufferExport(bytes: Uint8Array, description?: string): NbdExport {
  const reader = bufferReader(bytes);
  return {
    size: reader.size,
    read: (offset, length) => reader.read(offset, length),
    ...(description === undefined ? {} : { description }),
  };
}
