import { expect } from 'chai';
import { startDeadline } from '../../../src/infra/deadline.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('startDeadline', () => {
  it('aborts at its deadline with a TimeoutError, as AbortSignal.timeout does', async () => {
    const deadline = startDeadline(20);
    expect(deadline.signal.aborted).to.equal(false);
    await sleep(40);
    expect(deadline.signal.aborted).to.equal(true);
    expect((deadline.signal.reason as DOMException).name).to.equal('TimeoutError');
    expect(deadline.isTimedOut()).to.equal(true);
    deadline.release();
  });

  it("aborts with its parent, carrying the parent's reason, and is then not timed out", async () => {
    const parent = new AbortController();
    const deadline = startDeadline(10_000, parent.signal);
    const reason = new Error('shutting down');
    parent.abort(reason);
    expect(deadline.signal.aborted).to.equal(true);
    expect(deadline.signal.reason).to.equal(reason);
    expect(deadline.isTimedOut()).to.equal(false);
    deadline.release();
  });

  it('starts aborted under a parent that already is', () => {
    const parent = new AbortController();
    parent.abort('gone');
    const deadline = startDeadline(10_000, parent.signal);
    expect(deadline.signal.aborted).to.equal(true);
    expect(deadline.signal.reason).to.equal('gone');
    deadline.release();
  });

  it('once released, neither its timer nor its parent aborts it', async () => {
    const parent = new AbortController();
    const deadline = startDeadline(20, parent.signal);
    deadline.release();
    parent.abort();
    await sleep(40);
    expect(deadline.signal.aborted).to.equal(false);
    expect(deadline.isTimedOut()).to.equal(false);
  });
});
