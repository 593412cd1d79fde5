/**
 * The client commands' targets and credentials: `smb://[domain;]user@host[:port]/share/path` (or a UNC path
 * `\\host\share\path`) split into host, port, share and share-relative path, and the password taken from
 * SMBKIT_PASSWORD, the URL (with a warning) or a no-echo prompt; never from an option on the command line.
 */
import { smbPath } from '../client/share.js';
import { UsageError } from './main.js';

export interface SmbTarget {
  host: string;
  port: number | undefined;
  domain: string | undefined;
  user: string | undefined;
  /** A password written inside the URL (visible in `ps`: the caller warns). */
  password: string | undefined;
  /** The share name ('' when the URL names only a host). */
  share: string;
  /** Share-relative path with backslashes ('' = the share's root). */
  path: string;
  /** The URL's path ended with '/' (the target is meant as a directory). */
  trailingSlash: boolean;
}

function decode(s: string, what: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new UsageError(`bad percent-escape in the ${what}: ${s}`);
  }
}

/**
 * Parses a target. Path characters are taken literally except percent-escapes (so '?' and '#' are part of a
 * file name, not a query or fragment); userinfo may be `user`, `domain;user`, `user:password`.
 */
export function parseTarget(input: string): SmbTarget {
  let rest: string;
  let unc = false;
  if (/^smb:\/\//i.test(input)) rest = input.slice(6);
  else if (input.startsWith('\\\\') || input.startsWith('//')) {
    rest = input.slice(2).replace(/\\/g, '/');
    unc = true;
  } else throw new UsageError(`not an smb:// URL: ${input}`);
  const slash = rest.indexOf('/');
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const pathPart = slash < 0 ? '' : rest.slice(slash);
  const at = authority.lastIndexOf('@');
  const userinfo = at < 0 ? undefined : authority.slice(0, at);
  const hostport = at < 0 ? authority : authority.slice(at + 1);
  if (unc && userinfo !== undefined) throw new UsageError(`a UNC path has no user part: ${input}`);
  let host: string;
  let port: number | undefined;
  const m = /^(\[[^\]]*\]|[^:[\]]*)(?::(\d*))?$/.exec(hostport);
  if (!m) throw new UsageError(`bad host in ${input}`);
  host = m[1]!.replace(/^\[|\]$/g, '');
  if (m[2] !== undefined && m[2] !== '') {
    port = Number(m[2]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`bad port in ${input}`);
  }
  host = decode(host, 'host');
  if (host === '') throw new UsageError(`no host in ${input}`);
  let user: string | undefined;
  let domain: string | undefined;
  let password: string | undefined;
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':');
    let u = colon < 0 ? userinfo : userinfo.slice(0, colon);
    if (colon >= 0) password = decode(userinfo.slice(colon + 1), 'password');
    u = decode(u, 'user name');
    const semi = u.indexOf(';');
    if (semi >= 0) {
      domain = u.slice(0, semi);
      u = u.slice(semi + 1);
    }
    if (u !== '') user = u;
    if (domain === '') domain = undefined;
  }
  const segments = pathPart.split('/').filter((s) => s !== '').map((s) => decode(s, 'path'));
  const share = segments.shift() ?? '';
  for (const s of segments) {
    if (s.includes('\\')) throw new UsageError(`a path segment cannot contain '\\': ${s}`);
  }
  return {
    host,
    port,
    domain,
    user,
    password,
    share,
    path: smbPath(segments.join('/')),
    trailingSlash: pathPart.length > 1 && pathPart.endsWith('/'),
  };
}

/** `\\host\share\path` for messages. */
export function uncOf(t: { host: string; share: string }, path: string): string {
  return `\\\\${t.host}${t.share ? `\\${t.share}` : ''}${path ? `\\${path}` : ''}`;
}

export interface CredentialSources {
  /** --user: `user`, `DOMAIN\user` or `DOMAIN/user`. */
  optUser?: string | undefined;
  /** --domain. */
  optDomain?: string | undefined;
  /** process.env.SMBKIT_PASSWORD. */
  envPassword?: string | undefined;
  /** Asks the terminal without echo; undefined when there is no terminal. */
  prompt?: ((question: string) => Promise<string>) | undefined;
}

export interface Credentials {
  user: string | undefined;
  domain: string | undefined;
  password: string | undefined;
  /** Where the password came from. */
  passwordFrom: 'env' | 'url' | 'prompt' | 'none';
  /** Warnings to print (a password in the URL). */
  warnings: string[];
}

/**
 * Decides user, domain and password. Options win over the URL for user and domain. The password comes from
 * SMBKIT_PASSWORD, else from the URL, else from the prompt; with no user at all none is asked (anonymous).
 */
export async function resolveCredentials(t: SmbTarget, s: CredentialSources): Promise<Credentials> {
  let user = t.user;
  let domain = t.domain;
  if (s.optUser !== undefined) {
    const m = /^([^\\/]*)[\\/](.*)$/.exec(s.optUser);
    if (m) {
      domain = m[1] || undefined;
      user = m[2];
    } else user = s.optUser;
    if (user === '') user = undefined;
  }
  if (s.optDomain !== undefined) domain = s.optDomain || undefined;
  const warnings: string[] = [];
  if (t.password !== undefined) warnings.push('a password in the URL is visible to other users (ps); use SMBKIT_PASSWORD or the prompt');
  if (s.envPassword !== undefined) return { user, domain, password: s.envPassword, passwordFrom: 'env', warnings };
  if (t.password !== undefined) return { user, domain, password: t.password, passwordFrom: 'url', warnings };
  if (user === undefined) return { user, domain, password: undefined, passwordFrom: 'none', warnings };
  if (!s.prompt) {
    throw new UsageError(`no password for ${domain ? `${domain}\\` : ''}${user}: set SMBKIT_PASSWORD or run on a terminal to be asked`);
  }
  const password = await s.prompt(`Password for ${domain ? `${domain}\\` : ''}${user}@${t.host}: `);
  return { user, domain, password, passwordFrom: 'prompt', warnings };
}

/** Joins share-relative paths (backslash form). */
export function joinPath(a: string, b: string): string {
  return smbPath(a === '' ? b : `${a}\\${b}`);
}

/** The last component of a share-relative path ('' for the root). */
export function baseName(p: string): string {
  const i = p.lastIndexOf('\\');
  return i < 0 ? p : p.slice(i + 1);
}

/** The parent of a share-relative path ('' for a top-level name or the root). */
export function parentPath(p: string): string {
  const i = p.lastIndexOf('\\');
  return i < 0 ? '' : p.slice(0, i);
}
