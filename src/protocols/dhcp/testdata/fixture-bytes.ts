/** Spreadable pieces for byte-array fixtures, so each line can hold one commented field. */
export const zeros = (n: number): number[] => new Array<number>(n).fill(0);
export const ascii = (s: string): number[] => [...Buffer.from(s, 'latin1')];
/** An option: code, length, value. */
export const opt = (code: number, value: number[]): number[] => [code, value.length, ...value];
/** Pads with zeros to the 300-byte BOOTP minimum that firmware also uses. */
export const padTo = (bytes: number[], n: number): Uint8Array =>
  Uint8Array.from(bytes.length >= n ? bytes : [...bytes, ...zeros(n - bytes.length)]);
