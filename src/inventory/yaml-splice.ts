import { isCollection, isMap, isPair, isScalar, isSeq, parseDocument, Scalar, stringify, type Document, type Node } from 'yaml';

/**
 * Structural edits applied as text splices at the positions the parser reports, so every byte
 * outside the edited lines stays as written. yaml's Document.toString() keeps comments but
 * re-renders everything else (comment alignment, `[a, b]` spacing, quoting), which would turn a
 * one-node edit into a diff of the whole file.
 */
export type YamlPath = readonly (string | number)[];
export type YamlOp =
  | { op: 'set'; path: YamlPath; value: unknown }
  | { op: 'delete'; path: YamlPath }
  | { op: 'append'; path: YamlPath; value: unknown }
  | { op: 'removeItem'; path: YamlPath; index: number };

/** Thrown for shapes the splicer does not handle (flow maps, odd layouts); the op then goes through the Document API. */
class Unsupported extends Error {}

/**
 * Every value is written as a flow scalar (plain or quoted), never as a block scalar (`|-`,
 * `>`). A block scalar's lines are indented relative to the document, not to the line it is
 * spliced into, so a string such as "\n    profile: rescue" came out as lines the parser read as
 * keys of the enclosing mapping: a value turned into config. Double-quoted strings are written
 * the JSON way (every line break an escape, never a folded line), so a value stays on its own
 * line whatever it holds.
 */
const STRINGIFY = { lineWidth: 0, blockQuote: false, doubleQuotedAsJSON: true } as const;

// Line breaks in YAML 1.2 and 1.1 (NEL, LS, PS), other controls and DEL: a string holding any
// of them is written double-quoted, where they are escapes, even if the old value was single-quoted.
const NEEDS_ESCAPES = /[\x00-\x1f\x7f-\x9f\u2028\u2029]/;

export function applyYamlOps(text: string, ops: readonly YamlOp[]): string {
  for (const op of ops) {
    const doc = parseDocument(text, { keepSourceTokens: false });
    if (doc.errors.length) throw new Error(`cannot edit invalid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
    try {
      text = new Splicer(text, doc).apply(op);
    } catch (e) {
      if (!(e instanceof Unsupported)) throw e;
      text = viaDocument(doc, op);
    }
  }
  return text;
}

function viaDocument(doc: Document, op: YamlOp): string {
  switch (op.op) {
    case 'set':
      doc.setIn(op.path, op.value);
      break;
    case 'delete':
      doc.deleteIn(op.path);
      break;
    case 'append': {
      const seq = doc.getIn(op.path, true);
      if (seq === undefined || (isScalar(seq) && seq.value === null)) doc.setIn(op.path, [op.value]);
      else doc.addIn(op.path, op.value);
      break;
    }
    case 'removeItem':
      doc.deleteIn([...op.path, op.index]);
      break;
  }
  return doc.toString({ lineWidth: 0 });
}

const isNullish = (n: unknown): boolean => n === undefined || n === null || (isScalar(n) && n.value === null);

class Splicer {
  constructor(readonly text: string, readonly doc: Document) {}

  apply(op: YamlOp): string {
    switch (op.op) {
      case 'set':
        return this.set(op.path, op.value);
      case 'delete':
        return this.delete(op.path);
      case 'append':
        return this.append(op.path, op.value);
      case 'removeItem':
        return this.removeItem(op.path, op.index);
    }
  }

  node(path: YamlPath): unknown {
    return path.length ? this.doc.getIn(path, true) : this.doc.contents;
  }

  splice(start: number, end: number, insert: string): string {
    return this.text.slice(0, start) + insert + this.text.slice(end);
  }

  lineStart(pos: number): number {
    return this.text.lastIndexOf('\n', pos - 1) + 1;
  }

  lineEnd(pos: number): number {
    const i = this.text.indexOf('\n', pos);
    return i < 0 ? this.text.length : i;
  }

  column(pos: number): number {
    return pos - this.lineStart(pos);
  }

  /** Where a node's own text ends: block collections' ranges run on into the next line, so take their last item's. */
  contentEnd(node: Node): number {
    if (isCollection(node) && !node.flow && node.items.length) {
      const last = node.items[node.items.length - 1];
      const n = isPair(last) ? ((last.value ?? last.key) as Node) : (last as Node);
      return this.contentEnd(n);
    }
    let e = node.range?.[1];
    if (e === undefined) throw new Unsupported();
    while (e > 0 && /\s/.test(this.text[e - 1]!)) e--;
    return e;
  }

  /** End of the line holding the last character of a pair (so its trailing comment goes with it). */
  pairLineEnd(pair: { key: unknown; value: unknown }): number {
    const key = pair.key as Node;
    const ends = [this.contentEnd(key)];
    if (pair.value && (pair.value as Node).range) ends.push(this.contentEnd(pair.value as Node));
    return this.lineEnd(Math.max(...ends));
  }

  /** A value rendered by yaml for a block at `col`: first line unindented, later lines indented. */
  render(value: unknown, col: number): string {
    const s = stringify(value, STRINGIFY).replace(/\n$/, '');
    return s.split('\n').join('\n' + ' '.repeat(col));
  }

  blockMap(path: YamlPath) {
    const m = this.node(path);
    if (!isMap(m) || m.flow) throw new Unsupported();
    return m;
  }

  set(path: YamlPath, value: unknown): string {
    const key = path[path.length - 1];
    const parentPath = path.slice(0, -1);
    if (typeof key !== 'string') throw new Unsupported();
    const parent = this.node(parentPath);
    if (isNullish(parent)) {
      if (parentPath.length === 0) {
        const sep = this.text === '' || this.text.endsWith('\n') ? '' : '\n';
        return this.text + sep + stringify({ [key]: value }, STRINGIFY);
      }
      return this.set(parentPath, { [key]: value });
    }
    const map = this.blockMap(parentPath);
    const pair = map.items.find((p) => isScalar(p.key) && p.key.value === key);
    if (!pair) {
      const first = map.items[0];
      const last = map.items[map.items.length - 1];
      if (!first || !last || !isScalar(first.key) || !first.key.range) throw new Unsupported();
      const col = this.column(first.key.range[0]);
      const at = this.pairLineEnd(last);
      return this.splice(at, at, '\n' + ' '.repeat(col) + this.render({ [key]: value }, col));
    }
    const old = pair.value;
    const newIsScalar = value === null || ['string', 'number', 'boolean'].includes(typeof value);
    if (newIsScalar && isScalar(old) && old.range && old.range[1] > old.range[0] && old.type !== 'BLOCK_LITERAL' && old.type !== 'BLOCK_FOLDED') {
      // Only the value's characters change: its trailing comment and alignment stay.
      const s = new Scalar(value);
      if (old.type === 'QUOTE_SINGLE' || old.type === 'QUOTE_DOUBLE') s.type = old.type;
      if (typeof value === 'string' && NEEDS_ESCAPES.test(value)) s.type = 'QUOTE_DOUBLE';
      return this.splice(old.range[0], old.range[1], stringify(s, STRINGIFY).replace(/\n$/, ''));
    }
    const keyNode = pair.key as Node;
    if (!keyNode.range) throw new Unsupported();
    const start = keyNode.range[0];
    return this.splice(start, this.pairLineEnd(pair), this.render({ [key]: value }, this.column(start)));
  }

  delete(path: YamlPath): string {
    const key = path[path.length - 1];
    const parent = this.node(path.slice(0, -1));
    if (isNullish(parent)) return this.text;
    const map = this.blockMap(path.slice(0, -1));
    const i = map.items.findIndex((p) => isScalar(p.key) && p.key.value === key);
    if (i < 0) return this.text;
    const pair = map.items[i]!;
    const start = (pair.key as Node).range?.[0];
    if (start === undefined) throw new Unsupported();
    if (this.text.slice(this.lineStart(start), start).trim() === '') {
      return this.splice(this.lineStart(start), Math.min(this.pairLineEnd(pair) + 1, this.text.length), '');
    }
    // First key of a "- key: v" item: the next key moves up behind the dash.
    const next = map.items[i + 1];
    const nextStart = (next?.key as Node | undefined)?.range?.[0];
    if (nextStart === undefined) throw new Unsupported();
    return this.splice(start, nextStart, '');
  }

  dashOf(item: Node): number {
    let p = (item.range?.[0] ?? 0) - 1;
    while (p >= 0 && /\s/.test(this.text[p]!)) p--;
    if (this.text[p] !== '-' || this.text.slice(this.lineStart(p), p).trim() !== '') throw new Unsupported();
    return p;
  }

  append(path: YamlPath, value: unknown): string {
    const seq = this.node(path);
    if (isNullish(seq)) return this.set(path, [value]);
    if (!isSeq(seq)) throw new Error(`${path.join('.')} is not a list`);
    if (seq.flow || !seq.items.length) return this.set(path, [...(seq.toJSON() as unknown[]), value]);
    const dash = this.dashOf(seq.items[0] as Node);
    const col = this.column(dash);
    const at = this.lineEnd(this.contentEnd(seq.items[seq.items.length - 1] as Node));
    return this.splice(at, at, '\n' + ' '.repeat(col) + this.render([value], col));
  }

  removeItem(path: YamlPath, index: number): string {
    const seq = this.node(path);
    if (!isSeq(seq)) throw new Error(`${path.join('.')} is not a list`);
    const item = seq.items[index] as Node | undefined;
    if (!item) throw new Error(`${path.join('.')}[${index}] does not exist`);
    if (seq.flow) return this.set(path, (seq.toJSON() as unknown[]).filter((_, i) => i !== index));
    const start = this.lineStart(this.dashOf(item));
    return this.splice(start, Math.min(this.lineEnd(this.contentEnd(item)) + 1, this.text.length), '');
  }
}
