/**
 * File name patterns of QUERY_DIRECTORY (MS-FSA 2.1.4.4, the FsRtlIsNameInExpression rules), matched
 * case-insensitively by upper-casing both sides:
 *   *  zero or more characters          ?  exactly one character
 *   <  DOS_STAR: zero or more characters, but never the name's last '.'
 *   >  DOS_QM: one character other than '.', or nothing at a '.' or at the end of the name
 *   "  DOS_DOT: a '.', or nothing at the end of the name
 * Runs as an NFA over pattern positions: O(pattern x name) time, no backtracking.
 */

const WILDCARDS = /[*?<>"]/;

export function hasWildcards(pattern: string): boolean {
  return WILDCARDS.test(pattern);
}

function upcase(s: string): string[] {
  const out: string[] = [];
  for (const ch of s) {
    const u = ch.toUpperCase();
    // Keep characters whose upper case is longer (ß -> SS) as they are, as a per-character upcase table does.
    out.push([...u].length === 1 ? u : ch);
  }
  return out;
}

export function matchWildcard(pattern: string, name: string): boolean {
  // MS-FSA 2.1.4.4 part 1: empty strings, then the match-all expressions.
  if (name === '') return pattern === '';
  if (pattern === '') return false;
  if (pattern === '*' || pattern === '*.*') return true;

  const p = upcase(pattern);
  const n = upcase(name);
  const m = p.length;
  let lastDot = -1;
  for (let i = n.length - 1; i >= 0; i--) {
    if (n[i] === '.') {
      lastDot = i;
      break;
    }
  }

  let cur = new Uint8Array(m + 1);
  let next = new Uint8Array(m + 1);
  cur[0] = 1;
  for (let k = 0; ; k++) {
    const atEnd = k === n.length;
    const c = atEnd ? '' : n[k]!;
    // Epsilon moves only go forward (i -> i+1), so one ascending pass closes the set.
    for (let i = 0; i < m; i++) {
      if (!cur[i]) continue;
      const e = p[i]!;
      if (e === '*' || e === '<' || (e === '>' && (atEnd || c === '.')) || (e === '"' && atEnd)) cur[i + 1] = 1;
    }
    if (atEnd) return cur[m] === 1;

    next.fill(0);
    let any = false;
    for (let i = 0; i < m; i++) {
      if (!cur[i]) continue;
      const e = p[i]!;
      let to = -1;
      switch (e) {
        case '*':
          to = i;
          break;
        case '<':
          if (c !== '.' || k < lastDot) to = i; // may eat any dot but the last one
          break;
        case '?':
          to = i + 1;
          break;
        case '>':
          if (c !== '.') to = i + 1;
          break;
        case '"':
          if (c === '.') to = i + 1;
          break;
        default:
          if (e === c) to = i + 1;
      }
      if (to >= 0) {
        next[to] = 1;
        any = true;
      }
    }
    if (!any) return false;
    [cur, next] = [next, cur];
  }
}
