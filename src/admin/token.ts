// The bearer token of c10k's HTTP endpoints (--status, --metrics, inspect --web), apart from the
// endpoint code so that commands which only name it (help texts, inspect without --web) need not load
// node:http.
export const TOKEN_ENV = 'C10K_TOKEN';

/** The token from --token, else $C10K_TOKEN; undefined when neither is set (or empty). */
export function resolveToken(flag: string | undefined, env = process.env): string | undefined {
  const t = flag ?? env[TOKEN_ENV];
  return t ? t : undefined;
}
