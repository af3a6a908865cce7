import { Router, type Response } from 'express';
import { NotFoundError, StateConflictError } from '../../errors.js';
import type { Logger } from 'pino';
import { describeMissingEvent, type BridgeOperations } from '../../queue/operations.js';
import { loadEventDetail, loadLiveView, loadOverview, parseLimit } from './admin-data.js';
import { describeSearchResult, renderLiveSections } from './admin-pages.js';
import { compileEventSearch, SEARCH_RESULTS_CAP } from '../../queue/event-search.js';
import { formatProblem } from '../../rules/problems.js';

/** Options of {@link createAdminApiRouter}. */
export interface AdminApiOptions {
  /** What the API reads and does: failed actions, quarantined events, traces, retries and replays. */
  readonly operations: BridgeOperations;
  /** Where every retry and replay an operator asks for is logged. */
  readonly logger: Logger;
  /** The clock of the overview: its events of the last 5 and 60 minutes, and its `generatedAt`. */
  readonly now: () => Date;
  /** The integrations whose pause state the overview shows. @defaultValue none */
  readonly integrations?: readonly string[];
  /** The sources reconciled from their APIs, whose last success the overview shows. @defaultValue none */
  readonly reconciledSources?: readonly string[];
}

/** Answers an operator error with 404 or 409 and its sentence; false for any other error. */
function answerOperationError(error: unknown, response: Response): boolean {
  if (!(error instanceof NotFoundError) && !(error instanceof StateConflictError)) return false;
  response.status(error instanceof NotFoundError ? 404 : 409).json({ error: error.message });
  return true;
}

/**
 * The dashboard's JSON API, mounted at /admin/api behind the admin authentication (and, for the
 * POSTs, the same-origin check). Handy for scripts too: `curl -H "Authorization: Bearer $ADMIN_TOKEN"`.
 * Errors are `{ "error": "<sentence>" }` with 404 (unknown id) or 409 (wrong state).
 */
export function createAdminApiRouter(options: AdminApiOptions): Router {
  const { operations, logger } = options;
  const router = Router();

  router.get('/overview', async (_request, response) => {
    response.json(await loadOverview(operations, options.now(), options.integrations, options.reconciledSources));
  });

  /**
   * What the page's script refreshes every few seconds: the overview, dead letters, failed event
   * jobs, newest events and rule-file problems as data, and each live part of the page rendered
   * by the page's own functions (`sections`, by their `data-live` name), so the script only swaps
   * them in and never builds markup from data.
   */
  router.get('/live', async (_request, response) => {
    const view = await loadLiveView(operations, {
      now: options.now(), integrations: options.integrations, reconciledSources: options.reconciledSources,
    });
    response.json({
      overview: view.overview,
      failed: view.failed,
      failedEvents: view.failedEvents,
      events: view.recent,
      ruleProblems: view.ruleProblems.map((problem) => ({ ...problem, text: formatProblem(problem) })),
      sections: renderLiveSections(view),
    });
  });

  router.get('/failed', async (request, response) => {
    response.json({ failed: await operations.listFailedActions(parseLimit(request.query.limit, 100, 1000)) });
  });

  // Before `/failed/:jobId/retry`, so "retry-all" is never read as a job id.
  router.post('/failed/retry-all', async (_request, response) => {
    const retried = await operations.retryAllFailedActions();
    logger.info({ retried }, 'admin: retried every failed action');
    response.status(202).json({ retried, message: `Retried ${retried} failed action(s).` });
  });

  router.post('/failed/:jobId/retry', async (request, response) => {
    const { jobId } = request.params;
    try {
      await operations.retryAction(jobId);
    } catch (error) {
      if (answerOperationError(error, response)) return;
      throw error;
    }
    logger.info({ jobId }, 'admin: action retried');
    response.status(202).json({ retried: jobId, message: `Retrying ${jobId}.` });
  });

  router.get('/failed-events', async (request, response) => {
    response.json({ failed: await operations.listFailedEvents(parseLimit(request.query.limit, 100, 1000)) });
  });

  // Before `/failed-events/:jobId/retry`, so "retry-all" is never read as a job id.
  router.post('/failed-events/retry-all', async (_request, response) => {
    const retried = await operations.retryAllFailedEvents();
    logger.info({ retried }, 'admin: retried every failed event job');
    response.status(202).json({ retried, message: `Retried ${retried} failed event job(s).` });
  });

  router.post('/failed-events/:jobId/retry', async (request, response) => {
    const { jobId } = request.params;
    try {
      await operations.retryEvent(jobId);
    } catch (error) {
      if (answerOperationError(error, response)) return;
      throw error;
    }
    logger.info({ jobId }, 'admin: event job retried');
    response.status(202).json({ retried: jobId, message: `Retrying ${jobId}.` });
  });

  router.get('/quarantined', async (request, response) => {
    response.json({ quarantined: await operations.listQuarantinedEvents(parseLimit(request.query.limit, 100, 1000)) });
  });

  // Before `/events/:eventId`, so "recent" is never read as an event id.
  router.get('/events/recent', async (request, response) => {
    response.json({ events: await operations.listRecentEvents(parseLimit(request.query.limit, 50, 500)) });
  });

  // Before `/events/:eventId`, so "search" is never read as an event id.
  router.get('/events/search', async (request, response) => {
    const compiled = compileEventSearch(request.query as Record<string, unknown>);
    if ('error' in compiled) {
      response.status(400).json({ error: compiled.error });
      return;
    }
    const cap = parseLimit(request.query.limit, SEARCH_RESULTS_CAP, 500);
    const result = await operations.searchEvents(compiled, cap);
    response.json({ ...result, summary: describeSearchResult(result, cap) });
  });

  router.get('/events/:eventId', async (request, response) => {
    const { eventId } = request.params;
    const detail = await loadEventDetail(operations, eventId);
    if (!detail) {
      response.status(404).json({ error: describeMissingEvent(eventId) });
      return;
    }
    response.json({ ...detail.trace, actions: detail.actions, conflictingDuplicates: detail.conflictingDuplicates ?? [] });
  });

  router.post('/events/:eventId/replay', async (request, response) => {
    const { eventId } = request.params;
    let generation: number;
    try {
      generation = await operations.replayEvent(eventId);
    } catch (error) {
      if (answerOperationError(error, response)) return;
      throw error;
    }
    logger.info({ eventId, generation }, 'admin: event replayed');
    response.status(202).json({ eventId, generation, message: `Replaying ${eventId} with the current rules (replay ${generation}).` });
  });

  return router;
}
