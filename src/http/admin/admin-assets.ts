/**
 * The dashboard's stylesheet and script, served from /admin/assets/ (the Content-Security-Policy
 * allows nothing else: no CDN, no inline script or style). Kept as strings so `tsc` ships them in
 * dist/ with no copy step.
 */

/** The tab icon; without one the browser asks for /favicon.ico, which the bridge does not serve. */
export const DASHBOARD_ICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1d2430"/><path d="M3 8h4l2-4 2 8 1-4h1" stroke="#7fb0ff" stroke-width="1.6" fill="none"/></svg>';

/** Plain CSS: readable tables, a few badge colours. */
export const DASHBOARD_STYLE = String.raw`
:root { --fg: #1d2430; --muted: #677084; --line: #d9dee7; --bg: #f6f7f9; --card: #fff;
  --ok: #1f7a3a; --ok-bg: #e3f4e8; --bad: #a3261c; --bad-bg: #fbe7e5; --warn: #8a5a00; --warn-bg: #fdf1d6;
  --info: #1c4f9c; --info-bg: #e4edfb; --accent: #2457c5; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
header.top { display: flex; align-items: center; justify-content: space-between; padding: 10px 24px; background: #1d2430; color: #fff; }
header.top h1 { margin: 0; font-size: 18px; }
header.top h1 a { color: #fff; text-decoration: none; }
header.top .subtitle { font-weight: 400; color: #aeb7c8; }
header.top nav { display: flex; gap: 16px; align-items: center; }
header.top nav a, header.top nav .link { color: #cfd8ea; }
header.top form { margin: 0; }
main { max-width: 1280px; margin: 0 auto; padding: 16px 24px 48px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px 16px; margin: 16px 0; }
h2 { font-size: 16px; margin: 4px 0 10px; }
h3 { font-size: 14px; margin: 16px 0 8px; }
h4 { font-size: 13px; margin: 10px 0 6px; }
.section-head { display: flex; align-items: center; justify-content: space-between; gap: 12px; }
.count { display: inline-block; min-width: 22px; padding: 0 6px; border-radius: 10px; background: var(--bg); color: var(--muted); font-size: 12px; text-align: center; }
table.grid { border-collapse: collapse; width: 100%; }
table.grid th, table.grid td { border-bottom: 1px solid var(--line); padding: 6px 8px; text-align: left; vertical-align: top; }
table.grid thead th { font-size: 12px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
table.queues { width: auto; min-width: 520px; }
.num { text-align: right !important; font-variant-numeric: tabular-nums; }
td.alert { color: var(--bad); font-weight: 700; }
.nowrap { white-space: nowrap; }
.muted { color: var(--muted); }
.empty { color: var(--muted); font-style: italic; }
.error, .error-text { color: var(--bad); word-break: break-word; }
pre.json { margin: 4px 0; padding: 8px; max-height: 320px; overflow: auto; background: var(--bg); border: 1px solid var(--line); border-radius: 4px; white-space: pre-wrap; word-break: break-word; }
details summary { cursor: pointer; color: var(--muted); }
ol.history { margin: 4px 0; padding-left: 18px; font-size: 12.5px; }
ul.plain { margin: 0; padding-left: 18px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 8px 0; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; }
.run { border-left: 3px solid var(--line); padding-left: 12px; margin: 8px 0 12px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.badge-ok { color: var(--ok); background: var(--ok-bg); }
.badge-bad { color: var(--bad); background: var(--bad-bg); }
.badge-warn { color: var(--warn); background: var(--warn-bg); }
.badge-info { color: var(--info); background: var(--info-bg); }
.badge-muted { color: var(--muted); background: var(--bg); }
button { font: inherit; padding: 4px 12px; border: 1px solid var(--accent); border-radius: 4px; background: var(--accent); color: #fff; cursor: pointer; }
button:disabled { opacity: .6; cursor: progress; }
button.link { border: 0; background: none; padding: 0; text-decoration: underline; }
form.lookup { display: flex; gap: 8px; align-items: center; }
form.lookup input { flex: 0 1 420px; }
input { font: inherit; padding: 4px 8px; border: 1px solid var(--line); border-radius: 4px; }
.flash { max-width: 1232px; margin: 16px auto 0; padding: 8px 12px; border-radius: 4px; background: var(--info-bg); color: var(--info); }
.flash.flash-error { background: var(--bad-bg); color: var(--bad); }
.flash[hidden] { display: none; }
section.login { max-width: 420px; margin: 48px auto; }
section.login form { display: grid; gap: 8px; }
.live-status { font-size: 12px; color: #aeb7c8; }
.live-status.live-error { color: #ffb4ab; }
section.problems { border-color: var(--bad); background: var(--bad-bg); }
section.problems h2 { color: var(--bad); }
ul.problem-list code { font-size: 13px; white-space: pre-wrap; word-break: break-word; }
.advice { margin: 0; color: var(--warn); font-size: 12.5px; }
form.search { display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: flex-end; margin-bottom: 6px; }
form.search label { display: grid; gap: 2px; font-size: 12px; color: var(--muted); }
.search-summary { font-weight: 600; }
td.matched-rules ul { padding-left: 0; list-style: none; }
tr.is-new td { animation: arrived 6s ease-out; }
@keyframes arrived { from { background: var(--info-bg); } to { background: transparent; } }
`;

/**
 * Vanilla script: turns `button.js-post` into same-origin POSTs (with the header the server's
 * CSRF check wants), waits for a retried action to settle, and reloads the server-rendered page.
 * It also keeps the page's live parts (`data-live`) current: see `refreshLive`. Text from the
 * server is only ever set with `textContent`; the live parts are markup the page's own renderer
 * escaped, parsed inertly with DOMParser (scripts in it never run, and the CSP forbids inline
 * script anyway).
 */
export const DASHBOARD_SCRIPT = String.raw`'use strict';
(function () {
  var FLASH_KEY = 'affiliate-bridge-admin-flash';
  var SETTLED = { completed: true, failed: true, removed: true };

  function showFlash(text, isError) {
    var flash = document.getElementById('flash');
    if (!flash) return;
    flash.textContent = text;
    flash.className = isError ? 'flash flash-error' : 'flash';
    flash.hidden = false;
  }

  function reloadWith(text, isError) {
    try { sessionStorage.setItem(FLASH_KEY, JSON.stringify({ text: text, isError: !!isError })); } catch (e) { /* private mode */ }
    window.location.reload();
  }

  function requestJson(method, url) {
    var headers = { Accept: 'application/json' };
    if (method === 'POST') headers['X-Bridge-Admin'] = '1';
    return fetch(url, { method: method, headers: headers, credentials: 'same-origin', cache: 'no-store' }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.status === 401) { window.location.assign('/admin/login'); throw new Error('Logged out'); }
        if (!response.ok) throw new Error(body.error || ('HTTP ' + response.status));
        return body;
      });
    });
  }

  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  /** Polls the event's trace until the action leaves waiting/active, for at most 30 s. */
  function waitForAction(eventId, jobId, onState) {
    var deadline = Date.now() + 30000;
    function poll() {
      return requestJson('GET', '/admin/api/events/' + encodeURIComponent(eventId)).then(function (body) {
        var action = (body.actions || []).filter(function (a) { return a.jobId === jobId; })[0];
        var state = action ? action.state : 'removed';
        onState(state);
        if (SETTLED[state] || Date.now() > deadline) return state;
        return sleep(500).then(poll);
      });
    }
    return sleep(300).then(poll);
  }

  function markRows(jobId, state) {
    var rows = document.querySelectorAll('tr[data-job-id]');
    for (var i = 0; i < rows.length; i += 1) {
      if (rows[i].getAttribute('data-job-id') !== jobId) continue;
      var cell = rows[i].querySelector('.js-state');
      if (cell) { cell.textContent = state; }
    }
  }

  function run(button) {
    var url = button.getAttribute('data-url');
    var jobId = button.getAttribute('data-job-id');
    var eventId = button.getAttribute('data-event-id');
    var question = button.getAttribute('data-confirm');
    if (question && !window.confirm(question)) return;
    button.disabled = true;
    button.textContent = 'Working…';
    requestJson('POST', url).then(function (body) {
      if (jobId && eventId) {
        return waitForAction(eventId, jobId, function (state) {
          button.textContent = state;
          markRows(jobId, state);
        }).then(function (state) {
          reloadWith('Action ' + jobId + ' retried: ' + state + '.', state !== 'completed');
        });
      }
      reloadWith(body.message || 'Done.', false);
    }).catch(function (error) {
      button.disabled = false;
      button.textContent = button.getAttribute('data-label') || 'Retry';
      showFlash(error.message, true);
    });
  }

  /*
   * Live refresh. The page polls GET /admin/api/live every LIVE_INTERVAL_MS while the tab is
   * visible, rather than holding a Server-Sent Events stream: the server has nothing to push from
   * (events are planned by workers, maybe in other processes, and BullMQ's state lives in Redis),
   * so a stream would poll Redis on the server anyway; one short request every few seconds per
   * open tab is cheap, needs no long-lived connection counted against HTTP_MAX_CONNECTIONS, passes
   * every proxy, and goes through the same session check as every other request. A hidden tab
   * stops polling and refreshes as soon as it is shown again.
   */
  var LIVE_INTERVAL_MS = 5000;
  var liveTimer = null;
  var lastSections = {};

  function setLiveStatus(text, isError) {
    var status = document.getElementById('live-status');
    if (!status) return;
    status.textContent = text;
    status.className = isError ? 'live-status live-error' : 'live-status';
    status.hidden = false;
  }

  function parseFragment(markup) {
    return new DOMParser().parseFromString('<!doctype html><body>' + markup, 'text/html').body.firstElementChild;
  }

  /** Marks the rows of events the list did not show before: the live tail's new arrivals. */
  function markNewRows(current, next) {
    var known = {};
    var rows = current.querySelectorAll('tr[data-event-id]');
    for (var i = 0; i < rows.length; i += 1) known[rows[i].getAttribute('data-event-id')] = true;
    var fresh = next.querySelectorAll('tr[data-event-id]');
    for (var j = 0; j < fresh.length; j += 1) {
      if (!known[fresh[j].getAttribute('data-event-id')]) fresh[j].classList.add('is-new');
    }
  }

  /** Keeps the <details> an operator opened in a row open across a swap. */
  function keepOpenDetails(current, next) {
    var open = current.querySelectorAll('[data-job-id] details[open]');
    for (var i = 0; i < open.length; i += 1) {
      var jobId = open[i].closest('[data-job-id]').getAttribute('data-job-id');
      var rows = next.querySelectorAll('[data-job-id]');
      for (var j = 0; j < rows.length; j += 1) {
        var details = rows[j].getAttribute('data-job-id') === jobId ? rows[j].querySelector('details') : null;
        if (details) details.open = true;
      }
    }
  }

  function swapSection(name, markup) {
    if (lastSections[name] === markup) return;
    var current = document.querySelector('[data-live="' + name + '"]');
    var next = current ? parseFragment(markup) : null;
    if (!next || next.getAttribute('data-live') !== name) return;
    lastSections[name] = markup;
    if (name === 'recent') markNewRows(current, next);
    keepOpenDetails(current, next);
    current.replaceWith(document.importNode(next, true));
  }

  function scheduleLive(delayMs) {
    clearTimeout(liveTimer);
    liveTimer = setTimeout(refreshLive, delayMs);
  }

  function refreshLive() {
    if (document.hidden) return;
    // An operator's retry or replay is under way: its button must not be swapped out under it.
    if (document.querySelector('button.js-post:disabled')) { scheduleLive(LIVE_INTERVAL_MS); return; }
    requestJson('GET', '/admin/api/live').then(function (body) {
      var sections = body.sections || {};
      Object.keys(sections).forEach(function (name) { swapSection(name, String(sections[name])); });
      setLiveStatus('Live: updated ' + new Date().toLocaleTimeString(), false);
    }).catch(function (error) {
      setLiveStatus('Live updates failing (' + error.message + '); trying again', true);
    }).then(function () {
      if (!document.hidden) scheduleLive(LIVE_INTERVAL_MS);
    });
  }

  if (document.querySelector('[data-live]')) {
    document.addEventListener('visibilitychange', function () {
      if (document.hidden) {
        clearTimeout(liveTimer);
        setLiveStatus('Live updates paused while the tab is hidden', false);
      } else {
        refreshLive();
      }
    });
    setLiveStatus('Live: every ' + (LIVE_INTERVAL_MS / 1000) + ' s', false);
    scheduleLive(LIVE_INTERVAL_MS);
  }

  document.addEventListener('click', function (event) {
    var target = event.target;
    var button = target && target.closest ? target.closest('button.js-post') : null;
    if (!button || button.disabled) return;
    event.preventDefault();
    run(button);
  });

  try {
    var stored = sessionStorage.getItem(FLASH_KEY);
    if (stored) {
      sessionStorage.removeItem(FLASH_KEY);
      var flash = JSON.parse(stored);
      showFlash(String(flash.text), !!flash.isError);
    }
  } catch (e) { /* nothing to show */ }
})();
`;
