// Chat rooms on the line protocol, spanning every worker of the server and, with --bus, every server on
// the same Redis. Commands: /nick NAME, /join ROOM, /leave, /who, /whoami, /help, /quit; any other line
// is said to the current room and reaches every other member as `<nick> text` (the speaker gets no echo:
// a client shows its own lines). Notices start with '* ', refusals with '! '.
// Shape: each process keeps only its own members, per room; a room is a bus topic ('chat:ROOM') that the
// process subscribes to while it has a member there, so a worker (or server) receives only the rooms it
// needs. A line said here is published once; this process's members get it synchronously inside
// publish(), the others through the supervisor (and Redis). Delivery encodes the line once and hands the
// same Buffer to every member's send(). The app keeps no queue of its own: a member that does not read
// sees its write buffer grow to the server's maxWriteBuffer and is then closed ('slow-consumer'), so a
// slow reader costs at most that much memory and never holds back the room.
// Names are not unique (that would need a registry across servers); /who lists the members in this
// process only. Every model relays between its workers, processes or threads, but the bounded ones hold
// few members at once: iterative one, prefork and the thread pool --workers (the rest wait to be
// accepted), process per connection --max-children.
// With `web: true` (the ws-chat app) the same rooms are reached over WebSocket: a browser gets the page
// (chat-page.ts) at / and joins over ws:// on the same port; a raw TCP client that speaks first (not
// "GET ") is a line member as in chat. Each message goes to a member framed for its kind of connection.
import { defineApp } from '../app.ts';
import type { Bus, BusPayload } from '../bus/bus.ts';
import type { Connection } from '../net/connection-api.ts';
import type { CodecPeer } from '../protocols/codec.ts';
import { response } from '../protocols/http.ts';
import { line } from '../protocols/line.ts';
import { closeWebSocket, frame, OP_TEXT, WsMessage, websocket } from '../protocols/websocket.ts';
import { CHAT_PAGE } from './chat-page.ts';

export interface ChatOptions {
  /** Longest nick and room name, in characters (default 32). */
  maxName?: number;
  /** Longest message, in bytes (default 512); a line up to 4 KiB gets a refusal, beyond it the connection closes. */
  maxText?: number;
  /** Serve the page at / and members over WebSocket, as well as line members (default false). */
  web?: boolean;
}

interface Member {
  nick: string;
  room: string | null;
  /** A WebSocket member (text frames), not a line member. */
  ws: boolean;
}

/** One line of text, framed for each kind of member once, whatever the number of members. */
class Outgoing {
  readonly text: string;
  private line: Buffer | null = null;
  private wsFrame: Buffer | null = null;
  constructor(text: string) {
    this.text = text;
  }
  for(ws: boolean): Buffer {
    if (ws) return (this.wsFrame ??= frame(OP_TEXT, this.text));
    return (this.line ??= Buffer.from(this.text + '\n'));
  }
}

/** What travels on a room's topic: a message, a join, a leave, a rename. */
interface ChatEvent {
  k: 'msg' | 'join' | 'leave' | 'nick';
  r: string;
  n: string;
  x?: string;
}

const NAME = /^[A-Za-z0-9_.-]+$/;
const HELP =
  '* commands: /nick NAME, /join ROOM, /leave, /who, /whoami, /quit; any other line goes to your room';

function format(e: ChatEvent): string {
  switch (e.k) {
    case 'msg':
      return `<${e.n}> ${e.x}`;
    case 'join':
      return `* ${e.n} joined #${e.r}`;
    case 'leave':
      return `* ${e.n} left #${e.r}`;
    case 'nick':
      return `* ${e.x} is now known as ${e.n}`;
  }
}

function parseEvent(payload: BusPayload): ChatEvent | null {
  try {
    const e = JSON.parse(String(payload)) as ChatEvent;
    if (typeof e.r !== 'string' || typeof e.n !== 'string') return null;
    if (!['msg', 'join', 'leave', 'nick'].includes(e.k)) return null;
    if (e.x !== undefined && typeof e.x !== 'string') return null;
    if ((e.k === 'msg' || e.k === 'nick') && e.x === undefined) return null;
    return e;
  } catch {
    return null; // not ours (say, a stray PUBLISH on the channel)
  }
}

export function createChat(options: ChatOptions = {}) {
  const maxName = options.maxName ?? 32;
  const maxText = options.maxText ?? 512;
  /** This process's members of each room. */
  const rooms = new Map<string, Set<Connection>>();
  const unsubscribe = new Map<string, () => void>();
  let bus: Bus | null = null;
  /** The member whose line is being published: local delivery skips it (no echo). */
  let speaker: Connection | null = null;

  const member = (conn: Connection) => conn.data as Member;
  const topic = (room: string) => `chat:${room}`;
  const web = options.web ?? false;
  // A line member of the line-only app gets send() (its codec counts the message); on the web port,
  // where the codec frames WebSocket messages, bytes framed for the member go out with write().
  const put = web
    ? (conn: Connection, out: Outgoing) => conn.write(out.for(member(conn).ws))
    : (conn: Connection, out: Outgoing) => conn.send(out.for(false));
  /** Send one line to a member, framed for its connection. */
  const say = (conn: Connection, text: string) => put(conn, new Outgoing(text));

  function deliver(payload: BusPayload): void {
    const e = parseEvent(payload);
    if (e === null) return;
    const members = rooms.get(e.r);
    if (members === undefined) return;
    const skip = speaker; // captured: a member closed during this loop may publish its own leave
    const out = new Outgoing(format(e));
    for (const conn of members) if (conn !== skip) put(conn, out);
  }

  function publish(conn: Connection, e: ChatEvent): void {
    const previous = speaker;
    speaker = conn;
    try {
      bus!.publish(topic(e.r), JSON.stringify(e));
    } finally {
      speaker = previous;
    }
  }

  function join(conn: Connection, room: string): void {
    const m = member(conn);
    if (m.room === room) return;
    if (m.room !== null) leave(conn);
    let members = rooms.get(room);
    if (members === undefined) {
      rooms.set(room, (members = new Set()));
      unsubscribe.set(room, bus!.subscribe(topic(room), deliver));
    }
    members.add(conn);
    m.room = room;
    publish(conn, { k: 'join', r: room, n: m.nick });
  }

  function leave(conn: Connection): void {
    const m = member(conn);
    const room = m.room;
    if (room === null) return;
    publish(conn, { k: 'leave', r: room, n: m.nick });
    m.room = null;
    const members = rooms.get(room);
    if (members === undefined) return;
    members.delete(conn);
    if (members.size === 0) {
      rooms.delete(room);
      unsubscribe.get(room)?.();
      unsubscribe.delete(room);
    }
  }

  function command(conn: Connection, m: Member, name: string, arg: string): void {
    switch (name) {
      case '/nick': {
        if (arg.length === 0 || arg.length > maxName || !NAME.test(arg)) {
          say(conn, `! a nick is 1 to ${maxName} of A-Z a-z 0-9 _ . -`);
          return;
        }
        const old = m.nick;
        m.nick = arg;
        say(conn, `* you are now ${arg}`);
        if (m.room !== null && old !== arg) publish(conn, { k: 'nick', r: m.room, n: arg, x: old });
        return;
      }
      case '/join': {
        const room = (arg.startsWith('#') ? arg.slice(1) : arg).toLowerCase();
        if (room.length === 0 || room.length > maxName || !NAME.test(room)) {
          say(conn, `! a room is 1 to ${maxName} of A-Z a-z 0-9 _ . -`);
          return;
        }
        join(conn, room);
        say(conn, `* you joined #${room}`);
        return;
      }
      case '/leave':
        if (m.room === null) say(conn, '! you are in no room');
        else {
          const room = m.room;
          leave(conn);
          say(conn, `* you left #${room}`);
        }
        return;
      case '/who': {
        if (m.room === null) {
          say(conn, '! you are in no room');
          return;
        }
        const nicks = [...(rooms.get(m.room) ?? [])].map((c) => member(c).nick).sort();
        say(conn, `* in #${m.room} on this worker: ${nicks.join(' ')}`);
        return;
      }
      case '/whoami':
        say(conn, `* nick=${m.nick} room=${m.room ?? '-'} pid=${process.pid}`);
        return;
      case '/help':
        say(conn, HELP);
        return;
      case '/quit':
        say(conn, '* bye');
        if (m.ws) closeWebSocket(conn, 1000, 'bye');
        else conn.end();
        return;
      default:
        say(conn, `! unknown command ${name} (/help)`);
    }
  }

  const welcome = (conn: Connection) => say(conn, `* welcome, guest${conn.id}; /help lists the commands`);
  const lines = line({ maxLineBytes: 4096 });
  const protocol = web
    ? websocket({
        maxMessageBytes: 4096,
        fallback: lines,
        open(peer: CodecPeer, req) {
          (peer.data as Member).ws = req !== null;
          welcome(peer as Connection);
        },
        http(req, peer) {
          const path = req.target.split('?')[0];
          const found = path === '/' || path === '/index.html';
          peer.write(
            found
              ? response(200, { 'content-type': 'text/html; charset=utf-8' }, CHAT_PAGE, req.keepAlive)
              : response(404, { 'content-type': 'text/plain' }, 'not found\n', req.keepAlive),
          );
          if (!req.keepAlive) peer.end();
        },
      })
    : lines;

  const app = defineApp<Buffer | WsMessage, Buffer | string>({
    protocol: protocol as never,
    crossClient: true,
    // a line half-sent for a minute is cut; a silent reader is a normal chat client, so idle is not
    timeouts: { partialTimeout: 60_000 },
    setup(ctx) {
      if (bus !== null)
        throw new Error('this chat app already serves in this process (createChat() makes another)');
      bus = ctx.bus;
      return () => {
        for (const off of unsubscribe.values()) off();
        unsubscribe.clear();
        rooms.clear();
        bus = null;
      };
    },
    open(conn) {
      conn.data = { nick: `guest${conn.id}`, room: null, ws: false } satisfies Member;
      if (!web) welcome(conn); // on the web port, once the connection shows what it speaks
    },
    message(conn, input) {
      const m = member(conn);
      const text = (input instanceof WsMessage ? input.data : input).toString().trim();
      if (text.length === 0) return;
      if (text.startsWith('/')) {
        const space = text.indexOf(' ');
        const name = (space === -1 ? text : text.slice(0, space)).toLowerCase();
        command(conn, m, name, space === -1 ? '' : text.slice(space + 1).trim());
        return;
      }
      if (m.room === null) {
        say(conn, '! join a room first: /join ROOM');
        return;
      }
      if (Buffer.byteLength(text) > maxText) {
        say(conn, `! message too long (at most ${maxText} bytes)`);
        return;
      }
      publish(conn, { k: 'msg', r: m.room, n: m.nick, x: text });
    },
    close(conn) {
      if (conn.data !== undefined) leave(conn);
    },
  });
  return { app, rooms };
}

export default createChat().app;
