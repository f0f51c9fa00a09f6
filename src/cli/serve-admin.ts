// The admin side of `c10k serve`: --status and --metrics endpoints under one --token. Kept out of
// serve.ts so that the verb stays a list of options. Addresses and the access rule are checked before
// the server starts (a bad one is a usage error, exit 2); a port that cannot be bound stops the server
// again and fails the verb with one line (exit 1).
import {
  accessDecision,
  type Endpoint,
  type EndpointAddress,
  parseHostPort,
  resolveToken,
} from '../admin/http-endpoint.ts';
import { startMetricsEndpoint } from '../admin/metrics.ts';
import { sharedStatus, startStatusEndpoint } from '../admin/status.ts';
import type { Logger } from '../log.ts';
import { ServeError, type ServerHandle } from '../models/types.ts';
import { UsageError } from './args.ts';

export interface AdminArgs {
  status?: EndpointAddress;
  metrics?: EndpointAddress;
  token?: string;
}

export function parseAdminArgs(v: { status?: string; metrics?: string; token?: string }): AdminArgs {
  const token = resolveToken(v.token);
  const out: AdminArgs = { token };
  for (const flag of ['status', 'metrics'] as const) {
    const text = v[flag];
    if (text === undefined) continue;
    let address: EndpointAddress;
    try {
      address = parseHostPort(text, `--${flag}`);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const decision = accessDecision(address, token, `--${flag}`);
    if (!decision.ok) throw new UsageError(decision.reason);
    out[flag] = address;
  }
  const { status: s, metrics: m } = out;
  if (s && m && s.port !== 0 && s.port === m.port && s.host === m.host) {
    throw new UsageError('--status and --metrics need different ports');
  }
  return out;
}

export interface Admin {
  endpoints: Endpoint[];
  close(): Promise<void>;
}

export async function startAdmin(server: ServerHandle, args: AdminArgs, logger: Logger): Promise<Admin> {
  const endpoints: Endpoint[] = [];
  const status = sharedStatus(server);
  const close = async () => {
    await Promise.all(endpoints.map((e) => e.close()));
  };
  const note = args.token ? ' (token required)' : '';
  try {
    if (args.status) {
      const e = await startStatusEndpoint(server, args.status, args.token, status);
      endpoints.push(e);
      logger.info(`status on ${e.url}/status${note}`);
    }
    if (args.metrics) {
      const e = await startMetricsEndpoint(server, args.metrics, args.token, status);
      endpoints.push(e);
      logger.info(`metrics on ${e.url}/metrics${note}`);
    }
  } catch (error) {
    await close();
    await server.close();
    throw new ServeError((error as Error).message);
  }
  return { endpoints, close };
}
