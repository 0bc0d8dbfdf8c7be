/** What every decoder here returns: never throws, a malformation is an `ok: false`. */
export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

export const ok = <T>(value: T): Decoded<T> => ({ ok: true, value });
export const fail = <T>(error: string): Decoded<T> => ({ ok: false, error });
