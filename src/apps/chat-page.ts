// The page ws-chat serves at /: joins a room over WebSocket on the same host and port. `?room=NAME` joins
// that room at once and `?nick=NAME` picks a nick. Lines from the server are shown as they come, each in
// an element of its own (#log > div), so that a test can read them.
export const CHAT_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>c10k chat</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; display: flex; flex-direction: column; height: 100vh; }
  header { padding: .5em 1em; background: #223; color: #eee; }
  #log { flex: 1; overflow-y: auto; padding: .5em 1em; white-space: pre-wrap; font-family: ui-monospace, monospace; }
  #log .me { color: #555; }
  #log .notice { color: #268; }
  #log .refusal { color: #a22; }
  form { display: flex; padding: .5em; gap: .5em; border-top: 1px solid #ccc; }
  #input { flex: 1; font: inherit; padding: .3em; }
</style>
</head>
<body>
<header>c10k chat <span id="status">connecting…</span></header>
<div id="log" aria-live="polite"></div>
<form id="form"><input id="input" autocomplete="off" placeholder="a message, or /join ROOM, /nick NAME, /help" autofocus><button>Send</button></form>
<script>
  const log = document.getElementById('log');
  const status = document.getElementById('status');
  const input = document.getElementById('input');
  const params = new URLSearchParams(location.search);
  const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/');
  function show(text, kind) {
    const line = document.createElement('div');
    line.textContent = text;
    line.className = kind || (text.startsWith('* ') ? 'notice' : text.startsWith('! ') ? 'refusal' : 'message');
    log.append(line);
    log.scrollTop = log.scrollHeight;
  }
  ws.onopen = () => {
    status.textContent = 'connected';
    if (params.get('nick')) ws.send('/nick ' + params.get('nick'));
    if (params.get('room')) ws.send('/join ' + params.get('room'));
  };
  ws.onmessage = (e) => show(String(e.data));
  ws.onclose = (e) => { status.textContent = 'closed (' + e.code + ')'; };
  document.getElementById('form').onsubmit = (e) => {
    e.preventDefault();
    const text = input.value;
    if (!text || ws.readyState !== WebSocket.OPEN) return;
    ws.send(text);
    if (!text.startsWith('/')) show('> ' + text, 'me');
    input.value = '';
  };
</script>
</body>
</html>
`;
