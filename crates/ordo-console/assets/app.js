// ordo console (DESIGN.md §3e): a client of the public HTTP API of the node
// that served it, in plain JavaScript with no dependency.
//
// - Routes by the URL's fragment (#/cluster, #/topics, #/topics/NAME, …); one
//   function per page renders into <main> and asks the API again on a timer.
// - Renders with DOM calls only: what the API returns is untrusted and
//   becomes text nodes and attribute values, never markup (the page's
//   Content-Security-Policy makes string-to-HTML sinks throw).
// - Keeps the user's token, and the samples its charts are drawn from, in
//   the tab's sessionStorage; nothing is written to the log for it.
//
// Hooks for tests: <main data-page="…" data-ready="true"> once a page's data
// is on screen; rows tr[data-node-id], tr[data-topic], tr[data-offset],
// tr[data-group][data-topic], tr[data-kind]; cells td[data-field] with the
// raw value in data-value; performance marks ordo:open:PAGE, ordo:ready:PAGE.
'use strict';

/* ------------------------------------------------------------ settings */

const TOKEN_KEY = 'ordo.console.token';
/** How long after one refresh of a page ends the next begins. */
const REFRESH_MS = { cluster: 1000, topics: 5000, topic: 5000, groups: 5000, queues: 2000, events: 3000, header: 5000 };
/** A request not answered by then fails (streams excepted). */
const REQUEST_TIMEOUT_MS = 8000;
/** Rows of a long list shown at once. */
const ROWS_PER_PAGE = 50;
/** Records of a topic shown at once, and kept by the live tail. */
const RECORDS_PER_PAGE = 20;
const TAIL_ROWS = 100;
/** A value whose JSON is this short is shown on one line, longer ones indented. */
const COMPACT_JSON_CHARS = 60;
/** Waits before the live tail reconnects, by failures in a row. */
const TAIL_RETRY_MS = [500, 1000, 2000, 5000, 10000];
/** Samples behind the charts: kept this long, at most one this often. */
const SAMPLE_WINDOW_MS = 5 * 60 * 1000;
const SAMPLE_EVERY_MS = 4000;
/** Events asked of the node's event log at once. */
const EVENTS_LIMIT = 200;

/* ------------------------------------------------------------ DOM */

const SVG_NS = 'http://www.w3.org/2000/svg';
const DASH = '—';
const main = document.getElementById('main');
const nodeLabel = document.getElementById('node');

const present = (value) => value !== undefined && value !== null && value !== false;

/** An element: `props` become attributes (functions become listeners of the
 *  event named without its "on"), children become child nodes (strings as
 *  text, never markup; null, undefined and false are skipped). */
function el(tag, props, ...children) {
  return fill(document.createElement(tag), props, children);
}

/** An SVG element, as `el` makes HTML ones. */
function svg(tag, props, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), props, children);
}

function fill(node, props, children) {
  for (const [name, value] of Object.entries(props ?? {})) {
    if (!present(value)) continue;
    if (typeof value === 'function') node.addEventListener(name.replace(/^on/, ''), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  const nodes = children.flat(Infinity).filter(present);
  node.append(...nodes.map((child) => (child instanceof Node ? child : String(child))));
  return node;
}

/* ------------------------------------------------------------ formatting */

/** One formatter for every number: making one per call (what
 *  toLocaleString does) costs more than drawing a table of them. */
const GROUPED = new Intl.NumberFormat('en-US');
const TENTHS = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });

function number(value) {
  return present(value) ? GROUPED.format(value) : DASH;
}

function bytes(value) {
  if (!present(value)) return DASH;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let size = Number(value);
  let unit = 0;
  for (; size >= 1024 && unit < units.length - 1; unit += 1) size /= 1024;
  return unit === 0 ? `${size} B` : `${size.toFixed(size < 10 ? 1 : 0)} ${units[unit]}`;
}

function duration(ms) {
  if (!present(ms)) return DASH;
  const units = [['d', 86_400_000], ['h', 3_600_000], ['min', 60_000], ['s', 1000]];
  for (const [unit, size] of units) if (ms >= size) return `${+(ms / size).toFixed(1)} ${unit}`;
  return `${ms} ms`;
}

function time(ms) {
  return present(ms) ? new Date(ms).toISOString().replace('T', ' ').replace('Z', ' UTC') : DASH;
}

function perSecondText(value) {
  if (!present(value)) return DASH;
  return `${value < 10 ? TENTHS.format(value) : GROUPED.format(Math.round(value))}/s`;
}

/* ------------------------------------------------------------ widgets */

/** A column heading; `numeric` ones are right-aligned like their cells. */
const numeric = (label) => ({ label, numeric: true });

/** A table, or `empty` in words when there are no rows. */
function table(headings, rows, empty) {
  if (!rows.length) return el('p', { class: 'muted', 'data-empty': true }, empty);
  return el('table', {}, thead(headings), el('tbody', {}, rows));
}

function thead(headings) {
  const th = (h) => el('th', { scope: 'col', class: h.numeric ? 'num' : null }, h.label ?? h);
  return el('thead', {}, el('tr', {}, headings.map(th)));
}

/** A cell of `field`: `shown` on screen (by default the value, numbers
 *  grouped), the raw value in data-value; right-aligned if `numeric`. */
function cell(field, value, shown, numeric = typeof value === 'number') {
  const text = shown ?? (numeric ? number(value) : present(value) ? String(value) : DASH);
  const raw = present(value) ? String(value) : '';
  return el('td', { 'data-field': field, 'data-value': raw, class: numeric ? 'num' : null }, text);
}

/** A cell of a count or an index, which may be unknown. */
const count = (field, value) => cell(field, value, undefined, true);

/** Where a section reports its failures; empty while all is well. */
function statusLine() {
  return el('div', { class: 'status', 'aria-live': 'polite' });
}

/** A failure in words: a 403 as "not allowed", where it happened. */
function problem(error) {
  if (error.status === 403) {
    return el('p', { class: 'problem', 'data-problem': 'forbidden', role: 'alert' }, `Not allowed: ${error.message}`);
  }
  const what = error.status ? `${error.status} ${error.code}` : error.code ?? error.name;
  return el('p', { class: 'problem', 'data-problem': 'error', role: 'alert' }, `${what}: ${error.message}`);
}

/** A small line chart of `values` (oldest first), scaled to its maximum. */
function sparkline(values, label) {
  if (values.length < 2) return el('span', { class: 'muted', title: 'sampling: shown from the second sample' }, '·');
  const [width, height] = [100, 20];
  const top = Math.max(...values) || 1;
  const x = (i) => ((i * width) / (values.length - 1)).toFixed(1);
  const y = (v) => (height - 1 - (v / top) * (height - 2)).toFixed(1);
  const line = values.map((v, i) => `${x(i)},${y(v)}`).join(' ');
  return svg('svg', { class: 'spark', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': label },
    svg('title', {}, label),
    svg('polygon', { points: `0,${height} ${line} ${width},${height}` }),
    svg('polyline', { points: line }));
}

/** A filter box and pager over a long list; `state` ({filter, page})
 *  outlives the page, so coming back finds the list as it was left. */
function listControls(state, noun, redraw) {
  const change = (update) => () => { update(); redraw(); };
  const filter = el('input', {
    type: 'search', value: state.filter, placeholder: `Filter ${noun}`, 'aria-label': `Filter ${noun}`,
    'data-control': 'filter', oninput: (event) => change(() => { state.filter = event.target.value; state.page = 0; })(),
  });
  const range = el('span', { class: 'range', 'data-control': 'range' });
  const step = (control, label, by) =>
    el('button', { type: 'button', 'data-control': control, onclick: change(() => { state.page += by; }) }, label);
  const previous = step('previous', '‹ Previous', -1);
  const next = step('next', 'Next ›', 1);
  return {
    element: el('div', { class: 'controls' }, filter, previous, range, next),
    /** The items of the current page among those whose key matches the filter. */
    page(items, keyOf) {
      const needle = state.filter.trim().toLowerCase();
      const matching = needle ? items.filter((item) => keyOf(item).toLowerCase().includes(needle)) : items;
      const pages = Math.max(1, Math.ceil(matching.length / ROWS_PER_PAGE));
      state.page = Math.min(Math.max(0, state.page), pages - 1);
      const start = state.page * ROWS_PER_PAGE;
      const shown = matching.slice(start, start + ROWS_PER_PAGE);
      const of = `of ${number(matching.length)}`;
      range.textContent = shown.length ? `${number(start + 1)}–${number(start + shown.length)} ${of}` : `0 ${of}`;
      previous.disabled = state.page === 0;
      next.disabled = state.page >= pages - 1;
      return shown;
    },
  };
}

/** A page that is one long list: a title (and `intro`), a filter and
 *  pager over the items `load()` gives (null: there is nothing to list
 *  here, and `missing` says why), each drawn by `row` in a table of
 *  `headings`; asked again every `ms`. */
async function listPage(view, { title, intro, state, noun, headings, row, keyOf, empty, missing, ms, load }) {
  const status = statusLine();
  const body = el('div');
  let items = [];
  const list = listControls(state, noun, () => draw());
  const draw = () => body.replaceChildren(table(headings, list.page(items, keyOf).map(row), empty));
  view.show(el('h1', {}, title), intro && el('p', { class: 'summary' }, intro),
    el('section', {}, list.element, status, body));
  await view.every(ms, status, async () => {
    const loaded = await load();
    list.element.hidden = loaded === null;
    if (loaded === null) {
      body.replaceChildren(el('p', { class: 'notice', 'data-empty': true }, missing));
      return;
    }
    items = loaded;
    draw();
  });
  view.ready();
}

/* ------------------------------------------------------------ samples */

/** Figures the page samples for its charts, kept in sessionStorage so they
 *  survive moving between pages (this tab only): one time axis, and per
 *  series (a Map: a topic may be called `__proto__`) its values at the
 *  latest times; a series that goes missing starts again. */
class Samples {
  constructor(key) {
    this.key = key;
    this.times = [];
    this.series = new Map();
    try {
      const saved = JSON.parse(sessionStorage.getItem(key));
      if (Array.isArray(saved?.times) && Array.isArray(saved.series)) {
        this.times = saved.times;
        this.series = new Map(saved.series);
      }
    } catch {
      // Unreadable: start again.
    }
  }

  /** Adds `values` ([series name, number] pairs) as sampled now; at most
   *  one sample per SAMPLE_EVERY_MS, none older than SAMPLE_WINDOW_MS kept.
   *  Saved once the page has drawn them: a thousand series take a while. */
  record(values, now = Date.now()) {
    if (now - (this.times.at(-1) ?? -Infinity) < SAMPLE_EVERY_MS) return;
    this.times = [...this.times.filter((t) => t > now - SAMPLE_WINDOW_MS), now];
    const kept = this.times.length;
    this.series = new Map(values.map(([name, value]) => {
      const history = this.series.get(name) ?? [];
      history.push(value);
      return [name, history.length > kept ? history.slice(-kept) : history];
    }));
    setTimeout(() => this.save(), 0);
  }

  save() {
    try {
      sessionStorage.setItem(this.key, JSON.stringify({ times: this.times, series: [...this.series] }));
    } catch {
      // Storage full: keep the samples in memory only.
    }
  }

  /** The samples of series `name` as [time ms, value], oldest first. */
  points(name) {
    const values = this.series.get(name) ?? [];
    const times = this.times.slice(this.times.length - values.length);
    return values.map((value, i) => [times[i], value]);
  }
}

/** The rate of change per second between consecutive samples (counters
 *  that went down, a topic deleted and made again, count as 0). */
function perSecond(points) {
  return points.slice(1).map(([t, v], i) => {
    const [t0, v0] = points[i];
    return Math.max(0, ((v - v0) * 1000) / Math.max(1, t - t0));
  });
}

/* ------------------------------------------------------------ API */

class ApiError extends Error {
  /** `current`: what an error body says of the present state, if anything
   *  (a 410's `start_offset`). */
  constructor(status, code, message, current = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.current = current;
  }
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** `path` on this node with the user's token: the JSON answer (with
 *  `stream`, the response, its body unread), or an ApiError with the API's
 *  error code and message. Aborted with `signal`; fails after
 *  REQUEST_TIMEOUT_MS unless a stream. */
async function api(path, { method = 'GET', body, signal, stream = false } = {}) {
  const headers = { Accept: stream ? 'text/event-stream' : 'application/json' };
  const bearer = token();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const signals = [signal, stream ? null : AbortSignal.timeout(REQUEST_TIMEOUT_MS)].filter(present);
  const request = {
    method, headers, cache: 'no-store', credentials: 'omit', signal: AbortSignal.any(signals),
    body: body === undefined ? undefined : JSON.stringify(body),
  };
  let response;
  try {
    response = await fetch(path, request);
  } catch (error) {
    throw unanswered(error, signal);
  }
  if (!response.ok) throw await refusal(response);
  if (stream) return response;
  try {
    return await response.json();
  } catch (error) {
    throw unanswered(error, signal);
  }
}

/** Why a request got no answer: left behind by its page (rethrown as it
 *  is, and ignored), timed out, or the node is unreachable. */
function unanswered(error, signal) {
  if (signal?.aborted) return error;
  if (error.name === 'TimeoutError') {
    return new ApiError(0, 'timeout', `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`);
  }
  return new ApiError(0, 'unreachable', `the node did not answer (${error.message})`);
}

async function refusal(response) {
  const body = await response.json().catch(() => null);
  const error = body?.error ?? {};
  const code = error.code ?? `http_${response.status}`;
  return new ApiError(response.status, code, error.message ?? response.statusText, error.current);
}

/* ------------------------------------------------------------ pages */

let current = null;

/** One page on screen: when another replaces it, its requests are aborted
 *  and its timers stop. */
class View {
  constructor(page) {
    this.page = page;
    this.controller = new AbortController();
  }

  get signal() {
    return this.controller.signal;
  }

  get live() {
    return current === this && !this.signal.aborted;
  }

  close() {
    this.controller.abort();
  }

  get(path) {
    return api(path, { signal: this.signal });
  }

  send(method, path, body) {
    return api(path, { method, body, signal: this.signal });
  }

  show(...children) {
    if (this.live) main.replaceChildren(...children.filter(present));
  }

  /** Marks the page's data as on screen, once. */
  ready() {
    if (!this.live || main.dataset.ready === 'true') return;
    main.dataset.ready = 'true';
    performance.mark(`ordo:ready:${this.page}`);
  }

  /** Runs `task`, showing a failure in `where` (a 401 brings the token
   *  form) until a run succeeds. */
  async attempt(where, task) {
    try {
      await task();
      if (this.live) where.replaceChildren();
    } catch (error) {
      this.fail(where, error);
    }
  }

  fail(where, error) {
    if (!this.live) return;
    if (error.status === 401) return askForToken(error);
    if (!(error instanceof ApiError)) console.error(error);
    where.replaceChildren(problem(error));
  }

  /** `attempt(where, task)` now and again `ms` after each run ends, while
   *  the page is on screen; resolves after the first run. */
  async every(ms, where, task) {
    await this.attempt(where, task);
    if (this.live) setTimeout(() => this.live && this.every(ms, where, task), ms);
  }
}

/** Replaces the page on screen with `page`, drawn by `render(view)`. */
function open(page, render) {
  current?.close();
  const view = (current = new View(page));
  main.dataset.page = page;
  main.dataset.ready = 'false';
  main.replaceChildren();
  const nav = page === 'topic' ? 'topics' : page;
  for (const link of document.querySelectorAll('[data-nav]')) {
    if (link.dataset.nav === nav) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  performance.mark(`ordo:open:${page}`);
  render(view);
}

const PAGES = {
  cluster: clusterPage, topics: topicsPage, topic: topicPage, groups: groupsPage, queues: queuesPage, events: eventsPage,
};

/** The page and its parameters named by a URL fragment. */
function parseRoute(hash) {
  const [page, ...rest] = hash.replace(/^#\/?/, '').split('/');
  if (page === 'topics' && rest.length && rest[0]) {
    try {
      return { page: 'topic', topic: decodeURIComponent(rest.join('/')) };
    } catch {
      return { page: 'topics' };
    }
  }
  return { page: Object.hasOwn(PAGES, page) && page !== 'topic' ? page : 'cluster' };
}

function route() {
  const { page, ...params } = parseRoute(location.hash);
  open(page, (view) => PAGES[page](view, params));
}

/* ------------------------------------------------------------ token */

/** The token form, in place of the page asked for (which comes back once a
 *  token is given); `error` is the 401 that brought it, if any. */
function askForToken(error) {
  const stored = token();
  open('token', (view) => {
    const input = el('input', { type: 'password', name: 'token', autocomplete: 'off', required: true, size: 44 });
    const note = statusLine();
    let reason = 'The token this tab sends to the node.';
    if (error) reason = stored ? `This node refused the token: ${error.message}` : 'This node needs a token.';
    const submit = (event) => {
      event.preventDefault();
      useToken(input.value.trim(), note);
    };
    view.show(el('h1', {}, 'API token'),
      el('section', { class: 'token-form' },
        el('p', { 'data-field': 'token-reason' }, reason),
        el('form', { class: 'stacked', onsubmit: submit },
          el('label', {}, 'Token', input),
          el('div', { class: 'row' },
            el('button', { type: 'submit', class: 'primary' }, 'Use this token'),
            stored && el('button', { type: 'button', onclick: forgetToken }, 'Forget the token'))),
        note,
        el('p', { class: 'muted' },
          'Kept in this tab\u2019s session storage only; sent to this node as Authorization: Bearer.')));
    view.ready();
    input.focus();
  });
}

function useToken(value, note) {
  if (!/^[\x21-\x7e]+$/.test(value)) {
    note.replaceChildren(problem(new ApiError(0, 'invalid_token', 'a token is printable ASCII, without spaces')));
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, value);
  route();
  refreshHeader();
}

function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  route();
}

/* ------------------------------------------------------------ header */

/** The header's view of `GET /v1/cluster`: which node answers, who leads,
 *  the term; the Queues page in the nav once queues exist. */
function noteCluster(status) {
  const leader = present(status.leader) ? `leader: node ${status.leader}` : 'no leader';
  const self = status.leader === status.node_id ? 'the leader' : `${status.role} · ${leader}`;
  nodeLabel.textContent = `this is node ${status.node_id}, ${self} · term ${status.term}`;
  showQueuesPage(status.queues?.length > 0);
}

function showQueuesPage(yes) {
  document.querySelector('[data-nav="queues"]').hidden = !yes;
}

async function refreshHeader() {
  if (current?.page === 'token') return;
  try {
    noteCluster(await api('/v1/cluster'));
  } catch (error) {
    if (error.status !== 401) nodeLabel.textContent = `node: ${error.message}`;
  }
}

/* ------------------------------------------------------------ cluster */

/** Whether to ask `GET /v1/cluster/nodes` (each member's own view): not
 *  once this node answered 404 or 405 (it predates the route), nor with a
 *  token it refused. */
let nodesRouteMissing = false;
let nodesRouteRefusedFor;

async function clusterPage(view) {
  const summary = el('p', { class: 'summary' });
  const status = statusLine();
  const nodes = el('div');
  view.show(el('h1', {}, 'Cluster'), el('section', {}, summary, status, nodes));
  await view.every(REFRESH_MS.cluster, status, async () => {
    const [cluster, members] = await Promise.all([view.get('/v1/cluster'), memberViews(view)]);
    noteCluster(cluster);
    const rows = members ?? membersSeenBy(cluster);
    const leader = leaderOf(rows, cluster);
    summary.replaceChildren(clusterSummary(cluster, leader, members !== null));
    nodes.replaceChildren(table(NODE_HEADINGS, rows.map((node) => nodeRow(node, leader)), 'No members yet.'));
  });
  view.ready();
}

/** Each member's own view of itself, or null where this node cannot say. */
async function memberViews(view) {
  if (nodesRouteMissing || nodesRouteRefusedFor === token()) return null;
  try {
    return (await view.get('/v1/cluster/nodes')).nodes;
  } catch (error) {
    if (error.status === 404 || error.status === 405) nodesRouteMissing = true;
    else if (error.status === 403) nodesRouteRefusedFor = token();
    else throw error;
    return null;
  }
}

/** The members as the answering node sees them: itself in full, the
 *  others' roles from who leads, their lag from the leader's progress. */
function membersSeenBy(cluster) {
  const progress = new Map(cluster.followers.map((follower) => [follower.id, follower]));
  return cluster.members.map((member) => {
    const self = member.id === cluster.node_id;
    const own = (field) => (self ? cluster[field] : null);
    let role = member.voter ? 'follower' : 'learner';
    if (self) role = cluster.role;
    else if (member.id === cluster.leader) role = 'leader';
    return {
      ...member,
      role,
      reachable: self ? true : null,
      term: own('term'),
      last_log_index: own('last_log_index'),
      commit_index: own('commit_index'),
      last_applied_index: own('last_applied_index'),
      snapshot_index: own('snapshot_index'),
      health: own('health'),
      ready: own('ready'),
      lag_entries: member.id === cluster.leader ? 0 : progress.get(member.id)?.lag_entries ?? null,
    };
  });
}

/** The leader: the reachable member that says it leads in the highest
 *  term, else the one the answering node names. */
function leaderOf(rows, cluster) {
  const claims = rows.filter((node) => node.role === 'leader' && node.reachable !== false);
  claims.sort((a, b) => (b.term ?? 0) - (a.term ?? 0));
  return claims[0]?.id ?? cluster.leader ?? null;
}

function clusterSummary(cluster, leader, ownViews) {
  const source = ownViews
    ? 'each node\u2019s figures as it reports them'
    : `figures as node ${cluster.node_id} sees them`;
  return [
    present(leader) ? `Leader: node ${leader}` : 'No leader',
    `term ${cluster.term}`,
    `${cluster.members.length} members`,
    cluster.quorum ? 'quorum reached' : 'no quorum',
    `answered by node ${cluster.node_id} (${source})`,
  ].join(' · ');
}

const NODE_HEADINGS = ['Node', 'Address', 'Role', numeric('Term'), numeric('Last log'), numeric('Commit'),
  numeric('Applied'), numeric('Snapshot'), numeric('Lag'), 'Health', 'Ready'];

function nodeRow(node, leader) {
  const down = node.reachable === false;
  const leads = node.id === leader;
  let health = node.health ?? DASH;
  if (down) health = node.error ?? 'unreachable';
  return el('tr', { 'data-node-id': node.id, 'data-leader': String(leads), class: down ? 'unreachable' : null },
    el('td', { 'data-field': 'id', 'data-value': node.id }, `node ${node.id}`, leads && el('span', { class: 'badge' }, 'leader')),
    cell('addr', node.addr),
    cell('role', down ? null : node.role, down ? 'unreachable' : null),
    count('term', node.term),
    count('last_log_index', node.last_log_index),
    count('commit_index', node.commit_index),
    count('last_applied_index', node.last_applied_index),
    count('snapshot_index', node.snapshot_index),
    count('lag_entries', node.lag_entries),
    el('td', { 'data-field': 'health', 'data-value': down ? '' : node.health ?? '', class: healthClass(node, down) }, health),
    cell('ready', node.ready, present(node.ready) ? (node.ready ? 'yes' : 'no') : DASH));
}

function healthClass(node, down) {
  if (down) return 'bad';
  if (!present(node.health)) return null;
  return node.health === 'ok' ? 'good' : 'warn';
}

/* ------------------------------------------------------------ topics */

const topicList = { filter: '', page: 0 };
const topicSamples = new Samples('ordo.console.samples.topics');

const TOPIC_HEADINGS = ['Topic', 'Cleanup', 'Retention', 'Retention size', numeric('Start'), numeric('End'),
  numeric('Records'), numeric('Bytes'), numeric('Append rate')];

function topicsPage(view) {
  return listPage(view, {
    title: 'Topics', state: topicList, noun: 'topics', headings: TOPIC_HEADINGS, row: topicRow,
    keyOf: (topic) => topic.topic, empty: 'No topics to show: an append creates its topic.', ms: REFRESH_MS.topics,
    async load() {
      const { topics } = await view.get('/v1/topics');
      topicSamples.record(topics.map((topic) => [topic.topic, topic.end_offset]));
      return topics;
    },
  });
}

const retentionTime = (config) => (present(config.retention_ms) ? duration(config.retention_ms) : 'forever');
const retentionSize = (config) => (present(config.retention_bytes) ? bytes(config.retention_bytes) : 'unbounded');

function topicHref(name) {
  return `#/topics/${encodeURIComponent(name)}`;
}

function topicRow(topic) {
  const { config } = topic;
  const rates = perSecond(topicSamples.points(topic.topic));
  const latest = rates.at(-1);
  return el('tr', { 'data-topic': topic.topic },
    el('td', { 'data-field': 'topic', 'data-value': topic.topic }, el('a', { href: topicHref(topic.topic) }, topic.topic)),
    cell('cleanup', config.cleanup),
    cell('retention_ms', config.retention_ms, retentionTime(config), false),
    cell('retention_bytes', config.retention_bytes, retentionSize(config), false),
    count('start_offset', topic.start_offset),
    count('end_offset', topic.end_offset),
    count('records', topic.records),
    cell('bytes', topic.bytes, bytes(topic.bytes)),
    el('td', { 'data-field': 'rate', 'data-value': present(latest) ? latest.toFixed(3) : '', class: 'num' },
      el('span', { class: 'rate' }, sparkline(rates, `appends per second to ${topic.topic}`), perSecondText(latest))));
}

/* ------------------------------------------------------------ one topic */

async function topicPage(view, { topic }) {
  const path = `/v1/topics/${encodeURIComponent(topic)}`;
  const facts = el('div');
  const status = statusLine();
  const browser = recordBrowser(view, path);
  const tail = liveTail(view, path);
  view.show(el('h1', {}, el('a', { href: '#/topics' }, 'Topics'), ' › ', topic),
    el('section', { 'data-section': 'info' }, status, facts),
    browser.element, tail.element, appendForm(view, path));
  let info = null;
  await view.every(REFRESH_MS.topic, status, async () => {
    info = await topicInfo(view, path);
    facts.replaceChildren(topicFacts(info));
    browser.bound(info);
  });
  await browser.latest();
  tail.follow(info?.end_offset ?? 0);
  view.ready();
}

/** The topic's info, or null if it does not exist (yet). */
async function topicInfo(view, path) {
  try {
    return await view.get(path);
  } catch (error) {
    if (error.status === 404) return null;
    throw error;
  }
}

function topicFacts(info) {
  if (!info) return el('p', { class: 'notice' }, 'No such topic yet: the first append creates it.');
  const { config } = info;
  const fact = (label, field, value, shown) => el('div', {}, el('dt', {}, label),
    el('dd', { 'data-field': field, 'data-value': present(value) ? value : '' }, shown ?? number(value)));
  return el('dl', { class: 'facts' },
    fact('Cleanup', 'cleanup', config.cleanup, config.cleanup),
    fact('Retention', 'retention_ms', config.retention_ms, retentionTime(config)),
    fact('Retention size', 'retention_bytes', config.retention_bytes, retentionSize(config)),
    fact('Start', 'start_offset', info.start_offset),
    fact('End', 'end_offset', info.end_offset),
    fact('Records', 'records', info.records),
    fact('Bytes', 'bytes', info.bytes, bytes(info.bytes)));
}

const RECORD_HEADINGS = [numeric('Offset'), 'Time (UTC)', 'Key', 'Value', 'Headers'];

function recordRow(record, fresh = false) {
  return el('tr', { 'data-offset': record.offset, class: fresh ? 'fresh' : null },
    count('offset', record.offset),
    cell('timestamp_ms', record.timestamp_ms, time(record.timestamp_ms), false),
    cell('key', record.key),
    valueCell(record),
    headersCell(record.headers ?? {}));
}

/** A JSON value pretty-printed; bytes that are not UTF-8 (`value_b64`) as
 *  their size and base64. */
function valueCell(record) {
  if (present(record.value_b64)) {
    const size = atob(record.value_b64).length;
    return el('td', { 'data-field': 'value', 'data-value': record.value_b64, 'data-encoding': 'base64' },
      el('span', { class: 'muted' }, `${number(size)} bytes, base64 `), el('code', { class: 'bytes' }, record.value_b64));
  }
  const tombstone = record.value === null && present(record.key);
  const compact = JSON.stringify(record.value);
  const shown = compact.length <= COMPACT_JSON_CHARS ? compact : JSON.stringify(record.value, null, 2);
  return el('td', { 'data-field': 'value', 'data-value': compact, 'data-encoding': 'json' },
    el('pre', {}, shown), tombstone && el('span', { class: 'muted' }, 'tombstone'));
}

function headersCell(headers) {
  const items = Object.entries(headers).map(([name, value]) => el('li', {}, el('code', {}, name), ': ', value));
  return el('td', { 'data-field': 'headers', 'data-value': JSON.stringify(headers) },
    items.length ? el('ul', { class: 'headers' }, items) : el('span', { class: 'muted' }, DASH));
}

/** Records by offset or by time, a page at a time, older and newer. */
function recordBrowser(view, path) {
  const bounds = { start: 0, end: 0 };
  let from = 0;
  let next = 0;
  const status = statusLine();
  const body = el('div');
  const range = el('span', { class: 'range', 'data-control': 'range' });
  const read = (offset) => view.attempt(status, () => show(offset));
  const button = (control, label, offset) =>
    el('button', { type: 'button', 'data-control': control, onclick: () => read(offset()) }, label);
  const older = button('older', '‹ Older', () => from - RECORDS_PER_PAGE);
  const newer = button('newer', 'Newer ›', () => next);
  const latest = button('latest', 'Latest', () => bounds.end - RECORDS_PER_PAGE);
  const offsetInput = el('input',
    { type: 'number', min: 0, placeholder: 'offset', 'aria-label': 'From offset', 'data-control': 'from' });
  const timeInput = el('input', { type: 'datetime-local', step: 1, 'aria-label': 'From time (UTC)', 'data-control': 'time' });
  const byOffset = (event) => {
    event.preventDefault();
    read(Number(offsetInput.value));
  };
  const byTime = (event) => {
    event.preventDefault();
    view.attempt(status, () => showFromTime(Date.parse(`${timeInput.value}Z`)));
  };

  async function show(offset) {
    const start = Math.max(bounds.start, Math.floor(offset) || 0);
    const page = await view.get(`${path}/records?from=${start}&limit=${RECORDS_PER_PAGE}`);
    [from, next, bounds.end] = [start, page.next_offset, page.end_offset];
    const shown = page.records;
    const held = bounds.end > bounds.start ? `${number(bounds.start)}–${number(bounds.end - 1)}` : 'none';
    const showing = shown.length ? `${number(shown[0].offset)}–${number(shown.at(-1).offset)}` : `none from ${number(start)}`;
    range.textContent = `offsets ${showing} (the topic holds ${held})`;
    older.disabled = from <= bounds.start;
    newer.disabled = next >= bounds.end;
    body.replaceChildren(table(RECORD_HEADINGS, shown.map((record) => recordRow(record)), 'No records here.'));
  }

  async function showFromTime(timestampMs) {
    if (Number.isNaN(timestampMs)) throw new ApiError(0, 'invalid_time', 'pick a date and time');
    const { offset } = await view.get(`${path}/offsets?timestamp_ms=${timestampMs}`);
    await show(offset);
  }

  return {
    element: el('section', { 'data-section': 'records' }, el('h2', {}, 'Records'),
      el('div', { class: 'controls' }, older, range, newer, latest,
        el('form', { class: 'inline', onsubmit: byOffset }, offsetInput, el('button', { type: 'submit' }, 'Go to offset')),
        el('form', { class: 'inline', onsubmit: byTime }, timeInput, el('button', { type: 'submit' }, 'Go to time'))),
      status, body),
    /** Learns the topic's start and end. */
    bound(info) {
      bounds.start = info?.start_offset ?? 0;
      bounds.end = info?.end_offset ?? 0;
    },
    latest: () => read(bounds.end - RECORDS_PER_PAGE),
  };
}

/** The topic's new records as they are appended, over the SSE stream (read
 *  with fetch, since EventSource cannot send the token), with pause and
 *  resume, reconnecting after a failure from the last record seen. */
function liveTail(view, path) {
  let next = 0;
  let stream = null;
  let paused = false;
  const state = el('span', { class: 'tail-state', 'data-field': 'tail-state' });
  const status = statusLine();
  const rows = el('tbody');
  const toggle = el('button',
    { type: 'button', 'data-control': 'tail-toggle', 'aria-pressed': 'false', onclick: () => pause(!paused) }, 'Pause');
  const say = (text, live = false) => {
    state.textContent = text;
    state.classList.toggle('live', live);
  };

  function pause(yes) {
    paused = yes;
    toggle.textContent = yes ? 'Resume' : 'Pause';
    toggle.setAttribute('aria-pressed', String(yes));
    if (yes) {
      stream?.abort();
      say(`paused before offset ${number(next)}`);
    } else {
      run();
    }
  }

  async function run() {
    for (let failures = 0; view.live && !paused;) {
      stream = new AbortController();
      const stop = () => stream.abort();
      view.signal.addEventListener('abort', stop, { once: true });
      try {
        const response = await api(`${path}/stream?from=${next}`, { stream: true, signal: stream.signal });
        say(`following from offset ${number(next)}`, true);
        status.replaceChildren();
        failures = 0;
        for await (const record of sseRecords(response.body)) add(record);
      } catch (error) {
        if (stream.signal.aborted) return;
        if (error.status === 401 || error.status === 403) return view.fail(status, error);
        if (error.status === 410 && present(error.current?.start_offset)) next = error.current.start_offset;
        status.replaceChildren(problem(error));
        failures += 1;
      } finally {
        view.signal.removeEventListener('abort', stop);
      }
      const wait = TAIL_RETRY_MS[Math.min(failures, TAIL_RETRY_MS.length - 1)];
      say(`disconnected: reconnecting in ${duration(wait)}`);
      await sleep(wait, view.signal);
    }
  }

  function add(record) {
    next = record.offset + 1;
    rows.prepend(recordRow(record, true));
    while (rows.children.length > TAIL_ROWS) rows.lastChild.remove();
    say(`following: last offset ${number(record.offset)}`, true);
  }

  return {
    element: el('section', { 'data-section': 'tail' }, el('h2', {}, 'Live tail ', state),
      el('div', { class: 'controls' }, toggle, el('span', { class: 'muted' }, `newest first, the last ${TAIL_ROWS} kept`)),
      status,
      el('table', {}, thead(RECORD_HEADINGS), rows)),
    follow(from) {
      next = from;
      run();
    },
  };
}

/** The records of a Server-Sent Events body (`id: N`, `data: {record}`,
 *  comments as keep-alives), as they arrive. */
async function* sseRecords(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const data = buffer.slice(0, end).split('\n').filter((line) => line.startsWith('data:'));
      buffer = buffer.slice(end + 2);
      if (data.length) yield JSON.parse(data.map((line) => line.slice(5).trimStart()).join('\n'));
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

/** A form that appends one record and says at which offset, or why not. */
function appendForm(view, path) {
  const key = el('input', { name: 'key', placeholder: 'none', 'data-control': 'key' });
  const value = el('textarea', { name: 'value', rows: 4, 'data-control': 'value' });
  const kind = el('select', { name: 'as', 'data-control': 'as' },
    el('option', { value: 'json' }, 'JSON'), el('option', { value: 'text' }, 'text (a JSON string)'));
  const headers = el('textarea', { name: 'headers', rows: 2, placeholder: 'name: value, one a line', 'data-control': 'headers' });
  const submit = el('button', { type: 'submit', class: 'primary', 'data-control': 'append' }, 'Append');
  const result = el('div', { 'data-field': 'append-result', 'aria-live': 'polite' });
  const report = (outcome, ...children) => {
    result.dataset.status = outcome;
    result.replaceChildren(...children);
  };

  async function append(event) {
    event.preventDefault();
    let record;
    try {
      record = newRecord(key.value, value.value, kind.value, headers.value);
    } catch (error) {
      return report('invalid', problem(new ApiError(0, 'invalid_record', error.message)));
    }
    submit.disabled = true;
    try {
      const answer = await view.send('POST', `${path}/records`, { records: [record] });
      result.dataset.value = answer.offsets[0];
      const where = `offset ${number(answer.offsets[0])} (log index ${number(answer.log_index)})`;
      report('ok', el('p', { class: 'good' }, `Appended at ${where}.`));
    } catch (error) {
      if (!view.live) return;
      if (error.status === 401) return askForToken(error);
      report(error.status === 403 ? 'forbidden' : 'error', problem(error));
    } finally {
      submit.disabled = false;
    }
  }

  return el('section', { 'data-section': 'append' }, el('h2', {}, 'Append a record'),
    el('form', { class: 'stacked', onsubmit: append },
      el('div', { class: 'row' }, el('label', {}, 'Key', key), el('label', {}, 'Value as', kind)),
      el('label', {}, 'Value', value),
      el('label', {}, 'Headers', headers),
      el('div', { class: 'row' }, submit)),
    result);
}

/** The record a form describes; throws, in words, if it describes none. */
function newRecord(key, text, kind, headerLines) {
  const record = { value: kind === 'json' ? parseJson(text) : text };
  if (key !== '') record.key = key;
  const headers = parseHeaders(headerLines);
  if (Object.keys(headers).length) record.headers = headers;
  return record;
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`the value is not JSON (${error.message}); choose "text" to append it as a string`);
  }
}

/** `name: value` lines as an object (empty lines skipped). */
function parseHeaders(text) {
  const lines = text.split('\n').map((line) => line.trim()).filter(Boolean);
  return Object.fromEntries(lines.map((line, i) => {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`header line ${i + 1} is not "name: value"`);
    return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
  }));
}

/* ------------------------------------------------------------ groups */

const groupList = { filter: '', page: 0 };
const lagSamples = new Samples('ordo.console.samples.lag');
const lagSeries = (position) => `${position.group}\n${position.topic}`;

const GROUP_HEADINGS = ['Group', 'Topic', numeric('Position'), numeric('End'), numeric('Lag'), numeric('Lag over time')];

function groupsPage(view) {
  return listPage(view, {
    title: 'Consumer groups', state: groupList, noun: 'groups', headings: GROUP_HEADINGS, row: positionRow,
    keyOf: (position) => `${position.group} ${position.topic}`, empty: 'No consumer group has a position yet.',
    ms: REFRESH_MS.groups,
    async load() {
      const cluster = await view.get('/v1/cluster');
      noteCluster(cluster);
      const positions = Object.entries(cluster.consumers ?? {}).flatMap(([group, topics]) =>
        Object.entries(topics).map(([topic, position]) => ({ group, topic, ...position })));
      lagSamples.record(positions.map((position) => [lagSeries(position), position.lag_records]));
      return positions;
    },
  });
}

function topicCell(topic) {
  return el('td', { 'data-field': 'topic', 'data-value': topic }, el('a', { href: topicHref(topic) }, topic));
}

function positionRow(position) {
  const lags = lagSamples.points(lagSeries(position)).map(([, lag]) => lag);
  const behind = position.lag_records > 0;
  return el('tr', { 'data-group': position.group, 'data-topic': position.topic },
    cell('group', position.group),
    topicCell(position.topic),
    count('offset', position.offset),
    count('end_offset', position.end_offset),
    el('td', { 'data-field': 'lag_records', 'data-value': position.lag_records, class: behind ? 'num warn' : 'num good' },
      number(position.lag_records)),
    el('td', { 'data-field': 'lag_history', class: 'num' },
      sparkline(lags, `records ${position.group} is behind in ${position.topic}`)));
}

/* ------------------------------------------------------------ queues */

const QUEUE_HEADINGS = ['Group', 'Topic', numeric('Pending'), numeric('In flight'), numeric('Acked'),
  numeric('Dead-lettered'), numeric('Oldest pending'), numeric('Floor'), numeric('End'), 'Settings'];

async function queuesPage(view) {
  const status = statusLine();
  const body = el('div');
  view.show(el('h1', {}, 'Work queues'), el('section', {}, status, body));
  await view.every(REFRESH_MS.queues, status, async () => {
    const { queues } = await view.get('/v1/queues');
    body.replaceChildren(table(QUEUE_HEADINGS, queues.map(queueRow), 'No queues: PUT /v1/queues/{group}/{topic} makes one.'));
  });
  view.ready();
}

function queueRow(queue) {
  const { config } = queue;
  const settings = [`lease ${duration(config.lease_ms)}`, `${config.max_deliveries} deliveries`,
    `dead letters to ${config.dead_letter_topic}`, config.ordered_by_key && 'ordered by key'].filter(Boolean);
  const oldest = queue.pending ? duration(queue.oldest_pending_age_ms) : DASH;
  return el('tr', { 'data-group': queue.group, 'data-topic': queue.topic, 'data-queue': `${queue.group}/${queue.topic}` },
    cell('group', queue.group),
    topicCell(queue.topic),
    count('pending', queue.pending),
    count('in_flight', queue.in_flight),
    count('acked', queue.acked),
    el('td', { 'data-field': 'dead_lettered', 'data-value': queue.dead_lettered, class: queue.dead_lettered ? 'num bad' : 'num' },
      number(queue.dead_lettered)),
    cell('oldest_pending_age_ms', queue.oldest_pending_age_ms, oldest, true),
    count('floor_offset', queue.floor_offset),
    count('end_offset', queue.end_offset),
    cell('settings', null, settings.join(' · ')));
}

/* ------------------------------------------------------------ events */

const eventList = { filter: '', page: 0 };
/** Whether this node answered GET /v1/events with 404 or 405 (it predates
 *  the event log): then it is not asked again. */
let eventsRouteMissing = false;

const EVENT_HEADINGS = ['Time (UTC)', 'Node', 'Kind', numeric('Term'), 'What happened'];

function eventsPage(view) {
  return listPage(view, {
    title: 'Events', state: eventList, noun: 'events', headings: EVENT_HEADINGS, row: eventRow,
    intro: 'Elections, membership changes, snapshots, compaction and retention passes and errors, newest first.',
    keyOf: (event) => `${event.kind} ${event.message}`, empty: 'No events yet.', ms: REFRESH_MS.events,
    missing: 'This node keeps no event log: it predates GET /v1/events.',
    load: async () => (await recentEvents(view))?.reverse() ?? null,
  });
}

/** The node's recent events, oldest first, or null where it keeps none. */
async function recentEvents(view) {
  if (eventsRouteMissing) return null;
  try {
    return (await view.get(`/v1/events?limit=${EVENTS_LIMIT}`)).events;
  } catch (error) {
    if (error.status !== 404 && error.status !== 405) throw error;
    eventsRouteMissing = true;
    return null;
  }
}

function eventRow(event) {
  const trouble = /fail|error|lost|below/.test(event.kind);
  return el('tr', { 'data-kind': event.kind, 'data-seq': event.seq, class: trouble ? 'warn' : null },
    cell('at_ms', event.at_ms, time(event.at_ms), false),
    cell('node_id', event.node_id, `node ${event.node_id}`, false),
    cell('kind', event.kind, event.kind.replaceAll('_', ' ')),
    count('term', event.term),
    cell('message', event.message));
}

/* ------------------------------------------------------------ start */

document.getElementById('token-button').addEventListener('click', () => askForToken(null));
window.addEventListener('hashchange', route);
route();
refreshHeader();
setInterval(refreshHeader, REFRESH_MS.header);
