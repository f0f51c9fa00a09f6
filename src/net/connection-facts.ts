// A connection's seldom-used facts, apart from the object every message touches.
import type { ProxyPreface } from '../protocols/proxy.ts';
import type { CloseReason, ConnectionBase } from './connection.ts';
import type { Deadline } from './timeout-list.ts';

/**
 * What a connection knows but seldom needs: its identity and addresses, how it closed, a busy handler's
 * backlog, a pending PROXY header, its places in the timeout lists. They live apart from the connection
 * object so that the fields every message touches sit together (see ConnectionBase's field order).
 */
export class ConnectionFacts<In, Out> {
  readonly id: number;
  /** When accepted, on the core's coarse clock (kept small: a full timestamp would be a boxed double). */
  readonly openedTime: number;
  remoteAddress = '';
  remotePort = 0;
  localAddress = '';
  localPort = 0;
  closeReason: CloseReason | undefined = undefined;
  closeError: unknown = undefined;
  backlog: In[] | null = null; // messages decoded while busy
  preface: ProxyPreface | null = null;
  idleDeadline: Deadline<ConnectionBase<In, Out>> | null = null;
  partialDeadline: Deadline<ConnectionBase<In, Out>> | null = null;

  constructor(id: number, openedTime: number) {
    this.id = id;
    this.openedTime = openedTime;
  }
}
