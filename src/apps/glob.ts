// Glob patterns as Redis matches them (util.c stringmatchlen: `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\x`),
// in time linear in the pattern plus the text's length times the pattern's few tokens: never a RegExp
// built from user input, never backtracking that grows with the pattern. The pattern is compiled once
// into tokens (a run of `*` is one token); a text is then matched greedily, returning only to the last
// `*`, so a match costs O(text x tokens) and the tokens that can take part are bounded by the text.
// Differences from Redis: `*` also matches an empty text (Redis's stringmatch says no; its KEYS treats a
// lone `*` apart).

const STAR = 0x2a;
const QUESTION = 0x3f;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const CARET = 0x5e;
const BACKSLASH = 0x5c;
const DASH = 0x2d;

const lower = (c: number) => (c >= 0x41 && c <= 0x5a ? c + 0x20 : c);

/** One token: `*`, or a set of bytes that match one byte of the text. */
type Token = null | { readonly exact: Uint8Array; readonly folded: Uint8Array | null; readonly not: boolean };
const ANY_RUN: Token = null;

const NONE = new Uint8Array(256);
/** Single-byte tokens, shared: index c, or 256 + c for a case-blind one. */
const LITERALS: Token[] = [];

function literal(c: number, nocase: boolean): Token {
  const at = nocase ? 256 + lower(c) : c;
  let token = LITERALS[at];
  if (token === undefined) {
    const set = new Uint8Array(256);
    set[at & 0xff] = 1;
    LITERALS[at] = token = nocase
      ? { exact: NONE, folded: set, not: false }
      : { exact: set, folded: null, not: false };
  }
  return token;
}

const ANY_ONE: Token = { exact: new Uint8Array(256).fill(1), folded: null, not: false };

export class Glob {
  private readonly tokens: Token[];
  /** Bytes of text the pattern needs at least (its tokens other than `*`). */
  private readonly minLength: number;
  private readonly nocase: boolean;

  /**
   * @param maxText the longest text this glob will be asked about: compiling stops as soon as the
   *   pattern needs more bytes than that (it then matches nothing), so a huge pattern costs only the bytes
   *   read up to there (a run of `*` is still read to its end) and holds at most maxText tokens.
   */
  constructor(pattern: Uint8Array | string, nocase: boolean, maxText: number) {
    const p = typeof pattern === 'string' ? Buffer.from(pattern, 'latin1') : pattern;
    this.nocase = nocase;
    const tokens: Token[] = [];
    let need = 0;
    const n = p.length;
    let i = 0;
    while (i < n) {
      const c = p[i];
      if (c === STAR) {
        while (i < n && p[i] === STAR) i++;
        tokens.push(ANY_RUN);
        continue;
      }
      if (++need > maxText) break;
      if (c === QUESTION) {
        tokens.push(ANY_ONE);
        i++;
      } else if (c === OPEN) i = this.klass(p, i + 1, tokens);
      else if (c === BACKSLASH && i + 1 < n) {
        tokens.push(literal(p[i + 1], nocase));
        i += 2;
      } else {
        tokens.push(literal(c, nocase));
        i++;
      }
    }
    this.tokens = tokens;
    this.minLength = need;
  }

  /** Parse `[...]` from just after the `[`; an unclosed class ends with the pattern, as in Redis. */
  private klass(p: Uint8Array, i: number, tokens: Token[]): number {
    const n = p.length;
    const nocase = this.nocase;
    const exact = new Uint8Array(256);
    const folded = nocase ? new Uint8Array(256) : null;
    const into = folded ?? exact;
    const not = i < n && p[i] === CARET;
    if (not) i++;
    while (i < n) {
      const c = p[i];
      if (c === BACKSLASH && i + 1 < n) {
        exact[p[i + 1]] = 1; // an escaped byte compares exactly, case and all
        i += 2;
      } else if (c === CLOSE) {
        i++;
        break;
      } else if (i + 2 < n && p[i + 1] === DASH) {
        let from = c;
        let to = p[i + 2];
        if (from > to) [from, to] = [to, from];
        if (nocase) {
          from = lower(from);
          to = lower(to);
        }
        into.fill(1, from, to + 1);
        i += 3;
      } else {
        into[nocase ? lower(c) : c] = 1;
        i++;
      }
    }
    tokens.push({ exact, folded, not });
    return i;
  }

  private one(token: Exclude<Token, null>, c: number): boolean {
    const hit = token.exact[c] === 1 || (token.folded !== null && token.folded[lower(c)] === 1);
    return hit !== token.not;
  }

  matches(text: Uint8Array | string): boolean {
    const t = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
    if (t.length < this.minLength) return false;
    const tokens = this.tokens;
    const m = tokens.length;
    const n = t.length;
    let ti = 0;
    let pi = 0;
    let starAt = -1; // the token after the last `*` seen
    let starText = 0; // where the text resumes if we return to that `*`
    while (ti < n) {
      const token = pi < m ? tokens[pi] : undefined;
      if (token === null) {
        starAt = ++pi;
        starText = ti;
      } else if (token !== undefined && this.one(token, t[ti])) {
        pi++;
        ti++;
      } else if (starAt !== -1) {
        pi = starAt;
        ti = ++starText;
      } else return false;
    }
    while (pi < m && tokens[pi] === null) pi++;
    return pi === m;
  }
}

/** Does `text` match the glob `pattern`? (Compiles it each time: keep a Glob to match many texts.) */
export function globMatch(pattern: Uint8Array | string, text: Uint8Array | string, nocase = false): boolean {
  return new Glob(pattern, nocase, text.length).matches(text);
}
