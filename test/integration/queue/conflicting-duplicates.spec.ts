import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import type { Queue } from 'bullmq';
import type { BridgeEvent } from '../../../src/events/event.js';
import type { ActionJobData } from '../../../src/queue/action-job.js';
import { EventIntake, type EventsQueueJobData } from '../../../src/queue/event-intake.js';
import { BridgeOperations } from '../../../src/queue/operations.js';
import { sourceRegistry } from '../../../src/sources/registry.js';
import { waitFor } from '../../support/redis.js';
import { startEventsStack, type EventsStack } from '../../support/events-stack.js';

const RULES = `rules:
  - id: fraud-alert
    on: firstpromoter.lead_signup
    if: data.suspicion != "no_suspicion"
    do:
      - slack.post_message: { channel: "#fraud", text: "fraud {{ data.email }}" }
  - id: id-squatting-alert
    on: firstpromoter.conflicting_duplicate
    if: event.status == "quarantined"
    do:
      - slack.post_message: { channel: "#security", text: "{{ event.conflict.eventId }} ({{ event.conflict.claimedType }}) delivered again with another body" }
`;

const delivery = JSON.parse(readFileSync(new URL('../../fixtures/deliveries/firstpromoter/lead_signup.json', import.meta.url), 'utf8'));
const normalize = (body: Record<string, unknown>): BridgeEvent =>
  sourceRegistry.firstpromoter.normalize(body, { receivedAt: new Date(), strippedFields: ['auth_token', 'temp_password'] });

/**
 * Id squatting: junk sent first under an upcoming id must not suppress the genuine event. Intake and
 * events worker on real Redis, real rules.
 */
describe('conflicting duplicates: stored apart, listed, traced and alertable (real Redis)', () => {
  let stack: EventsStack;
  let events: Queue<EventsQueueJobData>;
  let actions: Queue<ActionJobData>;
  let operations: BridgeOperations;

  beforeEach(() => {
    stack = startEventsStack({ label: 'conflicts', rules: { file: 'rules/fraud.yaml', content: RULES }, traceTtlMs: 60_000 });
    ({ events, actions, operations } = stack);
  });

  afterEach(() => stack.stop());

  it('plans the genuine delivery that follows a squatter under its id as an alertable conflicting duplicate, and shows it in the first trace', async () => {
    const intake = new EventIntake({ queue: events, dedupTtlMs: 60_000 });
    const junk = normalize({ ...delivery, data: { ...delivery.data, email: 'junk@example.com' } });
    const genuine = normalize({ ...delivery, data: { ...delivery.data, suspicion: 'self_referral' } });
    expect(await intake.store(junk)).to.equal('stored');
    expect(await intake.store(genuine)).to.equal('conflicting_duplicate');
    const conflictId = `${genuine.id}.conflict-`;
    // Both planned: a planned event job is removed, its trace kept.
    await waitFor(async () => (await events.getJobCountByTypes('waiting', 'active', 'delayed')) === 0);

    const jobs = await actions.getJobs(['waiting']);
    expect(jobs.map((job) => job.data.params)).to.deep.equal([
      { channel: '#security', text: 'firstpromoter-22736304 (firstpromoter.lead_signup) delivered again with another body' },
    ]);
    expect(jobs[0].data.provenance.eventId.startsWith(conflictId)).to.equal(true);

    const conflicts = await operations.listConflictingDuplicates(genuine.id);
    expect(conflicts).to.have.length(1);
    expect(conflicts[0].startsWith(conflictId)).to.equal(true);
    const quarantined = await operations.listQuarantinedEvents();
    expect(quarantined.map((entry) => [entry.eventId, entry.type])).to.deep.equal([[conflicts[0], 'firstpromoter.conflicting_duplicate']]);
    // The genuine payload is kept whole: an operator can see it and act on it.
    const trace = (await operations.getEventTrace(conflicts[0]))!;
    expect(trace.event.data.suspicion).to.equal('self_referral');
    expect(trace.runs[0]).to.deep.include({ quarantined: true });
    expect(trace.runs[0].matched.map((rule) => rule.ruleId)).to.deep.equal(['id-squatting-alert']);
  });
});
