import { createChat } from './chat.ts';

/** The chat rooms over WebSocket (and the page at /), line clients welcome on the same port. */
export default createChat({ web: true }).app;
