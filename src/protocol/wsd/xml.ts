import { SaxesParser, type SaxesTagNS } from 'saxes';
import { WireError } from '../../errors.js';

/**
 * A small namespace-aware element tree over the saxes parser, for the few SOAP messages of WS-Discovery. Input is
 * bounded in bytes, depth and element count; a DOCTYPE is refused (so no entity can be declared), as SOAP 1.2
 * forbids one (SOAP 1.2 part 1, 5).
 */

export interface XmlElement {
  uri: string;
  local: string;
  /** Attributes by local name (namespace-qualified attributes are not needed here). */
  attributes: ReadonlyMap<string, string>;
  children: XmlElement[];
  /** The element's own character data, concatenated. */
  text: string;
  /** Namespace bindings in scope at this element (prefix -> URI; '' is the default namespace). */
  scope: ReadonlyMap<string, string>;
}

export interface XmlLimits {
  maxBytes: number;
  maxDepth: number;
  maxElements: number;
}

export const DEFAULT_XML_LIMITS: XmlLimits = { maxBytes: 32 * 1024, maxDepth: 24, maxElements: 512 };

export function parseXml(input: Buffer, limits: XmlLimits = DEFAULT_XML_LIMITS): XmlElement {
  if (input.length > limits.maxBytes) throw new WireError(`XML message larger than ${limits.maxBytes} bytes`);
  const parser = new SaxesParser({ xmlns: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let count = 0;
  parser.on('doctype', () => {
    throw new WireError('XML DOCTYPE not allowed');
  });
  parser.on('opentag', (tag: SaxesTagNS) => {
    if (++count > limits.maxElements) throw new WireError('too many XML elements');
    if (stack.length >= limits.maxDepth) throw new WireError('XML nested too deeply');
    if (root !== undefined && stack.length === 0) throw new WireError('more than one XML root element');
    const parent = stack[stack.length - 1];
    const declared = Object.entries(tag.ns);
    const scope = declared.length === 0 && parent ? parent.scope : new Map([...(parent?.scope ?? []), ...declared]);
    const attributes = new Map<string, string>();
    for (const a of Object.values(tag.attributes)) if (a.prefix === '' || a.uri === '') attributes.set(a.local, a.value);
    const el: XmlElement = { uri: tag.uri, local: tag.local, attributes, children: [], text: '', scope };
    if (parent) parent.children.push(el);
    else root = el;
    stack.push(el);
  });
  const onText = (t: string): void => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.on('closetag', () => {
    stack.pop();
  });
  try {
    parser.write(input.toString('utf8')).close();
  } catch (err) {
    if (err instanceof WireError) throw err;
    throw new WireError(`malformed XML: ${(err as Error).message}`);
  }
  if (!root) throw new WireError('no XML root element');
  return root;
}

/** The first child with this namespace and local name. */
export function child(el: XmlElement | undefined, uri: string, local: string): XmlElement | undefined {
  return el?.children.find((c) => c.uri === uri && c.local === local);
}

/** Follows a path of (uri, local) steps from `el`. */
export function descend(el: XmlElement | undefined, ...path: readonly (readonly [string, string])[]): XmlElement | undefined {
  let cur = el;
  for (const [uri, local] of path) cur = child(cur, uri, local);
  return cur;
}

export interface QName {
  uri: string;
  local: string;
}

/** A whitespace-separated list of QNames in an element's text, resolved against its namespace scope. */
export function qnameList(el: XmlElement): QName[] {
  return el.text
    .split(/\s+/)
    .filter((s) => s.length > 0)
    .map((s) => {
      const i = s.indexOf(':');
      const prefix = i < 0 ? '' : s.slice(0, i);
      const uri = el.scope.get(prefix);
      if (uri === undefined) throw new WireError(`unbound namespace prefix in QName ${s}`);
      return { uri, local: i < 0 ? s : s.slice(i + 1) };
    });
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Escapes text for element content or a double-quoted attribute. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}
