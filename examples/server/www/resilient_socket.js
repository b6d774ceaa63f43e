// Shared by the example pages (index.html, game.html).
// [tutorial:browser]
// A WebSocket that reconnects with exponential backoff and shows its state.
// `url` is a string, or a function asked again at each connect.
function resilientSocket(url, stateEl, onMessage, onOpen) {
  let ws, delay = 250, stopped = false;
  const show = (text, cls) => { stateEl.textContent = text; stateEl.className = 'state ' + cls; };
  function connect() {
    show('connecting…', '');
    ws = new WebSocket(typeof url === 'function' ? url() : url);
    ws.onopen = () => { delay = 250; show('connected', 'open'); onOpen && onOpen(); };
    ws.onmessage = (e) => onMessage(JSON.parse(e.data));
    ws.onclose = (e) => {
      window.troupeCloses = (window.troupeCloses || 0) + 1;  // for the browser test
      if (stopped) return;
      show((e.reason ? e.reason + ': ' : '') + 'reconnecting in ' + delay + ' ms', 'closed');
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 5000);
    };
  }
  connect();
  return {
    send: (obj) => ws && ws.readyState === 1 && ws.send(JSON.stringify(obj)),
    close: () => { stopped = true; ws.close(); },
  };
}
// [/tutorial:browser]
