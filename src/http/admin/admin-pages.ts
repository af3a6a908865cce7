import { EVENT_SEARCH_FIELDS, type EventSearchResult } from '../../queue/event-search.js';
import { DRY_RUN_STATUS, type ActionStatus, type FailedAction, type FailedEvent, type QuarantinedEvent, type RuleErrorSummary } from '../../queue/operations.js';
import type { TraceGrouped, TraceRun, TraceSuppressed } from '../../queue/trace.js';
import { describeFalseParts } from '../../rules/condition-explanation.js';
import { formatProblem, type RuleProblem } from '../../rules/problems.js';
import type { AdminOverview, EventDetail, LiveView, RecentEventSummary } from './admin-data.js';
import { sourceRegistry } from '../../sources/registry.js';
import { html, type SafeHtml } from './html.js';

/** An event id of the first registered source, as the lookup's example (`firstpromoter-22736304`). */
const EXAMPLE_EVENT_ID = `${Object.keys(sourceRegistry)[0] ?? 'source'}-22736304`;

/** Everything the dashboard page shows; built by the router, rendered here without I/O. */
export interface DashboardView {
  readonly overview: AdminOverview;
  readonly failed: readonly FailedAction[];
  /** Event jobs that used all their attempts. @defaultValue none */
  readonly failedEvents?: readonly FailedEvent[];
  readonly quarantined: readonly QuarantinedEvent[];
  /** Rules that failed on real events (conditions that could not be evaluated, actions not planned). @defaultValue none */
  readonly ruleErrors?: readonly RuleErrorSummary[];
  readonly recent: readonly RecentEventSummary[];
  /** The event asked for with `?event=`, and its detail (`null` when no trace is kept). */
  readonly lookup: { readonly eventId: string; readonly detail: EventDetail | null } | null;
  /** Problems of the rule files that did not (re)load: the live rules are older than the files. @defaultValue none */
  readonly ruleProblems?: readonly RuleProblem[];
  /** An events search (`?email=…&promoter=…&rule=…&type=…`): the terms as typed, and what it found or why it was refused. @defaultValue none */
  readonly search?: EventSearchView | null;
}

/** An events search as the page shows it. */
export interface EventSearchView {
  /** The terms as typed (shown back in the form, escaped). */
  readonly terms: Readonly<Partial<Record<(typeof EVENT_SEARCH_FIELDS)[number], string>>>;
  readonly outcome: { readonly result: EventSearchResult; readonly cap: number } | { readonly error: string };
}

/** The form's label and example per search field. */
const SEARCH_FIELD_LABELS: Record<(typeof EVENT_SEARCH_FIELDS)[number], { readonly label: string; readonly example: string }> = {
  email: { label: 'Lead email', example: 'jane@example.com' },
  promoter: { label: 'Promoter (id, email or name)', example: 'promoter@example.com' },
  rule: { label: 'Rule id', example: 'new-lead-to-slack' },
  type: { label: 'Type (or glob)', example: 'affiliate.lead.*' },
};

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;

/**
 * Class names come from this list only, never from data: a state string is shown as text and
 * mapped to a known badge colour.
 */
const BADGE_CLASSES: Record<string, string> = {
  completed: 'badge-ok',
  // A dry-run completed without sending anything: never the green of a delivered action.
  'dry-run': 'badge-warn',
  valid: 'badge-ok',
  matched: 'badge-ok',
  failed: 'badge-bad',
  quarantined: 'badge-warn',
  removed: 'badge-muted',
  delayed: 'badge-warn',
  active: 'badge-info',
  waiting: 'badge-info',
  'waiting-children': 'badge-info',
  prioritized: 'badge-info',
  condition_false: 'badge-muted',
  condition_error: 'badge-bad',
};

function badge(text: string): SafeHtml {
  return html`<span class="badge ${BADGE_CLASSES[text] ?? 'badge-muted'}">${text}</span>`;
}

/** ISO timestamps without milliseconds; what an operator reads and greps logs for. */
function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function prettyJson(value: unknown): SafeHtml {
  return html`<pre class="json">${JSON.stringify(value, null, 2)}</pre>`;
}

/** A link to an event's trace on the dashboard; the id is URL-encoded, then HTML-escaped. */
function eventLink(eventId: string): SafeHtml {
  return html`<a class="event-link" href="/admin?event=${encodeURIComponent(eventId)}#trace">${eventId}</a>`;
}

/** A button the dashboard script turns into a POST to `url` (with the same-origin header). */
function postButton(label: string, url: string, extra: { jobId?: string; eventId?: string; confirm?: string } = {}): SafeHtml {
  return html`<button type="button" class="js-post" data-url="${url}" data-label="${label}"${
    extra.jobId !== undefined ? html` data-job-id="${extra.jobId}"` : ''
  }${extra.eventId !== undefined ? html` data-event-id="${extra.eventId}"` : ''}${
    extra.confirm !== undefined ? html` data-confirm="${extra.confirm}"` : ''
  }>${label}</button>`;
}

function retryButton(jobId: string, eventId: string): SafeHtml {
  return postButton('Retry', `/admin/api/failed/${encodeURIComponent(jobId)}/retry`, { jobId, eventId });
}

function layout(title: string, body: SafeHtml, options: { signedIn: boolean }): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<link rel="icon" href="/admin/assets/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/admin/assets/dashboard.css">
<script src="/admin/assets/dashboard.js" defer></script>
</head>
<body>
<header class="top">
<h1><a href="/admin">affiliate-bridge</a> <span class="subtitle">admin</span></h1>
${options.signedIn ? html`<nav><span id="live-status" class="live-status" role="status" hidden></span><a href="/admin">Refresh</a><form method="post" action="/admin/logout"><button type="submit" class="link">Log out</button></form></nav>` : ''}
</header>
<p id="flash" class="flash" role="status" hidden></p>
<main>
${body}
</main>
</body>
</html>
`.value;
}

/** The login form. `error` is one of our own sentences, never request text. */
export function renderLoginPage(options: { error?: string; next: string }): string {
  return layout(
    'Log in · affiliate-bridge',
    html`<section class="login">
<h2>Log in</h2>
<p>Enter the bridge's <code>ADMIN_TOKEN</code>.</p>
${options.error ? html`<p class="error" role="alert">${options.error}</p>` : ''}
<form method="post" action="/admin/login">
<input type="hidden" name="next" value="${options.next}">
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button>
</form>
</section>`,
    { signedIn: false },
  );
}

function renderQueues(overview: AdminOverview): SafeHtml {
  const rows = Object.entries(overview.queues).map(
    ([queue, counts]) => html`<tr><th scope="row">${queue}</th>${QUEUE_STATES.map(
      (state) => html`<td class="num${state === 'failed' && (counts[state] ?? 0) > 0 ? ' alert' : ''}" data-queue="${queue}" data-state="${state}">${counts[state] ?? 0}</td>`,
    )}</tr>`,
  );
  return html`<section id="queues" data-live="queues">
<h2>Queues</h2>
<table class="grid queues">
<thead><tr><th>queue</th>${QUEUE_STATES.map((state) => html`<th class="num">${state}</th>`)}</tr></thead>
<tbody>${rows}</tbody>
</table>
<p class="muted" id="events-completed-note">A planned event leaves the events queue (its trace is the record, kept DEDUP_TTL): the events received below count them. The events queue counts jobs: deliveries stored together share one.</p>
${renderIntegrations(overview)}
${renderReconciliation(overview)}
<p class="throughput">Events received: <strong id="events-5m">${overview.throughput.eventsLast5Minutes}</strong> in the last 5 minutes,
<strong id="events-60m">${overview.throughput.eventsLast60Minutes}</strong> in the last 60 minutes. <span class="muted">As of ${formatTime(overview.generatedAt)}.</span></p>
</section>`;
}

/** One line per integration; a paused one is an alert: its actions are not going out. */
function renderIntegrations(overview: AdminOverview): SafeHtml {
  if (overview.integrations.length === 0) return html``;
  const items = overview.integrations.map((status) =>
    status.state === 'paused'
      ? html`<li class="alert" data-integration="${status.integration}" data-state="paused">${status.summary} <span class="muted">since ${formatTime(status.pausedSince ?? null)}: its actions wait until the token works again</span></li>`
      : html`<li data-integration="${status.integration}" data-state="running">${status.summary}</li>`,
  );
  return html`<ul class="integrations" id="integrations">${items}</ul>`;
}

/** One line per source reconciled from its API: when its last run succeeded. */
function renderReconciliation(overview: AdminOverview): SafeHtml {
  if (overview.reconciliation.length === 0) return html``;
  const items = overview.reconciliation.map((status) =>
    status.lastSuccessAt === null
      ? html`<li data-reconcile-source="${status.source}">${status.source}: not reconciled yet</li>`
      : html`<li data-reconcile-source="${status.source}">${status.source}: last reconciled <time datetime="${status.lastSuccessAt}">${formatTime(status.lastSuccessAt)}</time></li>`,
  );
  return html`<ul class="reconciliation" id="reconciliation">${items}</ul>`;
}

function renderFailed(failed: readonly FailedAction[]): SafeHtml {
  const body =
    failed.length === 0
      ? html`<p class="empty">No failed actions.</p>`
      : html`<table class="grid" id="failed-table">
<thead><tr><th>job</th><th>action</th><th>rule</th><th>event</th><th>error</th><th class="num">attempts</th><th>failed at</th><th></th></tr></thead>
<tbody>${failed.map(
          (entry) => html`<tr data-job-id="${entry.jobId}">
<td><code>${entry.jobId}</code></td>
<td>${entry.action}</td>
<td>${entry.ruleId}</td>
<td>${eventLink(entry.eventId)}</td>
<td class="error-text">${entry.error}
<details><summary>params and attempts</summary>${prettyJson(entry.params)}${
            entry.history.length > 0 ? html`<ol class="history">${entry.history.map((line) => html`<li>${line}</li>`)}</ol>` : ''
          }</details></td>
<td class="num">${entry.attemptsMade}</td>
<td class="nowrap">${formatTime(entry.failedAt)}</td>
<td>${canRetrySucceed(entry) ? retryButton(entry.jobId, entry.eventId) : renderPlanFailureAdvice(entry.eventId)}</td>
</tr>`,
        )}</tbody>
</table>`;
  // Retry all skips plan failures (see retryAllFailedActions): the count is what it would retry.
  const retryable = failed.filter(canRetrySucceed).length;
  return html`<section id="dead-letters" data-live="dead-letters">
<div class="section-head"><h2>Dead letters <span class="count">${failed.length}</span></h2>
${retryable > 0 ? postButton('Retry all', '/admin/api/failed/retry-all', { confirm: `Retry all ${retryable} failed action(s)?` }) : ''}</div>
${body}
</section>`;
}

/**
 * Whether sending an action again can succeed, so a Retry button makes sense. An action job that
 * failed (a missing channel, a refused token, a vendor outage) can, once its cause is fixed: its
 * rendered params are kept and sent again. A plan failure cannot: it has no job, and what failed
 * is the rule (a template, params that do not validate) on this payload, which a retry would meet
 * again; the rule must change, then the event be replayed.
 */
export function canRetrySucceed(entry: { readonly kind: 'action' | 'plan' }): boolean {
  return entry.kind === 'action';
}

/** What to do instead of retrying a plan failure: the exact command, and the trace with its Replay button. */
function renderPlanFailureAdvice(eventId: string): SafeHtml {
  return html`<p class="advice">Could not be planned: a retry would fail the same way. Fix the rule, then replay the event: <code>affiliate-bridge events replay ${eventId}</code> (or Replay on ${eventLink(eventId)}).</p>`;
}

/** Shown only when an event job failed for good: planning it needs only Redis, so this is rare and urgent. */
function renderFailedEvents(failed: readonly FailedEvent[]): SafeHtml {
  // An empty placeholder keeps the place where a refresh puts the section when one fails.
  if (failed.length === 0) return html`<div data-live="failed-events" hidden></div>`;
  return html`<section id="failed-events" data-live="failed-events">
<div class="section-head"><h2>Failed event jobs <span class="count">${failed.length}</span></h2>
${postButton('Retry all', '/admin/api/failed-events/retry-all', { confirm: `Retry all ${failed.length} failed event job(s)?` })}</div>
<p class="muted">Events stored but not planned: every attempt failed (usually Redis trouble). Retrying plans them with the current rules.</p>
<table class="grid" id="failed-events-table">
<thead><tr><th>job</th><th>event</th><th>type</th><th>error</th><th class="num">attempts</th><th>failed at</th><th></th></tr></thead>
<tbody>${failed.map(
    (entry) => html`<tr data-job-id="${entry.jobId}">
<td><code>${entry.jobId}</code></td>
<td>${eventLink(entry.eventId)}</td>
<td>${entry.type}</td>
<td class="error-text">${entry.error}</td>
<td class="num">${entry.attemptsMade}</td>
<td class="nowrap">${formatTime(entry.failedAt)}</td>
<td>${postButton('Retry', `/admin/api/failed-events/${encodeURIComponent(entry.jobId)}/retry`, { jobId: entry.jobId, eventId: entry.eventId })}</td>
</tr>`,
  )}</tbody>
</table>
</section>`;
}

function renderQuarantined(quarantined: readonly QuarantinedEvent[]): SafeHtml {
  const body =
    quarantined.length === 0
      ? html`<p class="empty">No quarantined events.</p>`
      : html`<table class="grid" id="quarantine-table">
<thead><tr><th>event</th><th>type</th><th>received</th><th>validation errors</th><th></th></tr></thead>
<tbody>${quarantined.map(
          (event) => html`<tr data-event-id="${event.eventId}">
<td>${eventLink(event.eventId)}</td>
<td>${event.type}</td>
<td class="nowrap">${formatTime(event.receivedAt)}</td>
<td><ul class="plain">${event.validationErrors.map((problem) => html`<li>${problem}</li>`)}</ul></td>
<td>${postButton('Replay', `/admin/api/events/${encodeURIComponent(event.eventId)}/replay`, { eventId: event.eventId })}</td>
</tr>`,
        )}</tbody>
</table>`;
  return html`<section id="quarantine">
<h2>Quarantined events <span class="count">${quarantined.length}</span></h2>
<p class="muted">Stored but not matched: they failed their schema, have an unknown type, or reused a known event id with another body (conflicting duplicates, which only rules on <code>&lt;source&gt;.conflicting_duplicate</code> see). Replay one after fixing the schema or rules.</p>
${body}
</section>`;
}

function renderRuleErrors(errors: readonly RuleErrorSummary[]): SafeHtml {
  const body =
    errors.length === 0
      ? html`<p class="empty">No rule has failed on an event.</p>`
      : html`<table class="grid" id="rule-errors-table">
<thead><tr><th>rule</th><th>errors</th><th>latest error</th><th>event</th><th>at</th></tr></thead>
<tbody>${errors.map(
          (entry) => html`<tr data-rule-id="${entry.ruleId}">
<td>${entry.ruleId}</td>
<td>${String(entry.count)}</td>
<td>${entry.latest?.error ?? ''}</td>
<td>${entry.latest ? eventLink(entry.latest.eventId) : ''}</td>
<td class="nowrap">${entry.latest ? formatTime(entry.latest.at) : ''}</td>
</tr>`,
        )}</tbody>
</table>`;
  return html`<section id="rule-errors">
<h2>Rule errors <span class="count">${errors.length}</span></h2>
<p class="muted">Conditions that failed to evaluate (the rule did not match) and actions that could not be planned, on real events. Fix the rule, then replay the event.</p>
${body}
</section>`;
}

function renderRun(run: TraceRun): SafeHtml {
  const title = run.generation === 0 ? 'First run' : `Replay ${run.generation}`;
  const rules = [
    ...run.matched.map((rule) => html`<tr><td>${rule.ruleId}</td><td>${rule.file}</td><td>${badge('matched')}</td><td></td></tr>`),
    ...run.unmatched.map(
      (rule) =>
        rule.error !== undefined
          ? html`<tr><td>${rule.ruleId}</td><td>${rule.file}</td><td>${badge(rule.reason)}</td><td class="error-text">${rule.error}</td></tr>`
          : html`<tr><td>${rule.ruleId}</td><td>${rule.file}</td><td>${badge(rule.reason)}</td><td class="false-parts">${rule.falseParts && rule.falseParts.length > 0 ? describeFalseParts(rule.falseParts) : ''}</td></tr>`,
    ),
  ];
  return html`<div class="run">
<h4>${title} <span class="muted">at ${formatTime(run.at)}</span>${run.quarantined ? html` ${badge('quarantined')}` : ''}</h4>
${
  rules.length > 0
    ? html`<table class="grid rules"><thead><tr><th>rule</th><th>file</th><th>outcome</th><th>why</th></tr></thead><tbody>${rules}</tbody></table>`
    : html`<p class="empty">${run.quarantined && run.generation === 0 ? 'Quarantined: no rule was evaluated.' : 'No rule listens to this event type.'}</p>`
}
${
  run.failures.length > 0
    ? html`<p><strong>Could not plan:</strong></p><ul class="plain">${run.failures.map(
        (failure) => html`<li><code>${failure.ruleId}</code> ${failure.action}: <span class="error-text">${failure.error}</span></li>`,
      )}</ul><p class="advice">A retry would fail the same way: fix the rule, then replay the event (Replay with current rules, above).</p>`
    : ''
}
${renderSuppressed(run.suppressed ?? [])}
${renderGrouped(run.grouped ?? [])}
${run.warnings.length > 0 ? html`<p><strong>Warnings:</strong></p><ul class="plain">${run.warnings.map((warning) => html`<li>${warning}</li>`)}</ul>` : ''}
</div>`;
}

/** Actions added to a digest (Slack's `group:`), each with the digest (its action job) that carries it. */
function renderGrouped(grouped: readonly TraceGrouped[]): SafeHtml | '' {
  if (grouped.length === 0) return '';
  return html`<p><strong>Grouped into a digest</strong> <span class="muted">(sent as one message with the other messages of its group)</span>:</p><ul class="plain grouped">${grouped.map(
    (entry) => html`<li><code>${entry.ruleId}</code> ${entry.action}: carried by digest <code>${entry.digest}</code></li>`,
  )}</ul>`;
}

/** Actions a throttle key (throttle or once_per) held elsewhere kept from being sent, each linked to the holding event's trace. */
function renderSuppressed(suppressed: readonly TraceSuppressed[]): SafeHtml | '' {
  if (suppressed.length === 0) return '';
  return html`<p><strong>Suppressed by a throttle</strong> <span class="muted">(not sent: an earlier event holds the key; a replay sends it)</span>:</p><ul class="plain suppressed">${suppressed.map(
    (entry) => html`<li><code>${entry.ruleId}</code> ${entry.action}: key <code>${entry.key}</code> held by ${eventLink(entry.heldBy)}</li>`,
  )}</ul>`;
}

function renderActions(actions: readonly ActionStatus[], eventId: string): SafeHtml {
  if (actions.length === 0) return html`<p class="empty">No actions were planned.</p>`;
  return html`<table class="grid" id="actions-table">
<thead><tr><th>job</th><th>action</th><th>rule</th><th>state</th><th class="num">attempts</th><th>rendered params</th><th>attempts, error, result</th><th></th></tr></thead>
<tbody>${actions.map(
    (action) => html`<tr data-job-id="${action.jobId}">
<td><code>${action.jobId}</code></td>
<td>${action.action}</td>
<td>${action.ruleId}</td>
<td class="js-state">${badge(action.status)}${action.status === DRY_RUN_STATUS ? html` <span class="muted">nothing sent: no credentials</span>` : ''}</td>
<td class="num">${action.attemptsMade}</td>
<td>${prettyJson(action.params)}</td>
<td>${action.history.length > 0 ? html`<ol class="history">${action.history.map((line) => html`<li>${line}</li>`)}</ol>` : ''}${
      action.error ? html`<p class="error-text">${action.error}</p>` : ''
    }${action.result ? prettyJson(action.result) : ''}</td>
<td>${action.state !== 'failed' ? '' : canRetrySucceed(action) ? retryButton(action.jobId, eventId) : renderPlanFailureAdvice(eventId)}</td>
</tr>`,
  )}</tbody>
</table>`;
}

function renderTrace(lookup: NonNullable<DashboardView['lookup']>): SafeHtml {
  const { eventId, detail } = lookup;
  if (!detail) {
    return html`<div id="trace"><p class="empty">No stored event <code>${eventId}</code> (unknown id, not processed yet, or older than DEDUP_TTL).</p></div>`;
  }
  const { event, runs } = detail.trace;
  return html`<div id="trace">
<div class="section-head"><h3>Event <code>${event.id}</code></h3>
${postButton('Replay with current rules', `/admin/api/events/${encodeURIComponent(event.id)}/replay`, { eventId: event.id })}</div>
<dl class="meta">
<dt>type</dt><dd>${event.type}</dd>
<dt>source</dt><dd>${event.source} <span class="muted">(provider type ${event.providerType})</span></dd>
<dt>status</dt><dd>${badge(event.status)}</dd>
<dt>occurred</dt><dd>${formatTime(event.occurredAt)}</dd>
<dt>received</dt><dd>${formatTime(event.receivedAt)}</dd>
${
  event.validationErrors && event.validationErrors.length > 0
    ? html`<dt>validation errors</dt><dd><ul class="plain">${event.validationErrors.map((problem) => html`<li>${problem}</li>`)}</ul></dd>`
    : ''
}
${event.conflict ? html`<dt>duplicate of</dt><dd>${eventLink(event.conflict.eventId)} <span class="muted">(claimed type ${event.conflict.claimedType}, another body)</span></dd>` : ''}
${
  detail.conflictingDuplicates && detail.conflictingDuplicates.length > 0
    ? html`<dt>conflicting duplicates</dt><dd><span class="muted">Deliveries of this id with another body, stored apart:</span><ul class="plain" id="conflicting-duplicates">${detail.conflictingDuplicates.map((id) => html`<li>${eventLink(id)}</li>`)}</ul></dd>`
    : ''
}
</dl>
<details class="payload" open><summary>Payload <span class="muted">(secrets stripped)</span></summary>${prettyJson(event.data)}${
    event.envelope ? html`<p class="muted">Envelope</p>${prettyJson(event.envelope)}` : ''
  }</details>
<h3>Rules</h3>
${runs.map((run) => renderRun(run))}
<h3>Actions</h3>
${renderActions(detail.actions, event.id)}
</div>`;
}

function renderLookup(lookup: DashboardView['lookup']): SafeHtml {
  return html`<section id="lookup">
<h2>Event trace</h2>
<form method="get" action="/admin" class="lookup">
<label for="event-id">Event id</label>
<input id="event-id" name="event" type="search" placeholder="${EXAMPLE_EVENT_ID}" value="${lookup?.eventId ?? ''}" spellcheck="false">
<button type="submit">Show trace</button>
</form>
${lookup ? renderTrace(lookup) : ''}
</section>`;
}

/** One row of the events list and of a search's results; `data-event-id` lets the live tail mark new rows. */
function renderEventRow(event: RecentEventSummary): SafeHtml {
  const { id, email, name } = event.promoter;
  const promoter = [name, email].filter((part) => part !== null).join(' · ') || id;
  return html`<tr data-event-id="${event.eventId}"><td>${eventLink(event.eventId)}</td><td>${event.type ?? '—'}</td><td>${
    event.status ? badge(event.status) : html`<span class="muted">expired</span>`
  }</td><td class="matched-rules">${
    event.matchedRules.length > 0 ? html`<ul class="plain">${event.matchedRules.map((ruleId) => html`<li><code>${ruleId}</code></li>`)}</ul>` : html`<span class="muted">none</span>`
  }</td><td>${event.email ?? ''}</td><td>${promoter ?? ''}</td><td class="nowrap">${formatTime(event.receivedAt)}</td></tr>`;
}

function renderEventTable(events: readonly RecentEventSummary[], id: string): SafeHtml {
  return html`<table class="grid" id="${id}">
<thead><tr><th>event</th><th>type</th><th>status</th><th>matched rules</th><th>lead</th><th>promoter</th><th>received</th></tr></thead>
<tbody>${events.map(renderEventRow)}</tbody>
</table>`;
}

/** The newest events, refreshed in place by the dashboard's script: the live tail. */
function renderRecentList(recent: readonly RecentEventSummary[]): SafeHtml {
  return html`<div id="recent-list" data-live="recent">${
    recent.length === 0 ? html`<p class="empty">No events yet.</p>` : renderEventTable(recent, 'recent-table')
  }</div>`;
}

/** The sentence above a search's results: how many, and how far back it looked. */
export function describeSearchResult(result: EventSearchResult, cap: number): string {
  const matches = `${result.events.length} match${result.events.length === 1 ? '' : 'es'}`;
  const searched = `searched the newest ${result.searched} event${result.searched === 1 ? '' : 's'}`;
  return result.isCapped
    ? `First ${cap} match${cap === 1 ? '' : 'es'}, newest first: ${searched}; older events may match too (narrow the search).`
    : `${matches}: ${searched}.`;
}

function renderSearchOutcome(search: EventSearchView): SafeHtml {
  if ('error' in search.outcome) return html`<p class="error" role="alert" id="search-summary">${search.outcome.error}</p>`;
  const { result, cap } = search.outcome;
  return html`<p class="search-summary" id="search-summary">${describeSearchResult(result, cap)} <a href="/admin#recent">Back to the live list</a></p>
${result.events.length > 0 ? renderEventTable(result.events, 'search-table') : html`<p class="empty">No event matches.</p>`}`;
}

function renderEvents(recent: readonly RecentEventSummary[], search: EventSearchView | null): SafeHtml {
  const terms = search?.terms ?? {};
  return html`<section id="recent">
<h2>${search ? 'Events: search' : 'Recent events'}</h2>
<form method="get" action="/admin#recent" class="search" id="event-search">
${EVENT_SEARCH_FIELDS.map(
    (field) => html`<label>${SEARCH_FIELD_LABELS[field].label} <input name="${field}" type="search" value="${terms[field] ?? ''}" placeholder="${SEARCH_FIELD_LABELS[field].example}" spellcheck="false"></label>`,
  )}
<button type="submit">Search</button>
</form>
<p class="muted">Searches the newest events the dashboard indexes (10,000 at most), newest first; every filled field must match. Email, promoter email and name match any part, any case; ids and rules match whole; a rule finds the events it was evaluated on, matched or not.</p>
${search ? renderSearchOutcome(search) : renderRecentList(recent)}
</section>`;
}

/**
 * Rule files that do not load: at the top, since until they are fixed the bridge runs older rules
 * than the files say. Each problem as `check` prints it (`file:line:col: message`).
 */
function renderRuleProblems(problems: readonly RuleProblem[]): SafeHtml {
  if (problems.length === 0) return html`<div data-live="rule-files" hidden></div>`;
  return html`<section id="rule-files" class="problems" data-live="rule-files" role="alert">
<h2>Rule files do not load <span class="count">${problems.length}</span></h2>
<p>The last good rules stay live; the edit is not applied until the files load. <code>affiliate-bridge check</code> lists the same problems.</p>
<ul class="plain problem-list">${problems.map((problem) => html`<li><code>${formatProblem(problem)}</code></li>`)}</ul>
</section>`;
}

/**
 * The page's live parts, each as the page renders it, by its `data-live` name: what
 * `GET /admin/api/live` sends and the script swaps in. One renderer for the page and its
 * refreshes, so both escape alike.
 */
export function renderLiveSections(view: LiveView): Record<string, string> {
  return {
    'rule-files': renderRuleProblems(view.ruleProblems).value,
    queues: renderQueues(view.overview).value,
    'dead-letters': renderFailed(view.failed).value,
    'failed-events': renderFailedEvents(view.failedEvents).value,
    recent: renderRecentList(view.recent).value,
  };
}

/** The dashboard page. Every value from Redis (payloads, errors, ids) goes through `html`, so it is escaped. */
export function renderDashboardPage(view: DashboardView): string {
  return layout(
    view.lookup ? `${view.lookup.eventId} · affiliate-bridge admin` : 'affiliate-bridge admin',
    html`${renderRuleProblems(view.ruleProblems ?? [])}
${renderQueues(view.overview)}
${renderLookup(view.lookup)}
${renderFailed(view.failed)}
${renderFailedEvents(view.failedEvents ?? [])}
${renderQuarantined(view.quarantined)}
${renderRuleErrors(view.ruleErrors ?? [])}
${renderEvents(view.recent, view.search ?? null)}`,
    { signedIn: true },
  );
}
